/**
 * Records of a file that `skewless produce` cannot encode (a line that is not JSON, a value that
 * does not fit the schema, a key function that throws) still go to the topic, on partition 0
 * where a file backfill puts them, carrying the reason in a header. A consumer that finds the
 * header makes the record the error record the file reader made, with the same reason and raw
 * form. So the topic's partition 0 holds the same records at the same offsets as the file
 * split's partition 0, every replay and live worker dead-letters them alike, and the training
 * rows after them keep the offsets of the file backfill.
 */

/** The header's name; its value is JSON: the reason, and how the raw form was held. */
export const PRODUCED_DEAD_LETTER_HEADER = 'skewless-dead-letter';

/** The error record a produced dead letter stands for. */
export interface ProducedDeadLetter {
  readonly reason: string;
  /** The file's text or bytes of the record; undefined when the reader had none. */
  readonly raw?: string | Uint8Array;
}

/** A header's value as kafkajs and the fetch decoder give it. */
type HeaderValue = string | Uint8Array | null | undefined | ReadonlyArray<string | Uint8Array | null>;

interface HeaderJson {
  readonly reason: string;
  /** text: the value is the raw text in UTF-8; bytes: the raw bytes; none: no raw form. */
  readonly raw: 'text' | 'bytes' | 'none';
}

/** The value and headers to produce for a record the file reader made an error record of. */
export function producedDeadLetterMessage(d: ProducedDeadLetter): { readonly value: Buffer | null; readonly headers: Record<string, string> } {
  const header: HeaderJson = { reason: d.reason, raw: d.raw === undefined ? 'none' : typeof d.raw === 'string' ? 'text' : 'bytes' };
  const value = d.raw === undefined ? null : typeof d.raw === 'string' ? Buffer.from(d.raw, 'utf8') : Buffer.from(d.raw);
  return { value, headers: { [PRODUCED_DEAD_LETTER_HEADER]: JSON.stringify(header) } };
}

/**
 * The dead letter a record's header declares, or undefined for an ordinary record. A header
 * that cannot be read still marks the record as one produce could not encode.
 */
export function producedDeadLetter(headers: Readonly<Record<string, HeaderValue>> | undefined, value: Uint8Array | null): ProducedDeadLetter | undefined {
  const given = headers?.[PRODUCED_DEAD_LETTER_HEADER];
  if (given === undefined) return undefined;
  // A header given twice: the last one counts.
  const header: string | Uint8Array | null | undefined = isList(given) ? given[given.length - 1] : given;
  const text = header === undefined || header === null ? '' : typeof header === 'string' ? header : Buffer.from(header).toString('utf8');
  let parsed: HeaderJson | undefined;
  try {
    const json = JSON.parse(text) as Partial<HeaderJson>;
    if (typeof json.reason === 'string' && (json.raw === 'text' || json.raw === 'bytes' || json.raw === 'none')) parsed = json as HeaderJson;
  } catch {
    // Reported below.
  }
  if (parsed === undefined) return { reason: `the record's ${PRODUCED_DEAD_LETTER_HEADER} header cannot be read (${JSON.stringify(text.slice(0, 100))})`, raw: value ?? undefined };
  if (parsed.raw === 'none' || value === null) return { reason: parsed.reason };
  return { reason: parsed.reason, raw: parsed.raw === 'text' ? Buffer.from(value).toString('utf8') : value };
}

function isList(v: HeaderValue): v is ReadonlyArray<string | Uint8Array | null> {
  return Array.isArray(v);
}
