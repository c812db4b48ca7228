#!/usr/bin/env node
// Stop the local stack started by up.mjs / ensureStack(). `--wipe` also deletes .stack/data and .stack/logs
// (downloaded artifacts in .stack/kafka/libs and .stack/apicurio stay).
import { stopStack } from './stack.mjs';

const args = process.argv.slice(2);
const bad = args.filter((a) => a !== '--wipe');
if (bad.length) {
  process.stderr.write(`usage: node scripts/stack/down.mjs [--wipe]\n`);
  process.exit(2);
}
try {
  await stopStack({ wipe: args.includes('--wipe') });
} catch (e) {
  process.stderr.write(`[stack] FAILED: ${e.message}\n`);
  process.exit(1);
}
