/**
 * A small resolved model of an Avro schema (named references replaced by the node they name,
 * recursion kept as a cycle) that the compatibility rules and the topology field check walk.
 * Parsing goes through avsc first, so an invalid schema fails with avsc's message. One
 * exception: the empty union `[]`, which avsc rejects but Avro Java (and so the registry)
 * accepts; it is parsed as a union without branches, which reads nothing.
 */
import avro from 'avsc';

export type AvroSchemaJson = avro.Schema;

export type PrimitiveName = 'null' | 'boolean' | 'int' | 'long' | 'float' | 'double' | 'bytes' | 'string';

/** Logical-type attributes kept for the rules that need them (decimal) and for messages. */
export interface LogicalInfo {
  readonly logicalType: string;
  readonly precision?: number;
  readonly scale?: number;
}

export interface FieldNode {
  readonly name: string;
  readonly aliases: readonly string[];
  readonly type: AvroNode;
  readonly hasDefault: boolean;
}

export type AvroNode =
  | { readonly kind: 'primitive'; readonly type: PrimitiveName; readonly logical?: LogicalInfo }
  | {
      readonly kind: 'record';
      /** Full name as written (namespace included). */
      readonly fullName: string;
      /** Unqualified name: what the rules compare names with, as Avro Java does. */
      readonly name: string;
      /** Aliases as full names (see qualifyAlias), compared with the writer's full name. */
      readonly aliases: readonly string[];
      readonly fields: FieldNode[];
    }
  | {
      readonly kind: 'enum';
      readonly fullName: string;
      readonly name: string;
      readonly aliases: readonly string[];
      readonly symbols: readonly string[];
      readonly default?: string;
    }
  | {
      readonly kind: 'fixed';
      readonly fullName: string;
      readonly name: string;
      readonly aliases: readonly string[];
      readonly size: number;
      readonly logical?: LogicalInfo;
    }
  | { readonly kind: 'array'; readonly items: AvroNode }
  | { readonly kind: 'map'; readonly values: AvroNode }
  | { readonly kind: 'union'; readonly branches: readonly AvroNode[] };

const PRIMITIVES = new Set<string>(['null', 'boolean', 'int', 'long', 'float', 'double', 'bytes', 'string']);

export function unqualified(name: string): string {
  const i = name.lastIndexOf('.');
  return i < 0 ? name : name.slice(i + 1);
}

/**
 * A type alias as Avro Java's Schema.getAliases() gives it: an alias without a dot is in the
 * namespace of the type it names ("a.b" with alias "c" → "a.c"); a dotted alias is a full name.
 * A leading dot (".c", the null namespace) inside a namespaced type stays ".c" in Java, which
 * never equals a full name: kept, so the checker refuses what the registry refuses.
 */
export function qualifyAlias(alias: string, namespace: string | undefined): string {
  const dot = alias.lastIndexOf('.');
  if (dot < 0) return namespace ? `${namespace}.${alias}` : alias;
  if (dot === 0) return namespace ? alias : alias.slice(1);
  return alias;
}

/** The schema with every empty union `[]` in a type position replaced by "null", for avsc's validation only. */
function withoutEmptyUnions(s: unknown): unknown {
  if (Array.isArray(s)) return s.length === 0 ? 'null' : s.map(withoutEmptyUnions);
  if (s === null || typeof s !== 'object') return s;
  const o = s as Record<string, unknown>;
  const out: Record<string, unknown> = { ...o };
  if (typeof o.type === 'object' && o.type !== null) out.type = withoutEmptyUnions(o.type);
  if (Array.isArray(o.fields)) out.fields = (o.fields as Array<Record<string, unknown>>).map((f) => (f && typeof f === 'object' ? { ...f, type: withoutEmptyUnions(f.type) } : f));
  if ('items' in o) out.items = withoutEmptyUnions(o.items);
  if ('values' in o) out.values = withoutEmptyUnions(o.values);
  return out;
}

function logicalOf(o: Record<string, unknown>): LogicalInfo | undefined {
  if (typeof o.logicalType !== 'string') return undefined;
  const info: { logicalType: string; precision?: number; scale?: number } = { logicalType: o.logicalType };
  if (typeof o.precision === 'number') info.precision = o.precision;
  if (o.logicalType === 'decimal') info.scale = typeof o.scale === 'number' ? o.scale : 0;
  return info;
}

/**
 * Parse an Avro schema (JSON value, as in an .avsc file) into the resolved model. Throws
 * `invalid Avro schema: ...` when avsc rejects it.
 */
