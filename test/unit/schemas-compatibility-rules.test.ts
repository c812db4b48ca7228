/**
 * The Avro resolution rules, one by one, on hand-written schemas with the expected problems
 * listed by hand: each rule with a compatible and an incompatible example.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import avro from 'avsc';
import { checkCompatibility, COMPATIBILITY_RULES, type CompatibilityProblem } from '../../src/schemas/compatibility-rules.js';

type S = avro.Schema;

const rec = (fields: unknown[], name = 'Payment', extra: Record<string, unknown> = {}): S =>
  ({ type: 'record', name, namespace: 'com.acme', ...extra, fields }) as S;

/** [path, rule] of each problem, in reported order. */
const brief = (ps: readonly CompatibilityProblem[]): Array<[string, string]> => ps.map((p) => [p.path, p.rule]);

function avscReads(reader: S, writer: S): boolean {
  try {
    avro.Type.forSchema(reader).createResolver(avro.Type.forSchema(writer), { ignoreNamespaces: true });
    return true;
  } catch {
    return false;
  }
}

/**
 * Expect exactly these problems, and avsc to agree on the verdict unless `noOracle` (decimal
 * rules, which avsc does not check; type aliases, which avsc compares without namespaces).
 */
function expectProblems(
  reader: S,
  writer: S,
  expected: Array<[string, string]>,
  opts: { role?: 'new' | 'old'; noOracle?: boolean; strictDecimals?: boolean } = {},
): CompatibilityProblem[] {
  const ps = checkCompatibility(reader, writer, { readerRole: opts.role ?? 'new', strictDecimals: opts.strictDecimals });
  assert.deepEqual(brief(ps), expected);
  for (const p of ps) {
    assert.ok(p.message.length > 0 && p.fix.length > 0, 'every problem has a message and a fix');
    assert.ok(COMPATIBILITY_RULES.includes(p.rule));
  }
  if (!opts.noOracle) assert.equal(avscReads(reader, writer), expected.length === 0, 'avsc agrees');
  return ps;
}

test('identical schemas, and the example .avsc files against themselves, are compatible', async () => {
  const { readFileSync } = await import('node:fs');
  for (const f of ['card_transaction', 'chargeback', 'flight']) {
    const s = JSON.parse(readFileSync(new URL(`../../schemas/${f}.avsc`, import.meta.url), 'utf8')) as S;
    expectProblems(s, s, []);
  }
});

test('field-added-without-default: a new reader field needs a default', () => {
  const old = rec([{ name: 'id', type: 'string' }]);
  expectProblems(rec([{ name: 'id', type: 'string' }, { name: 'amount', type: ['null', 'double'], default: null }]), old, []);
  const [p] = expectProblems(rec([{ name: 'id', type: 'string' }, { name: 'amount', type: 'double' }]), old, [['amount', 'field-added-without-default']]);
  assert.match(p.message, /"amount" \(double\)/);
  assert.match(p.fix, /add a default/);
});

test('field-removed-without-default: the old reader misses a dropped field that has no default there', () => {
  const oldReader = rec([{ name: 'id', type: 'string' }, { name: 'amount', type: 'double' }]);
  const newWriter = rec([{ name: 'id', type: 'string' }]);
  const [p] = expectProblems(oldReader, newWriter, [['amount', 'field-removed-without-default']], { role: 'old' });
  assert.match(p.fix, /keep field "amount"/);
  // Dropping a field that had a default in the old version is fine.
  expectProblems(rec([{ name: 'id', type: 'string' }, { name: 'amount', type: 'double', default: 0 }]), newWriter, [], { role: 'old' });
  // A writer field the reader does not know is skipped.
  expectProblems(newWriter, oldReader, []);
});

test('type-changed: promotions resolve, anything else is a problem', () => {
  const promotions: Array<[string, string]> = [
    ['int', 'long'], ['int', 'float'], ['int', 'double'], ['long', 'float'], ['long', 'double'], ['float', 'double'], ['string', 'bytes'], ['bytes', 'string'],
  ];
  for (const [w, r] of promotions) expectProblems(rec([{ name: 'v', type: r }]), rec([{ name: 'v', type: w }]), []);
  const notPromotions: Array<[string, string]> = [
    ['long', 'int'], ['double', 'float'], ['float', 'long'], ['int', 'string'], ['string', 'int'], ['boolean', 'int'], ['null', 'string'], ['double', 'int'],
  ];
  for (const [w, r] of notPromotions) {
    const [p] = expectProblems(rec([{ name: 'v', type: r }]), rec([{ name: 'v', type: w }]), [['v', 'type-changed']]);
    assert.match(p.message, new RegExp(`reads ${r} .* writes ${w}`));
  }
  // Complex kinds: a record where an array was, a map where a string was.
  expectProblems(
    rec([{ name: 'a', type: { type: 'array', items: 'int' } }, { name: 'm', type: { type: 'map', values: 'string' } }]),
    rec([{ name: 'a', type: rec([], 'Inner') }, { name: 'm', type: 'string' }]),
    [['a', 'type-changed'], ['m', 'type-changed']],
  );
  // The top-level type has the empty path.
  expectProblems('long', 'int', []);
  expectProblems('int', 'long', [['', 'type-changed']]);
});

