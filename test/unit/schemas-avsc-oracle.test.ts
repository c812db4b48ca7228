/**
 * The checker against an independent oracle: avsc's resolver,
 * `reader.createResolver(writer, { ignoreNamespaces: true })`, throws exactly when the checker
 * reports a problem. avsc compares type aliases without namespaces where Avro Java (the
 * checker's reference) compares the alias, qualified with the reader type's namespace, with
 * the writer's full name: the oracle first drops the reader aliases Java would not match
 * (exact here, since generated type names are unique without namespace). Pairs are
 * generated from a seeded PRNG: a random writer schema and a reader made from it by a few
 * random edits (fields added, dropped, renamed, retyped; enums, fixed, unions, names and
 * namespaces changed), checked in both directions.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import avro from 'avsc';
import { Rng } from '../helpers/prng.js';
import { checkCompatibility, LOGICAL_TYPE_RULES } from '../../src/schemas/compatibility-rules.js';

/* eslint-disable @typescript-eslint/no-explicit-any */
type J = any;

const PRIMS = ['null', 'boolean', 'int', 'long', 'float', 'double', 'bytes', 'string'] as const;
const SYMBOLS = ['A', 'B', 'C', 'D', 'E'];
const NAMESPACES = [undefined, 'ns.one', 'ns.two'];

class Gen {
  private n = 0;
  constructor(readonly rng: Rng) {}
  fresh(prefix: string): string {
    return `${prefix}${++this.n}`;
  }
  ns(): string | undefined {
    return this.rng.pick(NAMESPACES);
  }
  /** Any type; depth bounds nesting. `noUnion` inside unions. */
  type(depth: number, noUnion = false, noNull = false): J {
    const r = this.rng.next();
    if (depth <= 0 || r < 0.45) {
      const p = this.rng.pick(noNull ? PRIMS.filter((x) => x !== 'null') : PRIMS);
      if (p === 'bytes' && this.rng.chance(0.15)) return { type: 'bytes', logicalType: 'decimal', precision: this.rng.int(4, 6), scale: this.rng.int(0, 2) };
      return p;
    }
    if (r < 0.55) return this.enumType();
    if (r < 0.62) return { type: 'fixed', name: this.fresh('F'), namespace: this.ns(), size: this.rng.int(2, 4) };
    if (r < 0.7) return { type: 'array', items: this.type(depth - 1) };
    if (r < 0.76) return { type: 'map', values: this.type(depth - 1) };
    if (r < 0.88 && !noUnion) return this.union(depth - 1);
    return this.record(depth - 1);
  }
  enumType(): J {
    const k = this.rng.int(1, 4);
    const symbols = SYMBOLS.slice(0, k);
    const e: J = { type: 'enum', name: this.fresh('E'), namespace: this.ns(), symbols };
    if (this.rng.chance(0.2)) e.default = symbols[0];
    return e;
  }
  union(depth: number): J {
    const out: J[] = [];
    const k = this.rng.int(1, 3);
    if (this.rng.chance(0.6)) out.push('null');
    for (let i = 0; i < k; i++) {
      const t = this.type(depth, true);
      if (!out.some((b) => branchKey(b) === branchKey(t))) out.push(t);
    }
    return out;
  }
  record(depth: number): J {
    const fields: J[] = [];
    const k = this.rng.int(1, 4);
    for (let i = 0; i < k; i++) {
      const f: J = { name: this.fresh('f'), type: this.type(depth) };
      if (this.rng.chance(0.35)) f.default = 0; // replaced by a valid default in fixDefaults
      fields.push(f);
    }
    return { type: 'record', name: this.fresh('R'), namespace: this.ns(), fields };
  }
}

/** What makes two union branches the same for avsc: the type name for unnamed types, the full name for named ones. */
function branchKey(t: J): string {
  if (typeof t === 'string') return t;
  if (Array.isArray(t)) return 'union';
  if (t.name) return t.namespace ? `${t.namespace}.${t.name}` : t.name;
  return t.type;
}

