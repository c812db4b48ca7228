/**
 * Kafka client properties files (`key=value` lines, as librdkafka and the Java clients read
 * them): `#` and `!` start comments, blank lines are skipped, whitespace around the key and
 * the value is trimmed, and values are taken literally (no escapes, so Windows paths work).
 */

export interface PropertyLine {
  readonly key: string;
  readonly value: string;
  /** 1-based. */
  readonly line: number;
}

/**
 * The settings of a properties file, in file order. A line without `=` or a key set twice is
 * an error naming `file:line`; a line's text is never quoted, since it may hold a secret.
 */
export function parseProperties(text: string, file: string): PropertyLine[] {
  const out: PropertyLine[] = [];
  const seen = new Map<string, number>();
  const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\r|\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '' || line.startsWith('#') || line.startsWith('!')) continue;
    const eq = line.indexOf('=');
    if (eq < 0) throw new Error(`${file}:${i + 1}: expected key=value (e.g. security.protocol=SASL_SSL)`);
    const key = line.slice(0, eq).trim();
    if (key === '') throw new Error(`${file}:${i + 1}: a line starts with "=": expected key=value`);
    const earlier = seen.get(key);
    if (earlier !== undefined) throw new Error(`${file}:${i + 1}: ${key} is already set on line ${earlier}; keep one of the two`);
    seen.set(key, i + 1);
    out.push({ key, value: line.slice(eq + 1).trim(), line: i + 1 });
  }
  return out;
}