test('enum symbols: the reader must know every writer symbol unless its enum has a default', () => {
  const en = (symbols: string[], extra: Record<string, unknown> = {}): S => rec([{ name: 'status', type: { type: 'enum', name: 'Status', symbols, ...extra } }]);
  // Adding symbols to the reader is fine.
  expectProblems(en(['OK', 'FAILED', 'PENDING']), en(['OK', 'FAILED']), []);
  // New reader dropped two symbols: one problem each.
  const ps = expectProblems(en(['OK']), en(['OK', 'FAILED', 'PENDING']), [['status', 'enum-symbol-removed'], ['status', 'enum-symbol-removed']]);
  assert.match(ps[0].message, /"FAILED"/);
  assert.match(ps[1].message, /"PENDING"/);
  // The same with an enum default: resolved to the default.
  expectProblems(en(['UNKNOWN', 'OK'], { default: 'UNKNOWN' }), en(['OK', 'FAILED', 'PENDING']), []);
  // Forward: the new writer adds a symbol the old reader lacks.
  const [p] = expectProblems(en(['OK']), en(['OK', 'REFUNDED']), [['status', 'enum-symbol-added']], { role: 'old' });
  assert.match(p.fix, /default/);
});

test('union branches: every branch the writer may write needs a reader branch', () => {
  // Widening to a union reads the old non-union data.
  expectProblems(rec([{ name: 'v', type: ['null', 'string'] }]), rec([{ name: 'v', type: 'string' }]), []);
  // Adding a branch to the reader union is fine; promotions work per branch.
  expectProblems(rec([{ name: 'v', type: ['null', 'double', 'string'] }]), rec([{ name: 'v', type: ['null', 'int'] }]), []);
  // Making a nullable field required: null data cannot be read.
  const [p] = expectProblems(rec([{ name: 'v', type: 'string' }]), rec([{ name: 'v', type: ['null', 'string'] }]), [['v|branch:null', 'union-branch-unreadable']]);
  assert.match(p.fix, /"null"/);
  // Two unreadable branches: two problems; the readable one is not reported.
  expectProblems(
    rec([{ name: 'v', type: ['null', 'long'] }]),
    rec([{ name: 'v', type: ['null', 'string', 'boolean', 'int'] }]),
    [['v|branch:string', 'union-branch-unreadable'], ['v|branch:boolean', 'union-branch-unreadable']],
  );
  // A reader union none of whose branches reads a non-union writer type.
  expectProblems(rec([{ name: 'v', type: ['null', 'int'] }]), rec([{ name: 'v', type: 'string' }]), [['v', 'type-changed']]);
  // A record branch: the problem inside it is reported with the branch in the path.
  const addr = (fields: unknown[]): S => ({ type: 'record', name: 'Address', fields }) as S;
  expectProblems(
    rec([{ name: 'address', type: ['null', addr([{ name: 'zip', type: 'string' }, { name: 'city', type: 'string' }])] }]),
    rec([{ name: 'address', type: ['null', addr([{ name: 'zip', type: 'string' }])] }]),
    [['address|branch:Address.city', 'field-added-without-default']],
  );
});

