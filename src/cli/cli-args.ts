/** Parse `source=path` pairs; a single bare path is allowed when the topology has one source. */
export function parseInputs(pairs: readonly string[], sources: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of pairs) {
    const eq = p.indexOf('=');
    if (eq < 0) {
      if (sources.length !== 1) throw new Error(`--input ${p}: name the source, e.g. --input ${sources[0] ?? 'source'}=${p} (sources: ${sources.join(', ')})`);
      out[sources[0]] = p;
      continue;
    }
    const name = p.slice(0, eq);
    if (!sources.includes(name)) throw new Error(`--input ${p}: unknown source "${name}" (sources: ${sources.join(', ')})`);
    out[name] = p.slice(eq + 1);
  }
  return out;
}

export function positiveInt(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${flag} ${value}: expected a whole number above 0`);
  return n;
}