/** A valid default for a type. */
function defaultFor(t: J): J {
  if (Array.isArray(t)) return defaultFor(t[0]);
  const kind = typeof t === 'string' ? t : t.type;
  switch (kind) {
    case 'null':
      return null;
    case 'boolean':
      return false;
    case 'int':
    case 'long':
      return 1;
    case 'float':
    case 'double':
      return 0.5;
    case 'bytes':
    case 'string':
      return '';
    case 'enum':
      return t.symbols[0];
    case 'fixed':
      return '\u0000'.repeat(t.size);
    case 'array':
      return [];
    case 'map':
      return {};
    case 'record':
      return Object.fromEntries(t.fields.map((f: J) => [f.name, defaultFor(f.type)]));
    default:
      throw new Error(`no default for ${JSON.stringify(t)}`);
  }
}

/** Make every default valid again after edits (a default's presence is what resolution looks at, not its value). */
function fixDefaults(t: J): void {
  if (Array.isArray(t)) return t.forEach(fixDefaults);
  if (typeof t !== 'object' || t === null) return;
  if (t.type === 'record') {
    for (const f of t.fields) {
      fixDefaults(f.type);
      if ('default' in f) f.default = defaultFor(f.type);
    }
  } else if (t.type === 'array') fixDefaults(t.items);
  else if (t.type === 'map') fixDefaults(t.values);
  else if (t.type === 'enum' && t.default !== undefined && !t.symbols.includes(t.default)) t.default = t.symbols[0];
}

/** Every (container, key) slot holding a type, so an edit can replace it. */
function slots(root: J): Array<{ get: () => J; set: (v: J) => void; inUnion: boolean }> {
  const out: Array<{ get: () => J; set: (v: J) => void; inUnion: boolean }> = [];
  const visit = (holder: J, key: string | number, inUnion: boolean): void => {
    out.push({ get: () => holder[key], set: (v) => (holder[key] = v), inUnion });
    const t = holder[key];
    if (Array.isArray(t)) t.forEach((_, i) => visit(t, i, true));
    else if (t && typeof t === 'object') {
      if (t.type === 'record') t.fields.forEach((f: J) => visit(f, 'type', false));
      else if (t.type === 'array') visit(t, 'items', false);
      else if (t.type === 'map') visit(t, 'values', false);
    }
  };
  const box = { t: root };
  visit(box, 't', false);
  return out.slice(1).concat([{ get: () => box.t, set: (v) => (box.t = v), inUnion: false }]);
}

function namedTypes(root: J): J[] {
  const out: J[] = [];
  const visit = (t: J): void => {
    if (Array.isArray(t)) return t.forEach(visit);
    if (!t || typeof t !== 'object') return;
    if (t.name) out.push(t);
    if (t.type === 'record') t.fields.forEach((f: J) => visit(f.type));
    else if (t.type === 'array') visit(t.items);
    else if (t.type === 'map') visit(t.values);
  };
  visit(root);
  return out;
}

