import type avsc from 'avsc';
import type { SourceValue } from '../../engine/input.js';
import { avroReaderType } from '../avro/avro-reader-type.js';

/**
 * Reads file records (NDJSON objects, Parquet rows) through the source's Avro reader schema,
 * the schema the Kafka path decodes with: a record is the schema's fields, in schema order,
 * each holding a value of its type; a missing field takes its default. Anything else is a
 * bad record, with the field and the reason, so a file replay, `produce` and a Kafka replay
 * reject the same records.
 *
 * The check is compiled once per schema into straight-line code (top-level primitives are
 * inline typeof tests, other types use avsc's own compiled checker), so the hot path walks
 * no object generically; the reason is worked out only for records that fail.
 */
export interface RecordConformer {
  /** The schema's field names, in schema order. */
  readonly fields: readonly string[];
  /** Per field: its default, or undefined when it has none. A fresh copy per call. */
  defaultOf(field: number): unknown;
  /** The record as the schema reads it (schema fields only, defaults filled), or undefined when it does not match. */
  conform(value: Readonly<Record<string, unknown>>): SourceValue | undefined;
  /** True when a record that holds every schema field (e.g. a row built in schema order) matches. */
  check(value: Readonly<Record<string, unknown>>): boolean;
  /** Per field, in schema order: whether a value is one of its type. check(v) is all of them on v's fields. */
  readonly fieldChecks: ReadonlyArray<(x: unknown) => boolean>;
  /** Per field, in schema order: its Avro type name ('long', 'string', 'union:unwrapped', ...). */
  readonly fieldTypes: readonly string[];
  /** Why a record does not match: `field "x": expected double, got string "12.5"`. */
  problem(value: Readonly<Record<string, unknown>>): string;
}

const conformers = new WeakMap<object, RecordConformer>();

/** The conformer of a reader schema (an .avsc object), built once per schema object. */
export function recordConformer(readerSchema: object): RecordConformer {
  let c = conformers.get(readerSchema);
  if (!c) conformers.set(readerSchema, (c = compileConformer(avroReaderType(readerSchema))));
  return c;
}

interface FieldInfo {
  readonly name: string;
  readonly type: avsc.Type;
  readonly hasDefault: boolean;
  readonly defaultValue: () => unknown;
}

function compileConformer(type: avsc.Type): RecordConformer {
  if (type.typeName !== 'record') throw new Error(`the source schema is a ${type.typeName}, not a record`);
  const fields: FieldInfo[] = (type as avsc.types.RecordType).fields.map((f) => ({
    name: f.name,
    type: f.type,
    hasDefault: f.defaultValue() !== undefined,
    defaultValue: () => f.defaultValue(),
  }));
  const types = fields.map((f) => f.type);
  const defaults = fields.map((f) => f.defaultValue);
  const read = (i: number): string => `v[${JSON.stringify(fields[i].name)}]`;

  const conformBody = fields
    .map((f, i) => {
      const fill = f.hasDefault ? `\n  if (x${i} === undefined) x${i} = D[${i}]();` : '';
      return `  let x${i} = ${read(i)};${fill}\n  if (!(${inlineCheck(f.type, `x${i}`, i)})) return undefined;`;
    })
    .join('\n');
  // A computed key never sets the prototype, so `__proto__` is a plain field here too.
  const literal = fields.map((f, i) => (f.name === '__proto__' ? `[${JSON.stringify(f.name)}]: x${i}` : `${JSON.stringify(f.name)}: x${i}`)).join(', ');
  const checkBody = fields.map((f, i) => `(${inlineCheck(f.type, read(i), i)})`).join(' &&\n    ') || 'true';

  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- generated from the schema; names are embedded as JSON literals
  const conform = new Function('T', 'D', `return function conform(v) {\n${conformBody}\n  return { ${literal} };\n};`)(types, defaults) as RecordConformer['conform'];
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- as above
  const check = new Function('T', `return function check(v) {\n  return ${checkBody};\n};`)(types) as RecordConformer['check'];

  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- as above
  const fieldChecks = fields.map((f, i) => new Function('T', `return function checkField(x) {\n  return ${inlineCheck(f.type, 'x', i)};\n};`)(types) as (x: unknown) => boolean);

  return {
    fields: fields.map((f) => f.name),
    fieldChecks,
    fieldTypes: fields.map((f) => f.type.typeName),
    defaultOf: (i) => (fields[i].hasDefault ? fields[i].defaultValue() : undefined),
    conform,
    check,
    problem: (value) => describeProblem(fields, value),
  };
}

/** A JS expression that is true when `x` is a valid value of `type`. */
function inlineCheck(type: avsc.Type, x: string, i: number): string {
  switch (type.typeName) {
    case 'null':
      return `${x} === null`;
    case 'boolean':
      return `typeof ${x} === 'boolean'`;
    case 'int':
      return `typeof ${x} === 'number' && (${x} | 0) === ${x}`;
    case 'long':
      return `Number.isSafeInteger(${x})`;
    case 'float':
    case 'double':
      return `typeof ${x} === 'number'`;
    case 'string':
      return `typeof ${x} === 'string'`;
    default:
      return `T[${i}].isValid(${x})`;
  }
}

function describeProblem(fields: readonly FieldInfo[], value: Readonly<Record<string, unknown>>): string {
  if (value === null || typeof value !== 'object') return `expected a record, got ${show(value)}`;
  for (const f of fields) {
    let x = value[f.name];
    if (x === undefined) {
      if (!f.hasDefault) return `field "${f.name}" is missing (the schema gives it no default)`;
      x = f.defaultValue();
    }
    let seen = false;
    let where = '';
    let expected = f.type;
    let got: unknown = x;
    const ok = f.type.isValid(x, {
      errorHook: (path: string[], any: unknown, type: avsc.Type) => {
        if (seen) return; // keep the first, innermost problem
        seen = true;
        where = path.map((p) => (/^\d+$/.test(p) ? `[${p}]` : `.${p}`)).join('');
        expected = type;
        got = any;
      },
    });
    if (!ok) return `field "${f.name}${where}": expected ${typeLabel(expected)}, got ${show(got)}`;
  }
  return 'the record does not match the schema';
}

function typeLabel(type: avsc.Type): string {
  const branches = (type as { types?: avsc.Type[] }).types;
  if (type.typeName.startsWith('union') && branches) return branches.map(typeLabel).join(' | ');
  const name = (type as { name?: string }).name;
  return name ? `${type.typeName} ${name}` : type.typeName;
}

function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (v instanceof Uint8Array) return `bytes (${v.length})`;
  const kind = Array.isArray(v) ? 'array' : typeof v;
  let text: string;
  try {
    text = JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x)) ?? String(v);
  } catch {
    text = String(v);
  }
  return `${kind} ${text.length > 60 ? `${text.slice(0, 57)}...` : text}`;
}
