/**
 * Conformance with Apache Avro Java's SchemaCompatibility, the registry's ground truth: every
 * case of test/fixtures/avro-conformance-cases.ts (pairs from Avro's Java test suite, the Avro
 * specification and Confluent's AvroCompatibilityTest, each citing its source) gets Avro
 * Java's verdict from checkCompatibility, and the strict decimal verdict with strictDecimals.
 * test/integration/schemas-registry.test.ts asks the live registry the same cases.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkCompatibility, COMPATIBILITY_RULES } from '../../src/schemas/compatibility-rules.js';
import { CONFORMANCE_CASES } from '../fixtures/avro-conformance-cases.js';

test('at least 30 cases, each with a source, covering every area the rules have', () => {
  assert.ok(CONFORMANCE_CASES.length >= 30, `${CONFORMANCE_CASES.length} cases`);
  assert.equal(new Set(CONFORMANCE_CASES.map((c) => c.name)).size, CONFORMANCE_CASES.length, 'case names are unique');
  for (const c of CONFORMANCE_CASES) assert.match(c.source, /^(apache\/avro|confluentinc\/schema-registry) \S+/, c.name);
  const text = JSON.stringify(CONFORMANCE_CASES);
  for (const needle of ['"aliases"', '"namespace"', '"decimal"', '[]', '"default"', '"fixed"', '"enum"']) assert.ok(text.includes(needle), needle);
  assert.ok(CONFORMANCE_CASES.some((c) => c.compatible) && CONFORMANCE_CASES.some((c) => !c.compatible), 'both verdicts');
});

for (const c of CONFORMANCE_CASES) {
  test(`${c.compatible ? 'compatible' : 'incompatible'}: ${c.name}`, () => {
    const problems = checkCompatibility(c.reader, c.writer);
    assert.equal(problems.length === 0, c.compatible, `${c.source}\n${JSON.stringify(problems.map((p) => `${p.path}: ${p.rule} — ${p.message}`))}`);
    for (const p of problems) {
      assert.ok(COMPATIBILITY_RULES.includes(p.rule), p.rule);
      assert.ok(p.message.length > 0 && p.fix.length > 0, 'a message and a fix');
    }
    const strict = checkCompatibility(c.reader, c.writer, { strictDecimals: true });
    assert.equal(strict.length === 0, c.strict ?? c.compatible, `strictDecimals: ${JSON.stringify(strict.map((p) => p.rule))}`);
  });
}

test('the problems name what to do: a qualified alias for a moved type, a branch for an empty union, the decimal rule only when strict', () => {
  const point = (name: string, extra: Record<string, unknown> = {}): object => ({ type: 'record', name, ...extra, fields: [{ name: 'x', type: 'int' }] });
  const [moved] = checkCompatibility(point('New', { namespace: 'b', aliases: ['Old'] }) as never, point('Old', { namespace: 'a' }) as never);
  assert.equal(moved.rule, 'named-type-renamed');
  assert.match(moved.message, /record b\.New .* record a\.Old/);
  assert.match(moved.message, /an alias without namespace is in b\.New's namespace/);
  assert.match(moved.fix, /"aliases": \["a\.Old"\]/);

  const rec = (type: unknown): object => ({ type: 'record', name: 'R', fields: [{ name: 'v', type }] });
  const [empty] = checkCompatibility(rec([]) as never, rec('int') as never);
  assert.deepEqual([empty.path, empty.rule], ['v', 'union-empty']);
  assert.match(empty.message, /empty union \[\] at "v", which reads nothing, but the old schema \(writer\) writes int/);
  assert.match(empty.fix, /\["null", "int"\]/);
  // In a writer union: the branch is named in the path; the forward wording speaks of the new writer.
  const [branch] = checkCompatibility(rec([]) as never, rec(['null', 'int']) as never, { readerRole: 'old' });
  assert.deepEqual([branch.path, branch.rule], ['v|branch:null', 'union-empty']);
  assert.match(branch.message, /the old schema \(reader\) has an empty union \[\] at "v"/);

  const dec = (precision: number, scale: number): object => rec({ type: 'bytes', logicalType: 'decimal', precision, scale });
  assert.deepEqual(checkCompatibility(dec(6, 1) as never, dec(4, 2) as never), []);
  assert.deepEqual(
    checkCompatibility(dec(6, 1) as never, dec(4, 2) as never, { strictDecimals: true }).map((p) => [p.path, p.rule]),
    [['v', 'decimal-precision-changed'], ['v', 'decimal-scale-changed']],
  );
});
