#!/usr/bin/env node
// Stop the local stack started by up.mjs / ensureStack(). `--wipe` also deletes .stack/data and .stack/logs
// (downloaded artifacts in .stack/kafka/libs and .stack/apicurio stay). `--secure` stops the secured stack
// (`up.mjs --secure`) instead; with `--wipe` its certificates and passwords go too.
import { stopStack } from './stack.mjs';

const args = process.argv.slice(2);
const bad = args.filter((a) => a !== '--wipe' && a !== '--secure');
if (bad.length) {
  process.stderr.write(`usage: node scripts/stack/down.mjs [--secure] [--wipe]\n`);
  process.exit(2);
}
try {
  await stopStack({ wipe: args.includes('--wipe'), secure: args.includes('--secure') });
} catch (e) {
  process.stderr.write(`[stack] FAILED: ${e.message}\n`);
  process.exit(1);
}
