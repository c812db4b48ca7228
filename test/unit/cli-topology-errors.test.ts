/**
 * Topology mistakes stop `plan` (and so backfill, run and bootstrap, which load topologies the
 * same way) with one clear message: a syntax error with file:line:column, a source without a
 * schema, and functions reading fields the schema lacks or has with an unusable type (which
 * used to run and give null or 0.0 in every row).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const files: string[] = [];
test.after(() => {
  for (const f of files) rmSync(f, { force: true });
});

function topologyFile(body: string): string {
  const file = join(ROOT, 'topologies', `.test-${randomUUID().slice(0, 8)}.ts`);
  writeFileSync(file, `import { topology } from '../src/dsl/index.js';\nimport type { CardTransaction } from '../src/gen/card-transactions.js';\n${body}\n`);
  files.push(file);
  return file;
}

function skewless(args: string[]): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'skewless.mjs'), ...args], { cwd: ROOT, encoding: 'utf8' });
  return { status: r.status, stderr: r.stderr };
}

const source = `t.source<CardTransaction>('transactions', { schema: '../schemas/card_transaction.avsc', key: (x) => x.card_id, eventTime: (x) => x.event_time })`;

test('a syntax error names file:line:column and the message', () => {
  const f = topologyFile(`export default topology('x', (t) => {\n  const s = ${source};\n  s.features('f', { n: s.groupBy('card', (x) => x.card_id).lookback('1h').count() ;\n  return {};\n});`);
  const r = skewless(['plan', f]);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, new RegExp(`cannot load topology .*: .*\\.test-\\w+\\.ts:5:\\d+: ERROR: Expected "}" but found ";"`));
});

test('a source without a schema says so', () => {
  const f = topologyFile(`export default topology('x', (t) => {\n  const s = t.source<CardTransaction>('transactions', { key: (x) => x.card_id, eventTime: (x) => x.event_time } as never);\n  s.features('f', { n: s.groupBy('card', (x) => x.card_id).lookback('1h').count() });\n  return {};\n});`);
  const r = skewless(['plan', f]);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /source "transactions" has no schema: add schema: '<path of its \.avsc/);
});

test('a mean over a string field and a sum over a missing field are refused before anything runs', () => {
  const f = topologyFile(
    `export default topology('x', (t) => {\n  const s = ${source};\n  const card = s.groupBy('card', (x) => x.card_id);\n` +
      `  s.features('f', { m: card.lookback('1h').mean((x) => x.currency as unknown as number), d: card.lookback('1h').sum((x) => (x as unknown as { duration: number }).duration) });\n  return {};\n});`,
  );
  const r = skewless(['plan', f]);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /reads fields its source schemas cannot give \(2 problems\)/);
  assert.match(r.stderr, /transactions\.currency: topology-field-not-numeric/);
  assert.match(r.stderr, /transactions\.duration: topology-field-missing/);
});