/** One random edit of a schema (in place); returns a description. */
function edit(g: Gen, root: J): string {
  const rng = g.rng;
  const records = namedTypes(root).filter((t) => t.type === 'record');
  const choice = rng.int(0, 11);
  switch (choice) {
    case 0: {
      const r = rng.pick(records);
      r.fields.push(rng.chance(0.5) ? { name: g.fresh('f'), type: g.type(1), default: 0 } : { name: g.fresh('f'), type: g.type(1) });
      return 'add field';
    }
    case 1: {
      const r = rng.pick(records);
      if (r.fields.length > 1) r.fields.splice(rng.int(0, r.fields.length - 1), 1);
      return 'drop field';
    }
    case 2: {
      const r = rng.pick(records);
      const f = rng.pick(r.fields as J[]);
      const old = f.name;
      f.name = g.fresh('f');
      if (rng.chance(0.5)) f.aliases = [old];
      return 'rename field';
    }
    case 3: {
      const r = rng.pick(records);
      const f = rng.pick(r.fields as J[]);
      if ('default' in f) delete f.default;
      else f.default = 0;
      return 'toggle default';
    }
    case 4: {
      const ss = slots(root).filter((s) => typeof s.get() === 'string' && s.get() !== 'null' && !s.inUnion);
      if (ss.length === 0) return 'noop';
      rng.pick(ss).set(rng.pick(PRIMS.filter((p) => p !== 'null')));
      return 'retype primitive';
    }
    case 5: {
      const es = namedTypes(root).filter((t) => t.type === 'enum');
      if (es.length === 0) return 'noop';
      const e = rng.pick(es);
      const op = rng.int(0, 2);
      if (op === 0 && e.symbols.length < SYMBOLS.length) e.symbols = SYMBOLS.slice(0, e.symbols.length + 1);
      else if (op === 1 && e.symbols.length > 1) e.symbols = e.symbols.slice(1);
      else if (e.default === undefined) e.default = e.symbols[0];
      else delete e.default;
      return 'enum symbols/default';
    }
    case 6: {
      const fs = namedTypes(root).filter((t) => t.type === 'fixed');
      if (fs.length === 0) return 'noop';
      rng.pick(fs).size += rng.chance(0.5) ? 1 : 0;
      return 'fixed size';
    }
    case 7: {
      const t = rng.pick(namedTypes(root));
      const old = t.name;
      t.name = g.fresh(old.replace(/\d+$/, ''));
      if (rng.chance(0.5)) t.aliases = [rng.chance(0.5) ? old : `elsewhere.${old}`];
      return 'rename type';
    }
    case 8: {
      const t = rng.pick(namedTypes(root));
      t.namespace = rng.pick(NAMESPACES.filter((n) => n !== t.namespace));
      return 'namespace';
    }
    case 9: {
      // wrap a type in a union with null, or unwrap a union to one branch
      const ss = slots(root).filter((s) => !s.inUnion);
      const s = rng.pick(ss);
      const t = s.get();
      if (Array.isArray(t)) s.set(rng.pick(t as J[]));
      else if (t !== 'null') s.set(['null', t]);
      return 'union wrap/unwrap';
    }
    case 10: {
      // add or drop a union branch
      const us = slots(root).filter((s) => Array.isArray(s.get()));
      if (us.length === 0) return 'noop';
      const u = rng.pick(us).get() as J[];
      if (rng.chance(0.5) && u.length > 1) u.splice(rng.int(0, u.length - 1), 1);
      else {
        const t = g.type(1, true);
        if (!u.some((b) => branchKey(b) === branchKey(t))) u.push(t);
      }
      return 'union branch';
    }
    default: {
      // replace any type with a fresh one
      const ss = slots(root).filter((s) => !s.inUnion);
      rng.pick(ss).set(g.type(1));
      return 'replace type';
    }
  }
}

/** Every named type of a schema by unqualified name, with its namespace (inherited from the enclosing type when not set). */
function namedWithNamespace(root: J): Map<string, { type: J; ns: string | undefined }> {
  const out = new Map<string, { type: J; ns: string | undefined }>();
  const visit = (t: J, ns: string | undefined): void => {
    if (Array.isArray(t)) return t.forEach((b) => visit(b, ns));
    if (!t || typeof t !== 'object') return;
    let inner = ns;
    if (t.name) {
      inner = t.namespace === undefined ? ns : t.namespace || undefined;
      out.set(t.name, { type: t, ns: inner });
    }
    if (t.type === 'record') t.fields.forEach((f: J) => visit(f.type, inner));
    else if (t.type === 'array') visit(t.items, ns);
    else if (t.type === 'map') visit(t.values, ns);
  };
  visit(root, undefined);
  return out;
}

