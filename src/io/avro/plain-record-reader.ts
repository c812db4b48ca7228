/**
 * Reads Avro binary straight into plain objects, for values written with the reader's own
 * schema (the common case: the producer and the topology share the .avsc).
 *
 * avsc's decode() builds an instance of a generated class per record and a Tap per call, and
 * sources want plain objects, so each value was built twice and copied once. Here a record is
 * one object literal per value, its fields read by avsc's own leaf readers (`_read` of the
 * field types, strict UTF-8 strings included), so every value, every error and every
 * truncation is what avsc would give; only the containers differ. One Tap is reused.
 */
import { createRequire } from 'node:module';
import type avsc from 'avsc';

/** avsc's cursor over a buffer (avsc/lib/utils.js). */
interface Tap {
  buf: Buffer;
  pos: number;
}

interface AvscInternals {
  readonly typeName: string;
  readonly fields?: ReadonlyArray<{ readonly name: string; readonly type: avsc.Type }>;
  readonly types?: readonly avsc.Type[];
  readonly itemsType?: avsc.Type;
  readonly valuesType?: avsc.Type;
  readonly underlyingType?: avsc.Type;
  _read(tap: Tap): unknown;
}

type ReadFn = (tap: Tap) => unknown;

// avsc's index does not export its Tap; its leaf readers need one.
const { Tap: AvscTap } = createRequire(import.meta.url)('avsc/lib/utils.js') as { Tap: new (buf: Buffer, pos: number) => Tap };

const EMPTY = Buffer.alloc(0);

const internals = (t: avsc.Type): AvscInternals => t as unknown as AvscInternals;

/** Whether values of this type hold a record anywhere (then avsc would give class instances). */
function holdsRecord(t: avsc.Type, seen = new Set<avsc.Type>()): boolean {
  if (seen.has(t)) return true;
  seen.add(t);
  const i = internals(t);
  if (i.typeName === 'record' || i.typeName === 'error') return true;
  const children = [...(i.types ?? []), ...(i.itemsType ? [i.itemsType] : []), ...(i.valuesType ? [i.valuesType] : []), ...(i.underlyingType ? [i.underlyingType] : [])];
  return children.some((c) => holdsRecord(c, seen));
}

/**
 * Plain copy of a value avsc decoded: records (instances of generated classes) become plain
 * objects with the same own keys in field order, as JSON.parse gives for NDJSON. Bytes stay
 * Buffers, arrays arrays.
 */
export function toPlain(v: unknown): unknown {
  if (v === null || typeof v !== 'object' || Buffer.isBuffer(v)) return v;
  if (Array.isArray(v)) return v.map(toPlain);
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v)) out[k] = toPlain((v as Record<string, unknown>)[k]);
  return out;
}

/** An identifier avsc would accept as a field name, and safe as an object literal key. */
const literalKey = (name: string): boolean => /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) && name !== '__proto__';

function readerOf(t: avsc.Type, records: Map<avsc.Type, ReadFn>): ReadFn {
  const i = internals(t);
  if (i.typeName === 'record' || i.typeName === 'error') return recordReader(t, records);
  // No record inside: avsc's reader already gives plain values (primitives, Buffers, arrays, objects for maps).
  if (!holdsRecord(t)) return (tap) => i._read(tap);
  // A record inside a union, array or map: read with avsc, then copy (rare in sources).
  return (tap) => toPlain(i._read(tap));
}

/**
 * A record reader generated once per record type: `{ a: r0(t), b: r1(t), ... }`, fields read
 * in order (object literal properties are evaluated left to right), one hidden class per type.
 */
function recordReader(t: avsc.Type, records: Map<avsc.Type, ReadFn>): ReadFn {
  const known = records.get(t);
  if (known) return known;
  const fields = internals(t).fields ?? [];
  if (!fields.every((f) => literalKey(f.name))) {
    const slow: ReadFn = (tap) => toPlain(internals(t)._read(tap));
    records.set(t, slow);
    return slow;
  }
  // Recursive record types refer to themselves: the slot is filled once the reader is built.
  const readers: ReadFn[] = [];
  const self: ReadFn = (tap) => generated(tap);
  records.set(t, self);
  for (const f of fields) readers.push(readerOf(f.type, records));
  const body = `return function readPlain(t) {\n  return {\n${fields.map((f, k) => `    ${f.name}: r[${k}](t),`).join('\n')}\n  };\n};`;
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- generated once per schema, from field names checked above
  const generated = new Function('r', body)(readers) as ReadFn;
  records.set(t, generated);
  return generated;
}

/** A reader of one schema's values into plain objects, reusing one cursor. */
export class PlainRecordReader {
  private readonly readValue: ReadFn;
  private readonly tap: Tap = new AvscTap(EMPTY, 0);
  /** Where the last value read ended; past the buffer's length when it was cut short (avsc's decode reports offset −1). */
  end = 0;

  constructor(type: avsc.Type) {
    this.readValue = readerOf(type, new Map());
  }

  /**
   * Read the value starting at `pos` of `buf`, then `end` says where it ended. Throws what
   * avsc's readers throw (invalid union or enum index, invalid UTF-8, precision loss of a long).
   */
  read(buf: Buffer, pos: number): unknown {
    const tap = this.tap;
    tap.buf = buf;
    tap.pos = pos;
    try {
      return this.readValue(tap);
    } finally {
      this.end = tap.pos;
      // The reader does not keep the last input alive.
      tap.buf = EMPTY;
    }
  }
}

type Resolver = ReturnType<avsc.Type['createResolver']>;

/**
 * Values of one writer schema as plain objects: read directly by a PlainRecordReader when it is
 * the reader's own schema, through avsc's resolver (then copied) otherwise. The Kafka decoder and
 * the archive reader both decode through it, so sources get the same JS values from either.
 */
export class PlainValueDecoder {
  private readonly plain: PlainRecordReader | undefined;
  /** Where the last value decoded ended; −1 when the data ended inside it. */
  end = 0;

  constructor(
    private readonly type: avsc.Type,
    private readonly resolver?: Resolver,
  ) {
    this.plain = resolver === undefined ? new PlainRecordReader(type) : undefined;
  }

  /** The value starting at `pos` of `buf`, then `end` says where it ended. Throws what avsc's readers throw. */
  decode(buf: Buffer, pos: number): unknown {
    if (this.plain !== undefined) {
      const value = this.plain.read(buf, pos);
      this.end = this.plain.end > buf.length ? -1 : this.plain.end;
      return this.end < 0 ? undefined : value;
    }
    const decoded = this.type.decode(buf, pos, this.resolver);
    this.end = decoded.offset;
    return decoded.offset < 0 ? undefined : toPlain(decoded.value);
  }
}
