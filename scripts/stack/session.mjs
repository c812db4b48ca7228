#!/usr/bin/env node
// ensureStack() for a parent process that must not import this folder (src/cli/local-stack.ts:
// nothing in src/ imports scripts/). stdout carries JSON lines, in order: {"log":"..."} for each
// progress message, then {"brokers":"...","registryUrl":"...","startedHere":true} or {"error":"..."}
// (also when stopping fails).
// When this call started part of the stack, it then waits: a line `stop` on stdin stops what it
// started (stack.stop(), its messages as {"log":...} lines) and exits; end of stdin exits and
// leaves the stack running.
import { createInterface } from 'node:readline';
import { ensureStack } from './stack.mjs';

const send = (message) => process.stdout.write(`${JSON.stringify(message)}\n`);

let stack;
try {
  stack = await ensureStack({ log: (msg) => send({ log: msg }) });
} catch (e) {
  send({ error: e.message });
  process.exit(1);
}
send({ brokers: stack.brokers, registryUrl: stack.registryUrl, startedHere: stack.startedHere });
if (stack.startedHere) {
  for await (const line of createInterface({ input: process.stdin })) {
    if (line.trim() === 'stop') {
      try {
        await stack.stop();
      } catch (e) {
        send({ error: e.message });
        process.exit(1);
      }
      break;
    }
  }
}
process.exit(0);
