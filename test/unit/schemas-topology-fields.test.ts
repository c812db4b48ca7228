/**
 * The topology field check: the fields a topology's functions read (found by static analysis
 * of their sources) exist in the source schemas with usable types.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { label, topology } from '../../src/dsl/index.js';
import { compilePlan } from '../../src/plan/compile.js';
import { loadTopology } from '../../src/plan/load-topology.js';
import { functionFields } from '../../src/schemas/function-fields.js';
import { checkTopologyFields, type TopologyFieldProblem } from '../../src/schemas/topology-field-check.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** A topology "file" in topologies/, so '../schemas/x.avsc' resolves to the example schemas. */
const INLINE = join(ROOT, 'topologies', 'inline-test-topology.ts');

const brief = (ps: readonly TopologyFieldProblem[]): string[] => ps.map((p) => `${p.path}: ${p.rule}`).sort();

test('functionFields: arrows, templates, destructuring, function bodies, methods, projections', () => {
  const cases: Array<[string, number, string[][], string[] | null, boolean]> = [
    ['x=>x.card_id', 0, [['card_id']], ['card_id'], false],
    ['(x) => x.amount', 0, [['amount']], ['amount'], false],
    ['(f)=>`${f.origin}-${f.destination}`', 0, [['origin'], ['destination']], null, false],
    ['({ amount }) => amount', 0, [['amount']], ['amount'], false],
    ['({ amount: a, origin }) => a > 0 ? origin : null', 0, [['amount'], ['origin']], null, false],
    ['({ address: { zip } }) => zip', 0, [['address'], ['address', 'zip']], ['address', 'zip'], false],
    ['({ address }) => address.zip', 0, [['address'], ['address', 'zip']], ['address', 'zip'], false],
    ['function (x) { return x.amount; }', 0, [['amount']], ['amount'], false],
    ['function pick(x) { const y = 2; return x.amount * y; }', 0, [['amount']], null, false],
    ['key(v) { return v.card_id }', 0, [['card_id']], ['card_id'], false],
    ['(x) => { const { amount, meta: { tag } } = x; return amount + tag.length; }', 0, [['amount'], ['meta'], ['meta', 'tag'], ['meta', 'tag', 'length']], null, false],
    ["x => (x['amount'] ?? null)", 0, [['amount']], ['amount'], false],
    ['x => x.name.toUpperCase()', 0, [['name']], null, false],
    ['x => x?.address?.zip', 0, [['address', 'zip']], ['address', 'zip'], false],
    ['(v,x)=>v.mean===null?null:(x.amount-v.mean)/v.std', 1, [['amount']], null, false],
    ['(v, x) => x.amount', 0, [], null, false],
    ['x => helper(x)', 0, [], null, true],
    ['x => /a\\/x.b/.test(x.s) ? x.t / 2 : 0', 0, [['s'], ['t']], null, false],
    ['x => ({ amount: x.total, y: "x.fake" })', 0, [['total']], null, false],
    ['x => `${x.a + `${x.b}`}` // x.c in a comment', 0, [['a'], ['b']], null, false],
  ];
  for (const [src, idx, reads, projection, escapes] of cases) {
    const r = functionFields(src, idx);
    assert.equal(r.parsed, true, src);
    assert.deepEqual(r.reads, reads, `reads of ${src}`);
    assert.deepEqual(r.projection, projection, `projection of ${src}`);
    assert.equal(r.escapes, escapes, `escapes of ${src}`);
  }
  // Real functions (their toString, as tsx compiled them).
  assert.deepEqual(functionFields((x: { amount: number }) => x.amount).projection, ['amount']);
  assert.equal(functionFields('not a function at all').parsed, false);
});

test('card-fraud and flight-delays read only fields of their schemas, with usable types', async () => {
  for (const f of ['topologies/card-fraud.ts', 'topologies/flight-delays.ts']) {
    const plan = await loadTopology(join(ROOT, f));
    assert.deepEqual(checkTopologyFields(plan), [], f);
  }
});

