/**
 * Avro schema resolution, as a checker that lists every problem instead of stopping at the
 * first: can a reader schema read all data written with a writer schema?
 *
 * The verdict is Apache Avro Java's SchemaCompatibility.checkReaderWriterCompatibility (1.12),
 * which the registry runs (test/unit/schemas-avro-conformance.test.ts holds the published cases):
 * - records: every reader field must match a writer field (by name or one of the reader
 *   field's aliases) or have a default; writer fields the reader lacks are skipped;
 * - primitives: the same type, or a promotion: int → long/float/double, long → float/double,
 *   float → double, string ↔ bytes;
 * - enums: every writer symbol must be a reader symbol, unless the reader enum has a default;
 * - fixed: the same size;
 * - named types (record, enum, fixed): the same unqualified name (a namespace change alone is
 *   fine), or the writer's *full* name among the reader's aliases, an unqualified alias being
 *   in the reader type's namespace (so a type renamed and moved to another namespace needs the
 *   old full name as alias);
 * - unions: every branch the writer may write must be readable by some reader branch (a
 *   non-union writer is one branch); an empty reader union reads nothing, an empty writer
 *   union writes nothing;
 * - logical types are not compared: decimal precision and scale may change, as the registry
 *   allows. `strictDecimals` adds the Avro specification's stricter rule (decimals match only
 *   with the same precision and scale), since a scale change reinterprets the stored numbers.
 *
 * Each problem carries a field path: `amount`, `address.zip` (nested record), `items[].price`
 * (array items), `meta{}.x` (map values), `value|branch:string` (a writer union branch);
 * the empty path is the top-level type.
 *
 * Where a pair has no empty union and no type alias, `reader.createResolver(writer,
 * { ignoreNamespaces: true })` of avsc throws exactly when this returns problems (tested on
 * generated pairs); avsc compares aliases without namespaces and rejects empty unions.
 */
import { branchLabel, describeType, parseAvroSchema, unqualified, type AvroNode, type AvroSchemaJson, type FieldNode } from './avro-model.js';

export type CompatibilityRule =
  /** The new schema (reader) has a field the old data lacks, without a default. */
  | 'field-added-without-default'
  /** The new schema dropped a field that the old schema (reader) needs and has no default for. */
  | 'field-removed-without-default'
  /** A reader field matches several writer fields through its aliases. */
  | 'field-alias-ambiguous'
  /** A type changed in a way that is not an Avro promotion. */
  | 'type-changed'
  /** The new schema (reader) lacks a symbol the old data may hold, and its enum has no default. */
  | 'enum-symbol-removed'
  /** The new schema (writer) added a symbol that the old schema (reader) lacks, and the old enum has no default. */
  | 'enum-symbol-added'
  /** A branch the writer may write is readable by no branch of the reader. */
  | 'union-branch-unreadable'
  /** The reader has an empty union `[]` where the writer writes a value: it reads nothing. */
  | 'union-empty'
  /** A record, enum or fixed was renamed and the reader has no alias for the writer's name. */
  | 'named-type-renamed'
  | 'fixed-size-changed'
  | 'decimal-precision-changed'
  | 'decimal-scale-changed';

/** Every rule id, in a stable order. */
export const COMPATIBILITY_RULES: readonly CompatibilityRule[] = [
  'field-added-without-default',
  'field-removed-without-default',
  'field-alias-ambiguous',
  'type-changed',
  'enum-symbol-removed',
  'enum-symbol-added',
  'union-branch-unreadable',
  'union-empty',
  'named-type-renamed',
  'fixed-size-changed',
  'decimal-precision-changed',
  'decimal-scale-changed',
];

/** Rules of `strictDecimals` only, beyond what Avro Java and avsc's resolver check (they do not compare logical types). */
export const LOGICAL_TYPE_RULES: ReadonlySet<CompatibilityRule> = new Set(['decimal-precision-changed', 'decimal-scale-changed']);

export interface CompatibilityProblem {
  /** Field path: `amount`, `address.zip`, `items[].price`, `meta{}.x`, `value|branch:string`; '' is the top-level type. */
  readonly path: string;
  readonly rule: CompatibilityRule;
  readonly message: string;
  readonly fix: string;
}

/**
 * Which of the two schemas is the new one. 'new' (the default): the reader is the new schema
 * and the writer an existing version (a BACKWARD check). 'old': the reader is an existing
 * version and the writer the new schema (a FORWARD check). It only changes rule ids and the
 * wording of messages and fixes (a reader field missing from the writer is a field *added*
 * without default when the reader is new, *removed* when the reader is old), never the verdict.
 */
export type ReaderRole = 'new' | 'old';

