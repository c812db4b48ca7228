#!/usr/bin/env node
// Start (or verify) the local Kafka + schema registry stack. Progress goes to stderr; stdout gets one line:
//   KAFKA_BROKERS=127.0.0.1:19092 SCHEMA_REGISTRY_URL=http://127.0.0.1:18081/apis/ccompat/v7
// so `export $(node scripts/stack/up.mjs)` works.
import { ensureStack } from './stack.mjs';

const t0 = Date.now();
try {
  const s = await ensureStack();
  const how = s.startedHere ? 'started' : 'already running';
  process.stderr.write(`[stack] ${how}; ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  process.stdout.write(`KAFKA_BROKERS=${s.brokers} SCHEMA_REGISTRY_URL=${s.registryUrl}\n`);
} catch (e) {
  process.stderr.write(`[stack] FAILED: ${e.message}\n`);
  process.exit(1);
}
