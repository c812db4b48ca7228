/**
 * The topology version (DESIGN.md rule 7) is a hash of the canonical plan: it must ignore
 * what cannot change an output (formatting, comments, the order of
 * keys in the features object, where the schema file lives) and change with everything that
 * can (window sizes, aggregations, grace, function bodies, schema content).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { topology, type Duration, type Topology } from '../../src/dsl/index.js';
import { compilePlan } from '../../src/plan/compile.js';
import { functionFingerprint, normalizedFunctionSource } from '../../src/plan/function-fingerprint.js';

const HERE = fileURLToPath(import.meta.url);
const SCHEMA = '../../schemas/card_transaction.avsc';

interface Txn {
  txn_id: string;
  card_id: string;
  merchant_id: string;
  amount: number;
  event_time: number;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Fn = (...args: any[]) => any;

/**
 * A function from source text. tsx already reformats and strips comments from functions
 * written in this file, so to test the fingerprint's own normalisation some functions are
 * built from text that keeps odd whitespace, comments and parameter names in toString().
 */
function fromSource(src: string): Fn {
  const fn = new Function(`return (${src}\n);`)() as Fn;
  assert.equal(fn.toString(), src, 'toString keeps the source text verbatim');
  return fn;
}

interface Variant {
  size1h?: Duration;
  meanKind?: 'mean' | 'sum';
  grace?: Duration;
  amount?: (x: Txn) => number;
  schema?: string;
}

/** The reference topology; every option changes one thing that must change the version. */
function reference(v: Variant = {}): Topology<unknown> {
  return topology('versioned', (t) => {
    const txns = t.source<Txn>('txns', {
      schema: v.schema ?? SCHEMA,
      key: (x) => x.card_id,
      eventTime: (x) => x.event_time,
      grace: v.grace ?? '30m',
      late: 'sideOutput',
    });
    const card = txns.groupBy('card', (x) => x.card_id);
    const amount = v.amount ?? ((x: Txn) => x.amount);
    const w24 = card.lookback('24h');
    txns.features(
      'card_features',
      {
        count_1h: card.lookback(v.size1h ?? '1h').count(),
        amount_mean_24h: v.meanKind === 'sum' ? w24.sum(amount) : w24.mean(amount),
        amount_max_7d: card.lookback('7d').max((x) => x.amount),
        merchants_24h: card.lookback('24h').countDistinct((x) => x.merchant_id),
        since: card.timeSinceLast('minutes'),
      },
      {
        derive: {
          amount_vs_mean: (vec, x) => (vec.amount_mean_24h === null ? null : x.amount - vec.amount_mean_24h),
        },
      },
    );
    return {};
  });
}

/**
 * The reference topology written differently: comments and whitespace inside functions,
 * '1d' / '60m' for '24h' / '1h', and the features object (and source options) in another
 * key order. Parameter names are the reference's, so only formatting differs.
 */
const reformatted = topology('versioned', (b) => {
  const source = b.source<Txn>('txns', {
    late: 'sideOutput',
    grace: '30m',
    eventTime: fromSource('(x)   =>   /* event time from the payload */ x.event_time'),
    key: fromSource('(  x ) => // the card\n  x.card_id'),
    schema: SCHEMA,
  });
  const byCard = source.groupBy('card', fromSource('(x) =>\n    x.card_id'));
  source.features(
    'card_features',
    {
      since: byCard.timeSinceLast('minutes'),
      merchants_24h: byCard.lookback('1d').countDistinct(fromSource('(x)=>x.merchant_id')),
      amount_max_7d: byCard.lookback('7d').max(fromSource('(x) => /* the largest amount */ x.amount')),
      amount_mean_24h: byCard.lookback('1d').mean(fromSource('( x )  =>  x.amount')),
      count_1h: byCard.lookback('60m').count(),
    },
    {
      derive: {
        amount_vs_mean: fromSource(
          '(vec, x) =>\n  (vec.amount_mean_24h === null\n    ? null   // no history\n    : x.amount - vec.amount_mean_24h)',
        ),
      },
    },
  );
  return {};
});

/** The reference topology with other parameter names in every function, nothing else changed. */
const renamed = topology('versioned', (t) => {
  const txns = t.source<Txn>('txns', {
    schema: SCHEMA,
    key: (swipe) => swipe.card_id,
    eventTime: (payment) => payment.event_time,
    grace: '30m',
    late: 'sideOutput',
  });
  const card = txns.groupBy('card', (txn) => txn.card_id);
  const w24 = card.lookback('24h');
  txns.features(
    'card_features',
    {
      count_1h: card.lookback('1h').count(),
      amount_mean_24h: w24.mean((txn: Txn) => txn.amount),
      amount_max_7d: card.lookback('7d').max((t) => t.amount),
      merchants_24h: card.lookback('24h').countDistinct((transaction) => transaction.merchant_id),
      since: card.timeSinceLast('minutes'),
    },
    {
      derive: {
        amount_vs_mean: (features, event) => (features.amount_mean_24h === null ? null : event.amount - features.amount_mean_24h),
      },
    },
  );
  return {};
});

