/**
 * Compatibility levels: which pairs each level checks, and the problems tagged with the
 * version and direction they come from.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type avro from 'avsc';
import {
  checkAgainstLevel,
  COMPATIBILITY_LEVELS,
  pairsToCheck,
  parseCompatibilityLevel,
  type LevelProblem,
  type SchemaVersion,
} from '../../src/schemas/compatibility-level.js';

const rec = (fields: unknown[]): avro.Schema => ({ type: 'record', name: 'Payment', fields }) as avro.Schema;

// v1 → v2 → v3: each step is BACKWARD and FORWARD compatible with the one before.
const v1 = rec([{ name: 'id', type: 'string' }]);
const v2 = rec([{ name: 'id', type: 'string' }, { name: 'note', type: 'string', default: '' }]);
const v3 = rec([{ name: 'id', type: 'string' }, { name: 'note', type: 'string', default: '' }, { name: 'amount', type: 'double', default: 0 }]);
const versions: SchemaVersion[] = [
  { version: 1, schema: v1 },
  { version: 2, schema: v2 },
  { version: 3, schema: v3 },
];

const brief = (ps: readonly LevelProblem[]): string[] => ps.map((p) => `v${p.version} ${p.direction} ${p.path}: ${p.rule}`);

test('pairsToCheck: latest only, or every version for *_TRANSITIVE; backward before forward; NONE checks nothing', () => {
  const vs = [{ version: 1 }, { version: 2 }, { version: 3 }];
  const show = (level: (typeof COMPATIBILITY_LEVELS)[number]): string[] => pairsToCheck(level, vs).map((p) => `${p.version}:${p.direction}:${p.reader}<-${p.writer}`);
  assert.deepEqual(show('BACKWARD'), ['3:backward:new<-existing']);
  assert.deepEqual(show('FORWARD'), ['3:forward:existing<-new']);
  assert.deepEqual(show('FULL'), ['3:backward:new<-existing', '3:forward:existing<-new']);
  assert.deepEqual(show('BACKWARD_TRANSITIVE'), ['1:backward:new<-existing', '2:backward:new<-existing', '3:backward:new<-existing']);
  assert.deepEqual(show('FORWARD_TRANSITIVE'), ['1:forward:existing<-new', '2:forward:existing<-new', '3:forward:existing<-new']);
  assert.deepEqual(show('FULL_TRANSITIVE'), [
    '1:backward:new<-existing', '1:forward:existing<-new',
    '2:backward:new<-existing', '2:forward:existing<-new',
    '3:backward:new<-existing', '3:forward:existing<-new',
  ]);
  assert.deepEqual(show('NONE'), []);
  assert.deepEqual(pairsToCheck('FULL_TRANSITIVE', []), [], 'a new subject has nothing to check');
});

test('parseCompatibilityLevel accepts any case and rejects unknown levels', () => {
  assert.equal(parseCompatibilityLevel('full_transitive'), 'FULL_TRANSITIVE');
  assert.equal(parseCompatibilityLevel('BACKWARD'), 'BACKWARD');
  assert.throws(() => parseCompatibilityLevel('SIDEWAYS'), /unknown compatibility level .*BACKWARD, BACKWARD_TRANSITIVE/);
});

test('BACKWARD: a new required field cannot read the latest version; FORWARD: fine', () => {
  const next = rec([...(v3 as { fields: unknown[] }).fields, { name: 'currency', type: 'string' }]);
  assert.deepEqual(brief(checkAgainstLevel(next, versions, 'BACKWARD')), ['v3 backward currency: field-added-without-default']);
  assert.deepEqual(checkAgainstLevel(next, versions, 'FORWARD'), []);
  assert.deepEqual(brief(checkAgainstLevel(next, versions, 'FULL')), ['v3 backward currency: field-added-without-default']);
  assert.deepEqual(checkAgainstLevel(next, versions, 'NONE'), []);
});

test('FORWARD: dropping a field the latest version needs; BACKWARD: fine', () => {
  // v3's reader has a default for amount and note, but not for id.
  const next = rec([{ name: 'note', type: 'string', default: '' }, { name: 'amount', type: 'double', default: 0 }]);
  assert.deepEqual(checkAgainstLevel(next, versions, 'BACKWARD'), []);
  const ps = checkAgainstLevel(next, versions, 'FORWARD');
  assert.deepEqual(brief(ps), ['v3 forward id: field-removed-without-default']);
  assert.match(ps[0].message, /new schema \(writer\)/);
  assert.deepEqual(brief(checkAgainstLevel(next, versions, 'FULL')), ['v3 forward id: field-removed-without-default']);
});

test('transitive: compatible with the latest version but not with an older one', () => {
  // v3 added `amount` with a default; the new schema drops the default: v3 data has the field, v1 and v2 data do not.
  const next = rec([{ name: 'id', type: 'string' }, { name: 'note', type: 'string', default: '' }, { name: 'amount', type: 'double' }]);
  assert.deepEqual(checkAgainstLevel(next, versions, 'BACKWARD'), [], 'reads the latest version');
  assert.deepEqual(brief(checkAgainstLevel(next, versions, 'BACKWARD_TRANSITIVE')), [
    'v1 backward amount: field-added-without-default',
    'v2 backward amount: field-added-without-default',
  ]);
  // Every old reader skips or defaults what it lacks: forward is fine.
  assert.deepEqual(checkAgainstLevel(next, versions, 'FORWARD_TRANSITIVE'), []);
  assert.deepEqual(brief(checkAgainstLevel(next, versions, 'FULL_TRANSITIVE')), [
    'v1 backward amount: field-added-without-default',
    'v2 backward amount: field-added-without-default',
  ]);
});

test('FORWARD_TRANSITIVE: an enum symbol older readers lack, while the latest has a default', () => {
  const en = (symbols: string[], dflt?: string): avro.Schema => rec([{ name: 'status', type: { type: 'enum', name: 'Status', symbols, ...(dflt ? { default: dflt } : {}) } }]);
  const history: SchemaVersion[] = [
    { version: 1, schema: en(['OK', 'FAILED']) },
    { version: 2, schema: en(['UNKNOWN', 'OK', 'FAILED'], 'UNKNOWN') },
  ];
  const next = en(['UNKNOWN', 'OK', 'FAILED', 'REFUNDED'], 'UNKNOWN');
  assert.deepEqual(checkAgainstLevel(next, history, 'FORWARD'), []);
  assert.deepEqual(checkAgainstLevel(next, history, 'BACKWARD_TRANSITIVE'), []);
  assert.deepEqual(brief(checkAgainstLevel(next, history, 'FORWARD_TRANSITIVE')), [
    'v1 forward status: enum-symbol-added',
    'v1 forward status: enum-symbol-added',
  ]);
  assert.deepEqual(brief(checkAgainstLevel(next, history, 'FULL_TRANSITIVE')), [
    'v1 forward status: enum-symbol-added',
    'v1 forward status: enum-symbol-added',
  ]);
});

test('FULL: a type change is reported in both directions', () => {
  const next = rec([{ name: 'id', type: 'long' }, { name: 'note', type: 'string', default: '' }, { name: 'amount', type: 'double', default: 0 }]);
  const ps = checkAgainstLevel(next, versions, 'FULL');
  assert.deepEqual(brief(ps), ['v3 backward id: type-changed', 'v3 forward id: type-changed']);
  // Promotion int → long would be BACKWARD-only compatible:
  const withInt: SchemaVersion[] = [{ version: 'main', schema: rec([{ name: 'n', type: 'int' }]) }];
  const widened = rec([{ name: 'n', type: 'long' }]);
  assert.deepEqual(checkAgainstLevel(widened, withInt, 'BACKWARD'), []);
  assert.deepEqual(brief(checkAgainstLevel(widened, withInt, 'FULL')), ['vmain forward n: type-changed']);
});