test('named-type-renamed: a renamed record, enum or fixed needs an alias on the reader, matched by full name', () => {
  const oldS = rec([{ name: 'id', type: 'string' }], 'Payment');
  // Another namespace, same name: compatible (Avro Java compares unqualified names).
  expectProblems(rec([{ name: 'id', type: 'string' }], 'Payment', { namespace: 'org.other' }), oldS, []);
  expectProblems({ type: 'record', name: 'Payment', fields: [{ name: 'id', type: 'string' }] } as S, oldS, []);
  // Renamed without alias: the fix names the full old name.
  const [p] = expectProblems(rec([{ name: 'id', type: 'string' }], 'Transfer'), oldS, [['', 'named-type-renamed']]);
  assert.match(p.fix, /"aliases": \["com\.acme\.Payment"\]/);
  // Renamed with an alias: an unqualified alias is in the reader's namespace, a qualified one is a full name.
  expectProblems(rec([{ name: 'id', type: 'string' }], 'Transfer', { aliases: ['Payment'] }), oldS, []);
  expectProblems(rec([{ name: 'id', type: 'string' }], 'Transfer', { aliases: ['com.acme.Payment'] }), oldS, []);
  expectProblems(rec([{ name: 'id', type: 'string' }], 'Transfer', { aliases: ['legacy.Payment'] }), oldS, [['', 'named-type-renamed']], { noOracle: true });
  // Renamed *and* moved: the unqualified alias names org.other.Payment, which the old data is not.
  const [moved] = expectProblems(rec([{ name: 'id', type: 'string' }], 'Transfer', { namespace: 'org.other', aliases: ['Payment'] }), oldS, [['', 'named-type-renamed']], { noOracle: true });
  assert.match(moved.message, /org\.other\.Transfer .* com\.acme\.Payment/);
  expectProblems(rec([{ name: 'id', type: 'string' }], 'Transfer', { namespace: 'org.other', aliases: ['com.acme.Payment'] }), oldS, []);
  // Enum and fixed renames (nested: in the record's namespace com.acme).
  const en = (name: string, extra: Record<string, unknown> = {}): S => rec([{ name: 'e', type: { type: 'enum', name, symbols: ['A'], ...extra } }]);
  expectProblems(en('Kind2'), en('Kind'), [['e', 'named-type-renamed']]);
  expectProblems(en('Kind2', { aliases: ['Kind'] }), en('Kind'), []);
  expectProblems(en('Kind2', { namespace: 'x.y', aliases: ['Kind'] }), en('Kind'), [['e', 'named-type-renamed']], { noOracle: true });
  const fx = (name: string, extra: Record<string, unknown> = {}): S => rec([{ name: 'f', type: { type: 'fixed', name, size: 4, ...extra } }]);
  expectProblems(fx('Hash2'), fx('Hash'), [['f', 'named-type-renamed']]);
  expectProblems(fx('Hash2', { aliases: ['com.acme.Hash'] }), fx('Hash'), []);
  expectProblems(fx('Hash2', { aliases: ['x.y.Hash'] }), fx('Hash'), [['f', 'named-type-renamed']], { noOracle: true });
});

test('field aliases: a renamed field resolves through the reader alias; two matches are ambiguous', () => {
  const oldS = rec([{ name: 'amount', type: 'double' }]);
  expectProblems(rec([{ name: 'value', type: 'double', aliases: ['amount'] }]), oldS, []);
  expectProblems(rec([{ name: 'value', type: 'double' }]), oldS, [['value', 'field-added-without-default']]);
  // The alias finds the old field, whose type must still resolve.
  expectProblems(rec([{ name: 'value', type: 'int', aliases: ['amount'] }]), oldS, [['value', 'type-changed']]);
  expectProblems(
    rec([{ name: 'value', type: 'double', aliases: ['amount', 'total'] }]),
    rec([{ name: 'amount', type: 'double' }, { name: 'total', type: 'double' }]),
    [['value', 'field-alias-ambiguous']],
  );
});

test('fixed-size-changed', () => {
  const fx = (size: number): S => rec([{ name: 'hash', type: { type: 'fixed', name: 'Hash', size } }]);
  expectProblems(fx(16), fx(16), []);
  const [p] = expectProblems(fx(32), fx(16), [['hash', 'fixed-size-changed']]);
  assert.match(p.message, /32 bytes .* 16 bytes/);
});

test('decimal precision and scale may change (Avro Java, the registry); strictDecimals requires them equal (Avro spec)', () => {
  const dec = (precision: number, scale: number): S => rec([{ name: 'price', type: { type: 'bytes', logicalType: 'decimal', precision, scale } }]);
  const strict = { strictDecimals: true, noOracle: true };
  expectProblems(dec(10, 2), dec(10, 2), []);
  expectProblems(dec(10, 2), dec(10, 2), [], strict);
  expectProblems(dec(12, 4), dec(10, 2), []);
  expectProblems(dec(12, 2), dec(10, 2), [['price', 'decimal-precision-changed']], strict);
  expectProblems(dec(10, 4), dec(10, 2), [['price', 'decimal-scale-changed']], strict);
  expectProblems(dec(12, 4), dec(10, 2), [['price', 'decimal-precision-changed'], ['price', 'decimal-scale-changed']], strict);
  const fdec = (precision: number): S => rec([{ name: 'price', type: { type: 'fixed', name: 'Dec', size: 8, logicalType: 'decimal', precision, scale: 2 } }]);
  expectProblems(fdec(9), fdec(9), []);
  expectProblems(fdec(18), fdec(9), []);
  expectProblems(fdec(18), fdec(9), [['price', 'decimal-precision-changed']], strict);
  // Other logical types on the same underlying type resolve as that type.
  expectProblems(rec([{ name: 't', type: 'long' }]), rec([{ name: 't', type: { type: 'long', logicalType: 'timestamp-millis' } }]), []);
});