export interface CheckOptions {
  readonly readerRole?: ReaderRole;
  /** Also require equal decimal precision and scale (Avro specification); off by default, as in Avro Java and the registry. */
  readonly strictDecimals?: boolean;
}

/** A schema as JSON (the content of an .avsc file) or already parsed. */
export type SchemaInput = AvroSchemaJson | { readonly parsed: AvroNode };

function toNode(s: SchemaInput): AvroNode {
  if (s !== null && typeof s === 'object' && !Array.isArray(s) && 'parsed' in s) return (s as { parsed: AvroNode }).parsed;
  return parseAvroSchema(s as AvroSchemaJson);
}

const PROMOTIONS: Readonly<Record<string, readonly string[]>> = {
  // reader type: writer types it can read besides itself
  long: ['int'],
  float: ['int', 'long'],
  double: ['int', 'long', 'float'],
  string: ['bytes'],
  bytes: ['string'],
};

const PROMOTION_NOTE = 'Avro promotions are int→long/float/double, long→float/double, float→double and string↔bytes';

interface Ctx {
  readonly role: ReaderRole;
  /** The reader and writer as named in messages. */
  readonly R: string;
  readonly W: string;
  readonly strictDecimals: boolean;
  /** Record pairs being checked further up (recursive schemas). */
  readonly active: Array<readonly [AvroNode, AvroNode]>;
}

const fieldPath = (path: string, name: string): string => (path === '' ? name : `${path}.${name}`);
const where = (path: string): string => (path === '' ? 'the top-level type' : `"${path}"`);
const quoteList = (xs: readonly string[]): string => xs.map((x) => `"${x}"`).join(', ');

/**
 * Every problem a reader schema has reading data written with a writer schema (empty when
 * compatible). Names compare unqualified; reader aliases resolve renamed types (by full name)
 * and fields.
 */
export function checkCompatibility(reader: SchemaInput, writer: SchemaInput, opts: CheckOptions = {}): CompatibilityProblem[] {
  const role = opts.readerRole ?? 'new';
  const ctx: Ctx = {
    role,
    R: role === 'new' ? 'the new schema (reader)' : 'the old schema (reader)',
    W: role === 'new' ? 'the old schema (writer)' : 'the new schema (writer)',
    strictDecimals: opts.strictDecimals === true,
    active: [],
  };
  return check(toNode(reader), toNode(writer), '', ctx);
}

/** True when the reader can read everything the writer writes. */
export function isCompatible(reader: SchemaInput, writer: SchemaInput, opts: Omit<CheckOptions, 'readerRole'> = {}): boolean {
  return checkCompatibility(reader, writer, opts).length === 0;
}

function check(r: AvroNode, w: AvroNode, path: string, ctx: Ctx): CompatibilityProblem[] {
  if (w.kind === 'union') {
    const out: CompatibilityProblem[] = [];
    for (const b of w.branches) out.push(...checkBranch(r, b, `${path}|branch:${branchLabel(b)}`, ctx, true));
    return out;
  }
  return checkBranch(r, w, path, ctx, false);
}

/** A single (non-union) writer type against the reader; `inUnion` when it is a branch of a writer union. */
function checkBranch(r: AvroNode, w: AvroNode, path: string, ctx: Ctx, inUnion: boolean): CompatibilityProblem[] {
  if (r.kind !== 'union') {
    if (sameKind(r, w)) return checkSameKind(r, w, path, ctx);
    return [mismatch(r, w, path, ctx, inUnion)];
  }
  if (r.branches.length === 0) return [emptyUnion(w, path, ctx, inUnion)];
  // Reader union: readable when any branch reads it.
  let closest: CompatibilityProblem[] | undefined;
  let closestNamed = false;
  for (const b of r.branches) {
    if (!sameKind(b, w)) continue;
    const problems = checkSameKind(b, w, path, ctx);
    if (problems.length === 0) return [];
    // None reads it (so far): explain through the closest branch, the first of the same kind and name.
    const named = nameMatches(b, w);
    if (!closest || (named && !closestNamed)) {
      closest = problems;
      closestNamed = named;
    }
  }
  if (closest) return closest;
  return [mismatch(r, w, path, ctx, inUnion)];
}

/** Kinds that can resolve into each other: equal kinds, or a primitive promotion. */
function sameKind(r: AvroNode, w: AvroNode): boolean {
  if (r.kind === 'primitive' && w.kind === 'primitive') return r.type === w.type || (PROMOTIONS[r.type] ?? []).includes(w.type);
  return r.kind === w.kind && r.kind !== 'union';
}

/** Avro Java's SchemaCompatibility.schemaNameEquals: the same unqualified name, or the writer's full name among the reader's (qualified) aliases. */
function nameMatches(r: AvroNode, w: AvroNode): boolean {
  if (!('name' in r) || !('name' in w)) return true;
  return r.name === w.name || r.aliases.includes(w.fullName);
}