interface Flight {
  date: number;
  delay: number;
  distance: number;
  origin: string;
  destination: string;
}

test('an inline topology reading a missing field and summing a string field', () => {
  const t = topology('broken-flights', (b) => {
    const flights = b.source<Flight>('flights', {
      schema: '../schemas/flight.avsc',
      key: (f) => f.origin,
      eventTime: (f) => f.date,
    });
    const route = flights.groupBy('route', (f) => `${f.origin}-${(f as unknown as { carrier: string }).carrier}`);
    const features = flights.features(
      'features',
      {
        // summing a string
        origin_sum: route.lookback('1h').sum((f) => f.origin as unknown as number),
        // a field that is not in the schema, read twice
        delay_mean: route.lookback('1h').mean((f) => (f as unknown as { delay_minutes: number }).delay_minutes),
        delay_max: route.lookback('1d').max((f) => (f as unknown as { delay_minutes: number }).delay_minutes),
        // fine: a numeric field, and countDistinct of a string
        distance_sum: route.lookback('1h').sum((f) => f.distance),
        destinations: route.lookback('1h').countDistinct((f) => f.destination),
      },
      { labels: { late: label.boolean<Flight>((f) => f.delay > 15) } },
    );
    return { features };
  });
  const plan = compilePlan(t, INLINE);
  const ps = checkTopologyFields(plan);
  assert.deepEqual(brief(ps), [
    'flights.carrier: topology-field-missing',
    'flights.delay_minutes: topology-field-missing',
    'flights.origin: topology-field-not-numeric',
  ]);
  const missing = ps.find((p) => p.path === 'flights.delay_minutes') as TopologyFieldProblem;
  assert.match(missing.message, /topology broken-flights/);
  assert.match(missing.message, /feature delay_mean \(mean\), feature delay_max \(max\)/, 'every place that reads it');
  assert.match(missing.message, /fields there: date, delay, distance, origin, destination/);
  const notNumeric = ps.find((p) => p.rule === 'topology-field-not-numeric') as TopologyFieldProblem;
  assert.match(notNumeric.message, /origin_sum \(sum\)/);
  assert.match(notNumeric.message, /which is string/);
  assert.ok(ps.every((p) => p.source === 'flights' && p.fix.length > 0));
});

