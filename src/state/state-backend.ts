import { ClassicLevel } from 'classic-level';

export type BatchOp = { readonly type: 'put'; readonly key: string; readonly value: Uint8Array } | { readonly type: 'del'; readonly key: string };

/** The durable key-value store under task state. Batched on purpose: see DESIGN.md on the hot path. */
export interface StateBackend {
  getMany(keys: readonly string[]): Promise<Array<Uint8Array | undefined>>;
  /** All entries whose key starts with prefix, in key order. */
  scan(prefix: string): Promise<Array<[string, Uint8Array]>>;
  /** Applied atomically: all or nothing. */
  write(ops: readonly BatchOp[]): Promise<void>;
  close(): Promise<void>;
}

export class LevelBackend implements StateBackend {
  private constructor(private readonly db: ClassicLevel<string, Uint8Array>) {}

  static async open(dir: string): Promise<LevelBackend> {
    const db = new ClassicLevel<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' });
    try {
      await db.open();
    } catch (e) {
      throw new Error(openErrorMessage(dir, e));
    }
    return new LevelBackend(db);
  }

  async getMany(keys: readonly string[]): Promise<Array<Uint8Array | undefined>> {
    if (keys.length === 0) return [];
    return this.db.getMany(keys as string[]);
  }

  async scan(prefix: string): Promise<Array<[string, Uint8Array]>> {
    // The upper bound is the prefix with its last character incremented: every key with the
    // prefix sorts below it, whatever characters follow (a '\xff' suffix would not, in UTF-8).
    const last = prefix.charCodeAt(prefix.length - 1);
    return this.db.iterator({ gte: prefix, lt: `${prefix.slice(0, -1)}${String.fromCharCode(last + 1)}` }).all();
  }

  async write(ops: readonly BatchOp[]): Promise<void> {
    if (ops.length > 0) await this.db.batch(ops as BatchOp[]);
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}

/** One line naming the store, what is wrong with it and what to do. */
function openErrorMessage(dir: string, e: unknown): string {
  const err = e as { message?: string; cause?: { message?: string; code?: string } };
  const cause = (err.cause?.message ?? err.message ?? String(e)).replace(/\s*[\r\n]+\s*/g, ' ');
  const code = err.cause?.code;
  if (code === 'LEVEL_LOCKED') {
    return `cannot open state store ${dir}: another process holds it (${cause}). Stop the other skewless process using this state directory, or use another one`;
  }
  const damaged = code === 'LEVEL_CORRUPTION' || /^Corruption:/.test(cause) || (code === 'LEVEL_IO_ERROR' && /(MANIFEST|CURRENT|\.ldb|\.sst|\.log)\b.*No such file/i.test(cause));
  if (damaged) {
    return `state store ${dir} is damaged (${cause}). Delete the directory to rebuild it: a backfill rebuilds it from its input, a live worker restores it from the changelog by itself`;
  }
  return `cannot open state store ${dir}: ${cause}. Check that the directory is readable and writable`;
}

/** For engine unit tests that exercise task logic without disk; same contract, same atomicity. */
export class MemoryBackend implements StateBackend {
  readonly data = new Map<string, Uint8Array>();

  async getMany(keys: readonly string[]): Promise<Array<Uint8Array | undefined>> {
    return keys.map((k) => this.data.get(k));
  }

  async scan(prefix: string): Promise<Array<[string, Uint8Array]>> {
    return [...this.data.entries()].filter(([k]) => k.startsWith(prefix)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }

  async write(ops: readonly BatchOp[]): Promise<void> {
    for (const op of ops) {
      if (op.type === 'put') this.data.set(op.key, op.value.slice());
      else this.data.delete(op.key);
    }
  }

  async close(): Promise<void> {}
}
