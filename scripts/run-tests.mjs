#!/usr/bin/env node
/**
 * `npm test`: every unit and integration test against one local Kafka + schema registry. When
 * KAFKA_BROKERS and SCHEMA_REGISTRY_URL are set, that stack is used as it is; otherwise the
 * stack of this checkout (scripts/stack) is started once for the whole run, or reused when it
 * is already up, and whatever this run started is stopped at the end, however the tests end.
 * The file that needs the secured stack (test/integration/secure-stack.test.ts) starts that one
 * itself through test/helpers/secure-stack.ts, or uses the one SECURE_SKEWLESS_CONFIG names.
 * SKEWLESS_* settings of the developer's shell are not passed on: they would point the tests of
 * the plain stack at another cluster or protocol.
 * Arguments, if any, replace the default list of test files.
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ensureStack, ROOT } from './stack/stack.mjs';

const withoutClientSettings = (env) => Object.fromEntries(Object.entries(env).filter(([k]) => !k.startsWith('SKEWLESS_')));
const files = process.argv.slice(2);
const list = files.length > 0 ? files : ['test/unit', 'test/integration'].flatMap((d) => readdirSync(join(ROOT, d)).filter((f) => f.endsWith('.test.ts')).sort().map((f) => `${d}/${f}`));
const t0 = Date.now();
const stack = await ensureStack({ log: (m) => process.stderr.write(`[stack] ${m}\n`) });
let code = 1;
try {
  const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...list], {
    cwd: ROOT,
    stdio: 'inherit',
    env: { ...withoutClientSettings(process.env), KAFKA_BROKERS: stack.brokers, SCHEMA_REGISTRY_URL: stack.registryUrl },
  });
  const stop = (sig) => child.kill(sig);
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  code = await new Promise((resolve) => child.on('exit', (c, s) => resolve(c ?? (s ? 1 : 0))));
} finally {
  if (stack.startedHere) await stack.stop();
  process.stderr.write(`[tests] ${list.length} files in ${((Date.now() - t0) / 1000).toFixed(0)} s (${relative(process.cwd(), ROOT) || '.'})\n`);
}
process.exit(code);