test('nested records, arrays and maps: paths name the field, [] for items, {} for map values', () => {
  const w = rec([
    { name: 'address', type: { type: 'record', name: 'Address', fields: [{ name: 'zip', type: 'string' }] } },
    { name: 'items', type: { type: 'array', items: { type: 'record', name: 'Item', fields: [{ name: 'price', type: 'double' }] } } },
    { name: 'meta', type: { type: 'map', values: { type: 'record', name: 'Meta', fields: [{ name: 'x', type: 'long' }] } } },
    { name: 'matrix', type: { type: 'array', items: { type: 'array', items: 'long' } } },
  ]);
  const r = rec([
    { name: 'address', type: { type: 'record', name: 'Address', fields: [{ name: 'zip', type: 'int' }] } },
    { name: 'items', type: { type: 'array', items: { type: 'record', name: 'Item', fields: [{ name: 'price', type: 'float' }] } } },
    { name: 'meta', type: { type: 'map', values: { type: 'record', name: 'Meta', fields: [{ name: 'x', type: 'int' }] } } },
    { name: 'matrix', type: { type: 'array', items: { type: 'array', items: 'int' } } },
  ]);
  expectProblems(r, w, [
    ['address.zip', 'type-changed'],
    ['items[].price', 'type-changed'],
    ['meta{}.x', 'type-changed'],
    ['matrix[][]', 'type-changed'],
  ]);
  // The other way the numeric changes are promotions; int → string is not.
  expectProblems(w, r, [['address.zip', 'type-changed']]);
});

test('every problem is reported at once: a schema with 3 problems yields 3', () => {
  const oldS = rec([
    { name: 'id', type: 'string' },
    { name: 'amount', type: 'double' },
    { name: 'status', type: { type: 'enum', name: 'Status', symbols: ['OK', 'FAILED'] } },
  ]);
  const newS = rec([
    { name: 'id', type: 'long' }, // type-changed
    { name: 'amount', type: 'double' },
    { name: 'status', type: { type: 'enum', name: 'Status', symbols: ['OK'] } }, // enum-symbol-removed
    { name: 'currency', type: 'string' }, // field-added-without-default
  ]);
  expectProblems(newS, oldS, [
    ['id', 'type-changed'],
    ['status', 'enum-symbol-removed'],
    ['currency', 'field-added-without-default'],
  ]);
});

test('recursive schemas terminate and are checked through the recursion', () => {
  const list = (valueType: string, extra: unknown[] = []): S =>
    ({ type: 'record', name: 'Node', fields: [{ name: 'value', type: valueType }, { name: 'next', type: ['null', 'Node'], default: null }, ...extra] }) as S;
  expectProblems(list('long'), list('int'), []);
  expectProblems(list('int'), list('long'), [['value', 'type-changed']]);
  expectProblems(list('long', [{ name: 'extra', type: 'int' }]), list('long'), [['extra', 'field-added-without-default']]);
});

test('named references resolve with namespaces; invalid schemas fail with a clear message', () => {
  const s = {
    type: 'record',
    name: 'Order',
    namespace: 'shop',
    fields: [
      { name: 'billing', type: { type: 'record', name: 'Address', fields: [{ name: 'zip', type: 'string' }] } },
      { name: 'shipping', type: 'shop.Address' },
      { name: 'backup', type: ['null', 'Address'], default: null },
    ],
  } as S;
  expectProblems(s, s, []);
  const changed = JSON.parse(JSON.stringify(s)) as { fields: Array<{ type: unknown }> };
  (changed.fields[0].type as { fields: Array<{ type: string }> }).fields[0].type = 'int';
  // The definition changes every use: billing, shipping and the backup branch.
  expectProblems(changed as S, s, [['billing.zip', 'type-changed'], ['shipping.zip', 'type-changed'], ['backup|branch:Address.zip', 'type-changed']]);
  assert.throws(() => checkCompatibility({ type: 'record', name: 'X', fields: [{ name: 'a', type: 'nope' }] } as S, 'int'), /invalid Avro schema/);
});