function emptyUnion(w: AvroNode, path: string, ctx: Ctx, inUnion: boolean): CompatibilityProblem {
  const wt = describeType(w);
  const at = where(inUnion ? path.slice(0, path.lastIndexOf('|branch:')) : path);
  return {
    path,
    rule: 'union-empty',
    message: `${ctx.R} has an empty union [] at ${at}, which reads nothing, but ${ctx.W} writes ${wt} there`,
    fix:
      ctx.role === 'new'
        ? `give the union at ${at} a branch that reads ${wt} (e.g. ["null", "${branchLabel(w)}"]), or keep the old type`
        : `the old schema reads no value at ${at}: the new schema cannot write one there (keep the empty union, or register a reader with a real type first)`,
  };
}

function mismatch(r: AvroNode, w: AvroNode, path: string, ctx: Ctx, inUnion: boolean): CompatibilityProblem {
  const wt = describeType(w);
  const rt = describeType(r);
  if (inUnion) {
    return {
      path,
      rule: 'union-branch-unreadable',
      message:
        `${ctx.W} may write ${wt} at ${where(path.slice(0, path.lastIndexOf('|branch:')))}, ` +
        (r.kind === 'union' ? `and no branch of ${ctx.R} type ${rt} reads it` : `which ${ctx.R} type ${rt} cannot read`),
      fix:
        ctx.role === 'new'
          ? `keep a branch that reads ${wt} in the new schema (e.g. keep "${branchLabel(w)}" in its union)`
          : `do not let the new schema write ${wt} here: consumers on the old schema cannot read it (remove "${branchLabel(w)}" from the new union)`,
    };
  }
  return {
    path,
    rule: 'type-changed',
    message:
      r.kind === 'union'
        ? `${ctx.R} reads ${rt} at ${where(path)}, and none of its branches reads ${wt} written by ${ctx.W}`
        : `${ctx.R} reads ${rt} at ${where(path)} but ${ctx.W} writes ${wt}; ${PROMOTION_NOTE}`,
    fix:
      ctx.role === 'new'
        ? `keep the type ${wt} (or a promotion of it); to change a type, add a new field with the new type and a default and stop using the old one`
        : `keep writing ${rt} (or a type it promotes from); to change a type, add a new field with a default and deprecate the old one`,
  };
}

function checkSameKind(r: AvroNode, w: AvroNode, path: string, ctx: Ctx): CompatibilityProblem[] {
  switch (r.kind) {
    case 'primitive':
      return w.kind === 'primitive' && ctx.strictDecimals ? decimalProblems(r.logical, w.logical, path, ctx) : [];
    case 'record':
      return w.kind === 'record' ? checkRecord(r, w, path, ctx) : [];
    case 'enum':
      return w.kind === 'enum' ? checkEnum(r, w, path, ctx) : [];
    case 'fixed': {
      if (w.kind !== 'fixed') return [];
      const out = renameProblems(r, w, path, ctx);
      if (r.size !== w.size) {
        out.push({
          path,
          rule: 'fixed-size-changed',
          message: `fixed ${r.name} is ${r.size} bytes in ${ctx.R} but ${w.size} bytes in ${ctx.W}`,
          fix: `keep the size ${ctx.role === 'new' ? w.size : r.size}; for another size, declare a new fixed type in a new field with a default`,
        });
      }
      if (ctx.strictDecimals) out.push(...decimalProblems(r.logical, w.logical, path, ctx));
      return out;
    }
    case 'array':
      return w.kind === 'array' ? check(r.items, w.items, `${path}[]`, ctx) : [];
    case 'map':
      return w.kind === 'map' ? check(r.values, w.values, `${path}{}`, ctx) : [];
    case 'union':
      return check(r, w, path, ctx);
  }
}

type Named = Extract<AvroNode, { name: string }>;

function renameProblems(r: Named, w: Named, path: string, ctx: Ctx): CompatibilityProblem[] {
  if (nameMatches(r, w)) return [];
  return [
    {
      path,
      rule: 'named-type-renamed',
      message:
        `${r.kind} ${r.fullName} of ${ctx.R} does not match ${w.kind} ${w.fullName} of ${ctx.W}: the names differ and no alias of ${r.fullName} is "${w.fullName}"` +
        (r.aliases.some((a) => unqualified(a) === w.name) ? ` (aliases are full names: an alias without namespace is in ${r.fullName}'s namespace)` : ''),
      fix:
        ctx.role === 'new'
          ? `add "aliases": ["${w.fullName}"] (the full old name) to ${r.kind} ${r.name} in the new schema, or keep the name ${w.name}`
          : `keep the name ${r.name} in the new schema: readers on the old schema cannot resolve the new name ${w.fullName}`,
    },
  ];
}