/** The reader without the type aliases Avro Java would not match: an unqualified alias is in the reader type's namespace, and must equal the writer type's full name. */
function javaAliasesOnly(reader: J, writer: J): J {
  const copy = JSON.parse(JSON.stringify(reader));
  const writerTypes = namedWithNamespace(writer);
  for (const { type, ns } of namedWithNamespace(copy).values()) {
    if (!type.aliases) continue;
    type.aliases = type.aliases.filter((a: string) => {
      const full = a.includes('.') ? a : ns ? `${ns}.${a}` : a;
      const w = writerTypes.get(a.slice(a.lastIndexOf('.') + 1));
      return w !== undefined && full === (w.ns ? `${w.ns}.${w.type.name}` : w.type.name);
    });
  }
  return copy;
}

function avscReads(reader: J, writer: J): { ok: boolean; error?: string } {
  try {
    avro.Type.forSchema(javaAliasesOnly(reader, writer)).createResolver(avro.Type.forSchema(writer), { ignoreNamespaces: true });
    return { ok: true };
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  }
}

test('agreement with avsc createResolver (ignoreNamespaces) on 200 generated schema pairs, both directions', () => {
  let compatible = 0;
  let incompatible = 0;
  let compared = 0;
  const rules = new Set<string>();
  for (let seed = 1; seed <= 200; seed++) {
    const g = new Gen(new Rng(seed * 7919));
    const writer: J = g.record(3);
    fixDefaults(writer);
    const reader: J = JSON.parse(JSON.stringify(writer));
    const edits: string[] = [];
    const k = g.rng.int(1, 3);
    for (let i = 0; i < k; i++) edits.push(edit(g, reader));
    fixDefaults(reader);
    // Both must be valid schemas (the generator keeps names unique and unions well formed).
    for (const s of [writer, reader]) {
      try {
        avro.Type.forSchema(s);
      } catch (e) {
        assert.fail(`seed ${seed}: generated an invalid schema (${(e as Error).message}): ${JSON.stringify(s)}`);
      }
    }
    for (const [r, w] of [[reader, writer], [writer, reader]]) {
      const problems = checkCompatibility(r, w).filter((p) => !LOGICAL_TYPE_RULES.has(p.rule));
      for (const p of problems) rules.add(p.rule);
      const oracle = avscReads(r, w);
      compared++;
      if (oracle.ok) compatible++;
      else incompatible++;
      assert.equal(
        problems.length === 0,
        oracle.ok,
        `seed ${seed} (edits: ${edits.join(', ')}): avsc says ${oracle.ok ? 'compatible' : `incompatible (${oracle.error})`}, checker found ${JSON.stringify(problems.map((p) => `${p.path}: ${p.rule}`))}\nreader ${JSON.stringify(r)}\nwriter ${JSON.stringify(w)}`,
      );
    }
  }
  assert.equal(compared, 400);
  // The generated set exercises both verdicts and most rules.
  assert.ok(compatible >= 80 && incompatible >= 80, `a mix of verdicts: ${compatible} compatible, ${incompatible} incompatible`);
  for (const r of ['field-added-without-default', 'type-changed', 'union-branch-unreadable', 'named-type-renamed', 'enum-symbol-removed', 'fixed-size-changed']) {
    assert.ok(rules.has(r), `generated pairs hit ${r} (hit: ${[...rules].join(', ')})`);
  }
});

test('avsc does not ignore namespaces unless told: the oracle needs ignoreNamespaces', () => {
  const a = avro.Type.forSchema({ type: 'record', name: 'a.T', fields: [] });
  const b = avro.Type.forSchema({ type: 'record', name: 'b.T', fields: [] });
  assert.throws(() => a.createResolver(b), /no alias found/);
  assert.doesNotThrow(() => a.createResolver(b, { ignoreNamespaces: true }));
  assert.deepEqual(checkCompatibility({ type: 'record', name: 'a.T', fields: [] }, { type: 'record', name: 'b.T', fields: [] }), []);
});