export function parseAvroSchema(schema: AvroSchemaJson): AvroNode {
  try {
    avro.Type.forSchema(withoutEmptyUnions(schema) as AvroSchemaJson);
  } catch (e) {
    throw new Error(`invalid Avro schema: ${(e as Error).message}`);
  }
  const named = new Map<string, AvroNode>();

  const fullNameOf = (name: string, explicitNs: unknown, enclosing: string | undefined): { full: string; ns: string | undefined } => {
    if (name.includes('.')) return { full: name, ns: name.slice(0, name.lastIndexOf('.')) };
    const ns = typeof explicitNs === 'string' ? explicitNs || undefined : enclosing;
    return { full: ns ? `${ns}.${name}` : name, ns };
  };

  const lookup = (ref: string, ns: string | undefined): AvroNode => {
    const candidates = ref.includes('.') ? [ref] : [ns ? `${ns}.${ref}` : ref, ref];
    for (const c of candidates) {
      const n = named.get(c);
      if (n) return n;
    }
    for (const [full, n] of named) if (unqualified(full) === unqualified(ref)) return n;
    throw new Error(`invalid Avro schema: unknown type ${ref}`);
  };

  const parse = (s: unknown, ns: string | undefined): AvroNode => {
    if (typeof s === 'string') return PRIMITIVES.has(s) ? { kind: 'primitive', type: s as PrimitiveName } : lookup(s, ns);
    if (Array.isArray(s)) return { kind: 'union', branches: s.map((b) => parse(b, ns)) };
    const o = s as Record<string, unknown>;
    const t = o.type;
    if (typeof t !== 'string') return parse(t, ns);
    if (PRIMITIVES.has(t)) {
      const logical = logicalOf(o);
      return logical ? { kind: 'primitive', type: t as PrimitiveName, logical } : { kind: 'primitive', type: t as PrimitiveName };
    }
    const aliasesOf = (full: string): string[] => {
      const dot = full.lastIndexOf('.');
      const space = dot < 0 ? undefined : full.slice(0, dot);
      return Array.isArray(o.aliases) ? (o.aliases as string[]).map((a) => qualifyAlias(a, space)) : [];
    };
    switch (t) {
      case 'record':
      case 'error': {
        const { full, ns: inner } = fullNameOf(String(o.name), o.namespace, ns);
        const fields: FieldNode[] = [];
        const node: AvroNode = { kind: 'record', fullName: full, name: unqualified(full), aliases: aliasesOf(full), fields };
        named.set(full, node); // before the fields: a field may refer to the record itself
        for (const f of (o.fields as Array<Record<string, unknown>>) ?? []) {
          fields.push({
            name: String(f.name),
            aliases: Array.isArray(f.aliases) ? (f.aliases as string[]) : [],
            type: parse(f.type, inner),
            hasDefault: Object.prototype.hasOwnProperty.call(f, 'default'),
          });
        }
        return node;
      }
      case 'enum': {
        const { full } = fullNameOf(String(o.name), o.namespace, ns);
        const node: AvroNode = {
          kind: 'enum',
          fullName: full,
          name: unqualified(full),
          aliases: aliasesOf(full),
          symbols: (o.symbols as string[]) ?? [],
          ...(typeof o.default === 'string' ? { default: o.default } : {}),
        };
        named.set(full, node);
        return node;
      }
      case 'fixed': {
        const { full } = fullNameOf(String(o.name), o.namespace, ns);
        const logical = logicalOf(o);
        const node: AvroNode = {
          kind: 'fixed',
          fullName: full,
          name: unqualified(full),
          aliases: aliasesOf(full),
          size: Number(o.size),
          ...(logical ? { logical } : {}),
        };
        named.set(full, node);
        return node;
      }
      case 'array':
        return { kind: 'array', items: parse(o.items, ns) };
      case 'map':
        return { kind: 'map', values: parse(o.values, ns) };
      default:
        return lookup(t, ns);
    }
  };
  return parse(schema, undefined);
}

/** Short human description of a type: `long`, `long (timestamp-millis)`, `record Address`, `array<int>`, `union [null, string]`. */
export function describeType(n: AvroNode, depth = 0): string {
  switch (n.kind) {
    case 'primitive':
      return n.logical ? `${n.type} (${describeLogical(n.logical)})` : n.type;
    case 'record':
      return `record ${n.name}`;
    case 'enum':
      return `enum ${n.name}`;
    case 'fixed':
      return n.logical ? `fixed ${n.name}[${n.size}] (${describeLogical(n.logical)})` : `fixed ${n.name}[${n.size}]`;
    case 'array':
      return depth > 2 ? 'array' : `array<${describeType(n.items, depth + 1)}>`;
    case 'map':
      return depth > 2 ? 'map' : `map<${describeType(n.values, depth + 1)}>`;
    case 'union':
      return `union [${n.branches.map((b) => branchLabel(b)).join(', ')}]`;
  }
}

function describeLogical(l: LogicalInfo): string {
  return l.logicalType === 'decimal' ? `decimal(${l.precision ?? '?'},${l.scale ?? 0})` : l.logicalType;
}

/** The label of a union branch in paths and messages: the type name for primitives and containers, the unqualified name for named types. */
export function branchLabel(n: AvroNode): string {
  switch (n.kind) {
    case 'primitive':
      return n.type;
    case 'record':
    case 'enum':
    case 'fixed':
      return n.name;
    case 'array':
    case 'map':
      return n.kind;
    case 'union':
      return 'union';
  }
}
