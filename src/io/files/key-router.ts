import type { InputRecord, SourceValue } from '../../engine/input.js';
import { recordKeyText, recordPartition, UNKEYED_PARTITION } from '../partitioning.js';
import { describeError } from './file-input-error.js';
import type { FileRecord } from './file-record.js';

/**
 * Routes records to partitions. Malformed records, unkeyed records and records whose key
 * cannot be computed all go to partition 0: they have no partition of their own, and dropping
 * them would lose them silently, whereas on partition 0 the engine sees them (and dead-letters
 * the malformed ones), deterministically.
 */
export class KeyRouter {
  /** What the key function threw when partition() last returned -1. */
  error: unknown;
  /** Partition by key, while the keys are few (origins, merchants); a key per record is just hashed. */
  private readonly known = new Map<string, number>();

  constructor(
    private readonly key: (value: SourceValue) => string | null,
    private readonly partitions: number,
  ) {}

  /** The record's partition, or -1 when its key cannot be computed (see keyErrorRecord). A number, not a pair: nothing allocated per record. */
  partition(record: InputRecord): number {
    if (record.error !== undefined || record.value === undefined) return UNKEYED_PARTITION;
    let k: string | null;
    try {
      k = this.key(record.value);
    } catch (err) {
      this.error = err;
      return -1;
    }
    const key = recordKeyText(k);
    if (key === null) return UNKEYED_PARTITION;
    const known = this.known.get(key);
    if (known !== undefined) return known;
    const p = recordPartition(key, this.partitions);
    if (this.known.size < 100_000) this.known.set(key, p);
    return p;
  }

  /** The record partition() refused, as the dead letter that says why (it goes to partition 0). */
  keyErrorRecord(record: InputRecord): FileRecord {
    return keyErrorRecord(record, this.error);
  }
}

/** The error record of a record whose key function threw `err` (on partition 0, as every unroutable record). */
export function keyErrorRecord(record: InputRecord, err: unknown): FileRecord {
  return { offset: record.offset, line: (record as FileRecord).line, error: `cannot compute the partition key: ${describeError(err)}`, raw: rawOf(record) } as FileRecord;
}

function rawOf(record: InputRecord): string | Uint8Array | undefined {
  if (record.raw !== undefined) return record.raw;
  try {
    return JSON.stringify(record.value);
  } catch {
    return undefined;
  }
}
