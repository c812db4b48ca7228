import type { TableProgram } from './program.js';

/** A table version's store key, parsed (task-state-keys.ts). */
export interface VersionKey {
  readonly table: string;
  readonly key: string;
  readonly t: number;
}

/**
 * Of the keys a sweep's store walk met (versions in store order: by table, key, then time), those
 * whose versions a trim at `horizon(table)` would shorten: KeyVersions.trim keeps the latest
 * version valid at or before the horizon, so a key loses some once a second one is. Only the
 * versions the walk met count: a key cut by the walk's end is judged again on the next pass.
 */
export function versionKeysToTrim(
  walked: readonly string[],
  parse: (storeKey: string) => VersionKey | undefined,
  tables: ReadonlyMap<string, TableProgram>,
  horizon: (table: TableProgram) => number,
): Array<{ readonly table: TableProgram; readonly key: string }> {
  const met = new Map<string, { readonly table: TableProgram; readonly key: string; readonly times: number[] }>();
  for (const storeKey of walked) {
    const v = parse(storeKey);
    const table = v === undefined ? undefined : tables.get(v.table);
    if (v === undefined || table === undefined) continue;
    const id = `${table.name}\u0000${v.key}`;
    let m = met.get(id);
    if (m === undefined) met.set(id, (m = { table, key: v.key, times: [] }));
    m.times.push(v.t);
  }
  return [...met.values()].filter((m) => m.times.length >= 2 && m.times[1] <= horizon(m.table)).map(({ table, key }) => ({ table, key }));
}
