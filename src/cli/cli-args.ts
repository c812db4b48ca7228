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

export function nonNegativeInt(value: string, flag: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 0) throw new Error(`${flag} ${value}: expected a whole number, 0 or more`);
  return n;
}

/** `source=topic` pairs for --topic; a bare topic is allowed when the topology has one source. */
export function parseTopics(pairs: readonly string[], sources: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of pairs) {
    const eq = p.indexOf('=');
    const name = eq < 0 ? (sources.length === 1 ? sources[0] : undefined) : p.slice(0, eq);
    if (name === undefined) throw new Error(`--topic ${p}: name the source, e.g. --topic ${sources[0] ?? 'source'}=${p} (sources: ${sources.join(', ')})`);
    if (!sources.includes(name)) throw new Error(`--topic ${p}: unknown source "${name}" (sources: ${sources.join(', ')})`);
    const topic = eq < 0 ? p : p.slice(eq + 1);
    if (topic === '') throw new Error(`--topic ${p}: empty topic name`);
    out[name] = topic;
  }
  return out;
}

/**
 * An ISO 8601 instant for --since/--until. A date-time must carry its zone (Z or ±hh:mm):
 * without one JavaScript reads it in the machine's zone, and the same command would replay
 * another range on another machine. A bare date means midnight UTC.
 */
export function parseInstant(value: string, flag: string): number {
  const dateOnly = /^\d{4}-\d{2}-\d{2}$/.test(value);
  const zoned = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i.test(value);
  const ms = Date.parse(value);
  if ((!dateOnly && !zoned) || Number.isNaN(ms)) {
    throw new Error(`${flag} ${value}: expected an ISO 8601 time with a zone, e.g. 2026-01-05T00:00:00Z (or a date, read as midnight UTC)`);
  }
  return ms;
}