test('version: identical for formatting, comments, duration spelling and feature key order', () => {
  const a = compilePlan(reference(), HERE);
  const b = compilePlan(reformatted, HERE);
  assert.match(a.version, /^[0-9a-f]{16}$/);
  assert.deepEqual(b.canonical, a.canonical);
  assert.equal(b.version, a.version);
  // Compiling twice is stable.
  assert.equal(compilePlan(reference(), HERE).version, a.version);
});

test('version: a parameter rename is a code change and changes the version (documented policy)', () => {
  // Identifiers are kept verbatim in the fingerprint (see function-fingerprint.ts): esbuild's
  // identifier minifier chooses short names from character frequencies, so "ignoring names"
  // through it was not reliable. Formatting and comments are ignored (tests above); names are not.
  const f1 = (vec: { m: number | null }, x: Txn) => (vec.m === null ? null : x.amount - vec.m);
  const f2 = (features: { m: number | null }, event: Txn) => (features.m === null ? null : event.amount - features.m);
  assert.notEqual(functionFingerprint(f2), functionFingerprint(f1));
  assert.match(normalizedFunctionSource(f2), /features\.m/);
  const a = compilePlan(reference(), HERE);
  const b = compilePlan(renamed, HERE);
  assert.notEqual(b.version, a.version);
});

test('version: changes with a window size, an aggregation, a grace, a function body', () => {
  const base = compilePlan(reference(), HERE).version;
  const variants: Record<string, Variant> = {
    'window size 1h → 2h': { size1h: '2h' },
    'window size 1h → 59m': { size1h: '59m' },
    'aggregation mean → sum': { meanKind: 'sum' },
    'grace 30m → 45m': { grace: '45m' },
    'function body x.amount → x.amount * 100': { amount: (x) => x.amount * 100 },
    'function body x.amount → Math.abs(x.amount)': { amount: (x) => Math.abs(x.amount) },
  };
  const seen = new Map<string, string>([[base, 'reference']]);
  for (const [what, v] of Object.entries(variants)) {
    const version = compilePlan(reference(v), HERE).version;
    assert.notEqual(version, base, `${what} must change the version`);
    assert.ok(!seen.has(version), `${what} collides with ${seen.get(version)}`);
    seen.set(version, what);
  }
});

test('version: changes with the schema content, not with where the schema file lives', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'skewless-plan-version-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // A fake topology file two levels down, so '../../schemas/...' resolves inside dir.
  const fakeFile = join(dir, 'a', 'b', 'topology.ts');
  mkdirSync(join(dir, 'schemas'), { recursive: true });
  const schemaCopy = join(dir, 'schemas', 'card_transaction.avsc');
  const original = fileURLToPath(new URL('../../schemas/card_transaction.avsc', import.meta.url));
  copyFileSync(original, schemaCopy);

  const base = compilePlan(reference(), HERE).version;
  assert.equal(compilePlan(reference(), fakeFile).version, base, 'same schema bytes elsewhere: same version');

  // Only a doc string changes: the Parsing Canonical Form (and the version) stays.
  const json = JSON.parse(readFileSync(original, 'utf8')) as { doc: string; fields: Array<{ name: string; type: unknown; doc?: string }> };
  writeFileSync(schemaCopy, JSON.stringify({ ...json, doc: 'another description' }, null, 4));
  assert.equal(compilePlan(reference(), fakeFile).version, base, 'doc-only schema change keeps the version');

  // amount becomes a float: a real schema change.
  const changed = { ...json, fields: json.fields.map((f) => (f.name === 'amount' ? { ...f, type: 'float' } : f)) };
  writeFileSync(schemaCopy, JSON.stringify(changed));
  const v1 = compilePlan(reference(), fakeFile).version;
  assert.notEqual(v1, base, 'a changed field type changes the version');

  // An added field.
  const added = { ...json, fields: [...json.fields, { name: 'channel', type: 'string' }] };
  writeFileSync(schemaCopy, JSON.stringify(added));
  const v2 = compilePlan(reference(), fakeFile).version;
  assert.notEqual(v2, base, 'an added field changes the version');
  assert.notEqual(v2, v1);

  // Pointing the topology at another schema file (the flight schema) changes it too.
  assert.notEqual(compilePlan(reference({ schema: '../../schemas/flight.avsc' }), HERE).version, base);
});
