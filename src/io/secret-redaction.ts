/**
 * Keeping configured secrets out of everything skewless prints or reports. The configuration
 * (client-config.ts) registers each secret it resolves; every text that leaves the process
 * (stdout and stderr through redactOutputStreams, HTML reports, metrics) goes through
 * redactSecrets, which also masks the password of any URL with user-info, configured or not.
 */

const MASK = '***';
const REDACTING = Symbol('skewless.redacting');

/** Longest first, so a secret containing another is masked whole. */
let secrets: string[] = [];

/** `scheme://user:password@`: the password ends at the last '@' before the path (an unencoded '@' stays inside). */
const URL_PASSWORD = /([a-z][a-z0-9+.-]*:\/\/)([^\s/?#@:]*):([^\s/?#]*)@/gi;

/**
 * Below this length a value is not masked: masking every "ab" would garble all output (and
 * `--json`), and nothing prints a secret on purpose; the redactor is the second line of defence.
 */
const MIN_SECRET_LENGTH = 4;

/** Mask `value` wherever it appears, also percent-encoded (as it would be inside a URL). */
export function registerSecret(value: string | undefined): void {
  if (value === undefined || value.length < MIN_SECRET_LENGTH) return;
  const forms = new Set([value, encodeURIComponent(value)]);
  secrets = [...new Set([...secrets, ...forms])].sort((a, b) => b.length - a.length);
}

/** The secrets registered so far (for tests). */
export function registeredSecrets(): readonly string[] {
  return secrets;
}

/** `text` with every registered secret and every URL password replaced by `***`. */
export function redactSecrets(text: string): string {
  return maskAll(text, secrets);
}

function maskAll(text: string, values: readonly string[]): string {
  let out = text.includes('://') ? text.replace(URL_PASSWORD, (_m, scheme: string, user: string) => `${scheme}${user}:${MASK}@`) : text;
  for (const s of values) if (out.includes(s)) out = out.split(s).join(MASK);
  return out;
}

/**
 * A chunk as a stream write receives it, redacted. Bytes are matched as latin1 (one char per
 * byte, the secrets converted the same way), so a chunk that splits a UTF-8 character passes
 * through unchanged byte for byte.
 */
function redactChunk(chunk: unknown, encoding: unknown): unknown {
  if (typeof chunk === 'string') {
    // A string written with a binary encoding ('base64', 'hex') is not text to scan.
    return encoding === undefined || typeof encoding === 'function' || encoding === 'utf8' || encoding === 'utf-8' ? redactSecrets(chunk) : chunk;
  }
  if (chunk instanceof Uint8Array) {
    const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const latin = bytes.toString('latin1');
    const masked = maskAll(latin, secrets.map((s) => Buffer.from(s, 'utf8').toString('latin1')));
    return masked === latin ? chunk : Buffer.from(masked, 'latin1');
  }
  return chunk;
}

/**
 * Route every write to these streams (default stdout and stderr) through the redactor: errors,
 * logs, `--json` and what worker threads print (their output is piped into these streams).
 * Idempotent.
 */
export function redactOutputStreams(streams: readonly NodeJS.WritableStream[] = [process.stdout, process.stderr]): void {
  for (const stream of streams) {
    const s = stream as NodeJS.WritableStream & { [REDACTING]?: true };
    if (s[REDACTING]) continue;
    const write = s.write.bind(s) as (chunk: unknown, ...rest: unknown[]) => boolean;
    s.write = ((chunk: unknown, ...rest: unknown[]) => write(redactChunk(chunk, rest[0]), ...rest)) as typeof s.write;
    s[REDACTING] = true;
  }
}
