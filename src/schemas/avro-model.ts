/**
 * A small resolved model of an Avro schema (named references replaced by the node they name,
 * recursion kept as a cycle) that the compatibility rules and the topology field check walk.
 * Parsing goes through avsc first, so an invalid schema fails with avsc's message.
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
      /** Unqualified name: what the rules compare, as the Confluent registry does. */
      readonly name: string;
      /** Unqualified aliases. */
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
    avro.Type.forSchema(schema);
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
    const aliasesOf = (): string[] => (Array.isArray(o.aliases) ? (o.aliases as string[]).map(unqualified) : []);
    switch (t) {
      case 'record':
      case 'error': {
        const { full, ns: inner } = fullNameOf(String(o.name), o.namespace, ns);
        const fields: FieldNode[] = [];
        const node: AvroNode = { kind: 'record', fullName: full, name: unqualified(full), aliases: aliasesOf(), fields };
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
          aliases: aliasesOf(),
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
          aliases: aliasesOf(),
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
