/**
 * Compatibility levels, as the Confluent registry defines them: which (reader, writer) pairs a
 * new schema must resolve against the existing versions of its subject.
 *
 * - BACKWARD: the new schema reads data written with the latest version;
 * - FORWARD: the latest version reads data written with the new schema;
 * - FULL: both;
 * - *_TRANSITIVE: the same against every existing version, not only the latest;
 * - NONE: nothing is checked.
 */
import { COMPATIBILITY_LEVELS, type CompatibilityLevel } from '../io/avro/registry-compatibility.js';
import type { AvroSchemaJson } from './avro-model.js';
import { parseAvroSchema } from './avro-model.js';
import { checkCompatibility, type CompatibilityProblem } from './compatibility-rules.js';

// The level names are the registry's (the client in io/avro parses them from its answers).
export { COMPATIBILITY_LEVELS, type CompatibilityLevel } from '../io/avro/registry-compatibility.js';

/** 'backward': the new schema is the reader; 'forward': the existing version is the reader. */
export type Direction = 'backward' | 'forward';

/** One existing version of a subject: a registry version number, or a git ref in offline mode. */
export interface SchemaVersion {
  readonly version: string | number;
  readonly schema: AvroSchemaJson;
}

export interface CheckPair {
  readonly version: string | number;
  readonly direction: Direction;
  readonly reader: 'new' | 'existing';
  readonly writer: 'new' | 'existing';
}

export interface LevelProblem extends CompatibilityProblem {
  /** The existing version the new schema conflicts with. */
  readonly version: string | number;
  readonly direction: Direction;
}

/** Parse a level name (case-insensitive); throws a one-line error listing the levels. */
export function parseCompatibilityLevel(value: string): CompatibilityLevel {
  const up = value.trim().toUpperCase();
  const found = COMPATIBILITY_LEVELS.find((l) => l === up);
  if (!found) throw new Error(`--level ${value}: unknown compatibility level (one of ${COMPATIBILITY_LEVELS.join(', ')})`);
  return found;
}

/**
 * The pairs a level checks, given the existing versions in registration order (oldest first,
 * latest last): per version, backward before forward; transitive levels go through every
 * version in order, the others only through the latest.
 */
export function pairsToCheck(level: CompatibilityLevel, existing: readonly { readonly version: string | number }[]): CheckPair[] {
  if (level === 'NONE' || existing.length === 0) return [];
  const transitive = level.endsWith('_TRANSITIVE');
  const base = level.replace('_TRANSITIVE', '');
  const versions = transitive ? existing : existing.slice(-1);
  const pairs: CheckPair[] = [];
  for (const v of versions) {
    if (base === 'BACKWARD' || base === 'FULL') pairs.push({ version: v.version, direction: 'backward', reader: 'new', writer: 'existing' });
    if (base === 'FORWARD' || base === 'FULL') pairs.push({ version: v.version, direction: 'forward', reader: 'existing', writer: 'new' });
  }
  return pairs;
}

/**
 * Every problem of a new schema against the existing versions under a level, each tagged with
 * the version it conflicts with and the direction (backward: the new schema cannot read that
 * version's data; forward: that version cannot read the new schema's data). `strictDecimals`:
 * see CheckOptions.
 */
export function checkAgainstLevel(newSchema: AvroSchemaJson, existing: readonly SchemaVersion[], level: CompatibilityLevel, opts: { readonly strictDecimals?: boolean } = {}): LevelProblem[] {
  const pairs = pairsToCheck(level, existing);
  if (pairs.length === 0) return [];
  const parsedNew = { parsed: parseAvroSchema(newSchema) };
  const parsed = new Map<string | number, { parsed: ReturnType<typeof parseAvroSchema> }>();
  const existingOf = (version: string | number): { parsed: ReturnType<typeof parseAvroSchema> } => {
    let p = parsed.get(version);
    if (!p) {
      const v = existing.find((e) => e.version === version) as SchemaVersion;
      try {
        p = { parsed: parseAvroSchema(v.schema) };
      } catch (e) {
        throw new Error(`version ${String(version)}: ${(e as Error).message}`);
      }
      parsed.set(version, p);
    }
    return p;
  };
  const out: LevelProblem[] = [];
  for (const pair of pairs) {
    const old = existingOf(pair.version);
    const problems =
      pair.direction === 'backward'
        ? checkCompatibility(parsedNew, old, { readerRole: 'new', strictDecimals: opts.strictDecimals })
        : checkCompatibility(old, parsedNew, { readerRole: 'old', strictDecimals: opts.strictDecimals });
    for (const p of problems) out.push({ ...p, version: pair.version, direction: pair.direction });
  }
  return out;
}
