#!/usr/bin/env node
// Start (or verify) the local Kafka + schema registry stack. Progress goes to stderr; stdout gets one line:
//   KAFKA_BROKERS=127.0.0.1:19092 SCHEMA_REGISTRY_URL=http://127.0.0.1:18081/apis/ccompat/v7
// so `export $(node scripts/stack/up.mjs)` works. `--secure` starts the secured stack instead and adds
// SKEWLESS_CONFIG=<its client configuration file> (the endpoints hold no secret; the file does).
import { ensureStack, envLine } from './stack.mjs';

const args = process.argv.slice(2);
if (args.some((a) => a !== '--secure')) {
  process.stderr.write('usage: node scripts/stack/up.mjs [--secure]\n');
  process.exit(2);
}
const t0 = Date.now();
try {
  const s = await ensureStack({ secure: args.includes('--secure') });
  const how = s.startedHere ? 'started' : 'already running';
  process.stderr.write(`[stack] ${how}; ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  process.stdout.write(`${Object.entries(envLine(s)).map(([k, v]) => `${k}=${v}`).join(' ')}\n`);
} catch (e) {
  process.stderr.write(`[stack] FAILED: ${e.message}\n`);
  process.exit(1);
}