test('event time types, nullable numbers, nested records, derive/labelJoin parameters, map streams', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'skewless-schemas-fields-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(
    join(dir, 'event.avsc'),
    JSON.stringify({
      type: 'record',
      name: 'Event',
      fields: [
        { name: 'id', type: 'string' },
        { name: 'user', type: 'string' },
        { name: 'ts_micros', type: { type: 'long', logicalType: 'timestamp-micros' } },
        { name: 'score', type: ['null', 'double'], default: null },
        { name: 'price', type: { type: 'bytes', logicalType: 'decimal', precision: 9, scale: 2 } },
        { name: 'geo', type: ['null', { type: 'record', name: 'Geo', fields: [{ name: 'lat', type: 'double' }, { name: 'country', type: 'string' }] }], default: null },
        { name: 'tags', type: { type: 'array', items: 'string' } },
      ],
    }),
  );
  writeFileSync(
    join(dir, 'label.avsc'),
    JSON.stringify({ type: 'record', name: 'Label', fields: [{ name: 'event_id', type: 'string' }, { name: 'at', type: 'string' }] }),
  );
  type Ev = { id: string; user: string; ts_micros: number; score: number | null; price: Buffer; geo: { lat: number; country: string } | null; tags: string[] };
  type Lb = { event_id: string; at: string };
  const top = topology('events', (b) => {
    const events = b.source<Ev>('events', { schema: 'event.avsc', key: (e) => e.user, eventTime: (e) => e.ts_micros });
    const labels = b.source<Lb>('labels', { schema: 'label.avsc', key: (l) => l.event_id, eventTime: (l) => l.at });
    const known = events.filter((e) => e.geo?.country !== 'XX' && e.tags.length > 0);
    const user = known.groupBy('user', (e) => e.user);
    // After a map the values are no longer Event records: only the map function is checked.
    const mapped = events.map((e) => ({ who: e.user, n: (e as unknown as { nope: number }).nope }));
    const byWho = mapped.groupBy('who', (m) => m.who + (m as unknown as { alsoNope: string }).alsoNope);
    const features = known.features(
      'features',
      {
        score_mean: user.lookback('1h').mean((e) => e.score), // ["null","double"]: fine
        lat_max: user.lookback('1h').max((e) => e.geo?.lat), // nested through a nullable record: fine
        price_sum: user.lookback('1h').sum((e) => e.price as unknown as number), // decimal bytes: not a number
        country_min: user.lookback('1h').min((e) => (e.geo as { country: string }).country as unknown as number),
        last_user: user.lookback('1h').last((e) => e.user, { type: 'string' }),
        last_score_str: user.lookback('1h').last((e) => e.score as unknown as string, { type: 'string' }),
        zip: user.lookback('1h').countDistinct((e) => (e.geo as unknown as { zip: string }).zip),
        who: byWho.lookback('1h').count(),
      },
      {
        derive: { z: (v, e) => (v.score_mean === null ? null : (e as unknown as { z_base: number }).z_base) },
        labelJoin: { from: labels, on: (e) => e.id, matchOn: (l) => (l as unknown as { evt: string }).evt, within: '1d', label: 'labelled' },
      },
    );
    return { features };
  });
  const plan = compilePlan(top, join(dir, 'events.ts'));
  const ps = checkTopologyFields(plan);
  assert.deepEqual(brief(ps), [
    'events.geo.country: topology-field-not-numeric',
    'events.geo.zip: topology-field-missing',
    'events.nope: topology-field-missing',
    'events.price: topology-field-not-numeric',
    'events.score: topology-field-not-string',
    'events.ts_micros: topology-event-time-type',
    'events.z_base: topology-field-missing',
    'labels.evt: topology-field-missing',
  ]);
  assert.match((ps.find((p) => p.rule === 'topology-event-time-type') as TopologyFieldProblem).message, /timestamp-micros\), not epoch milliseconds/);
  assert.match((ps.find((p) => p.path === 'events.z_base') as TopologyFieldProblem).message, /derived feature z/);
  assert.match((ps.find((p) => p.path === 'events.nope') as TopologyFieldProblem).message, /map events\/map1/);
});

test('event time: long, int, string and their nullable unions are usable; double is not', () => {
  const typesOk: unknown[] = ['long', 'int', 'string', ['null', 'long'], { type: 'long', logicalType: 'timestamp-millis' }, { type: 'long', logicalType: 'local-timestamp-millis' }];
  const typesBad: unknown[] = ['double', 'boolean', ['null', 'long', 'string'], { type: 'int', logicalType: 'date' }];
  const dir = mkdtempSync(join(tmpdir(), 'skewless-schemas-et-'));
  try {
    const run = (type: unknown): string[] => {
      writeFileSync(join(dir, 's.avsc'), JSON.stringify({ type: 'record', name: 'S', fields: [{ name: 'k', type: 'string' }, { name: 't', type }] }));
      const top = topology('et', (b) => {
        const s = b.source<{ k: string; t: number }>('s', { schema: 's.avsc', key: (x) => x.k, eventTime: (x) => x.t });
        return { f: s.features('f', { n: s.groupBy('k', (x) => x.k).lookback('1h').count() }) };
      });
      return brief(checkTopologyFields(compilePlan(top, join(dir, 't.ts'))));
    };
    for (const t of typesOk) assert.deepEqual(run(t), [], JSON.stringify(t));
    for (const t of typesBad) assert.deepEqual(run(t), ['s.t: topology-event-time-type'], JSON.stringify(t));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