function checkRecord(r: Extract<AvroNode, { kind: 'record' }>, w: Extract<AvroNode, { kind: 'record' }>, path: string, ctx: Ctx): CompatibilityProblem[] {
  // A recursive reference to a pair already being checked: its problems are reported there.
  if (ctx.active.some(([a, b]) => a === r && b === w)) return [];
  ctx.active.push([r, w]);
  const out = renameProblems(r, w, path, ctx);
  const byName = new Map<string, FieldNode>(w.fields.map((f) => [f.name, f]));
  for (const rf of r.fields) {
    const fp = fieldPath(path, rf.name);
    const names = [rf.name, ...rf.aliases.filter((a) => a !== rf.name)];
    const matches = names.filter((n) => byName.has(n));
    if (matches.length > 1) {
      out.push({
        path: fp,
        rule: 'field-alias-ambiguous',
        message: `field "${rf.name}" of ${ctx.R} matches several fields of ${ctx.W} through its name and aliases: ${quoteList(matches)}`,
        fix: `keep only one of ${quoteList(matches)} among the name and aliases of field "${rf.name}"`,
      });
      continue;
    }
    if (matches.length === 0) {
      if (rf.hasDefault) continue;
      const t = describeType(rf.type);
      out.push(
        ctx.role === 'new'
          ? {
              path: fp,
              rule: 'field-added-without-default',
              message: `field "${fp}" (${t}) is in the new schema (reader) but not in the old schema (writer) and has no default, so old records cannot be read`,
              fix: `add a default to "${rf.name}" in the new schema (e.g. type ["null", ...] with "default": null), or an alias naming the old field if it was renamed`,
            }
          : {
              path: fp,
              rule: 'field-removed-without-default',
              message: `field "${fp}" (${t}) is missing from the new schema (writer) and the old schema (reader) has no default for it, so consumers on the old schema cannot read new records`,
              fix: `keep field "${rf.name}" in the new schema; to drop a field, it must first have a default in the versions that read it`,
            },
      );
      continue;
    }
    out.push(...check(rf.type, (byName.get(matches[0]) as FieldNode).type, fp, ctx));
  }
  ctx.active.pop();
  return out;
}

function checkEnum(r: Extract<AvroNode, { kind: 'enum' }>, w: Extract<AvroNode, { kind: 'enum' }>, path: string, ctx: Ctx): CompatibilityProblem[] {
  const out = renameProblems(r, w, path, ctx);
  if (r.default !== undefined) return out;
  const known = new Set(r.symbols);
  for (const s of w.symbols) {
    if (known.has(s)) continue;
    out.push(
      ctx.role === 'new'
        ? {
            path,
            rule: 'enum-symbol-removed',
            message: `enum ${r.name} of the new schema (reader) lacks symbol "${s}" that the old schema (writer) may have written, and has no default`,
            fix: `keep symbol "${s}" in enum ${r.name}, or give the enum a "default" symbol`,
          }
        : {
            path,
            rule: 'enum-symbol-added',
            message: `the new schema (writer) adds symbol "${s}" to enum ${w.name}, which the old schema (reader) lacks and has no default for`,
            fix: `do not add symbol "${s}" yet: first publish a version whose enum ${r.name} has a "default", then add symbols`,
          },
    );
  }
  return out;
}

function decimalProblems(
  r: { logicalType: string; precision?: number; scale?: number } | undefined,
  w: { logicalType: string; precision?: number; scale?: number } | undefined,
  path: string,
  ctx: Ctx,
): CompatibilityProblem[] {
  if (r?.logicalType !== 'decimal' || w?.logicalType !== 'decimal') return [];
  const out: CompatibilityProblem[] = [];
  if (r.precision !== w.precision) {
    out.push({
      path,
      rule: 'decimal-precision-changed',
      message: `decimal precision is ${r.precision ?? '?'} in ${ctx.R} but ${w.precision ?? '?'} in ${ctx.W}; the Avro specification resolves decimals only when precision and scale match (--strict-decimals)`,
      fix: `keep precision ${ctx.role === 'new' ? w.precision : r.precision}; for another precision, add a new field with a default`,
    });
  }
  if ((r.scale ?? 0) !== (w.scale ?? 0)) {
    out.push({
      path,
      rule: 'decimal-scale-changed',
      message: `decimal scale is ${r.scale ?? 0} in ${ctx.R} but ${w.scale ?? 0} in ${ctx.W}: the same bytes would mean another number`,
      fix: `keep scale ${ctx.role === 'new' ? (w.scale ?? 0) : (r.scale ?? 0)}; for another scale, add a new field with a default`,
    });
  }
  return out;
}
