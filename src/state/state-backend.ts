import { ClassicLevel } from 'classic-level';
import { storageProblem } from './storage-problem.js';

export type BatchOp = { readonly type: 'put'; readonly key: string; readonly value: Uint8Array } | { readonly type: 'del'; readonly key: string };

/** The durable key-value store under task state. Batched on purpose: see DESIGN.md on the hot path. */
export interface StateBackend {
  getMany(keys: readonly string[]): Promise<Array<Uint8Array | undefined>>;
  /** All entries whose key starts with prefix, in key order. */
  scan(prefix: string): Promise<Array<[string, Uint8Array]>>;
  /** Up to `limit` keys that start with prefix and sort after `after` (from the first when undefined), in key order. */
  keysAfter(prefix: string, after: string | undefined, limit: number): Promise<string[]>;
  /** Every key from `gte` (included) to `lt` (excluded), in key order. */
  keysBetween(gte: string, lt: string): Promise<string[]>;
  /** Applied atomically: all or nothing. */
  write(ops: readonly BatchOp[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * The machine refuses the store (its disk is full, read-only or over quota, permission is
 * denied, the process has too many files open), not the store's contents: nothing in it is
 * damaged, so it must be kept, and the same operation may succeed once the machine is fixed.
 */
export class StoreUnavailableError extends Error {
  constructor(
    readonly dir: string,
    message: string,
  ) {
    super(message);
    this.name = 'StoreUnavailableError';
  }
}

/** The text of a level error, its cause's when it has one, on one line. */
function levelErrorText(e: unknown): { readonly text: string; readonly code: string | undefined } {
  const err = e as { message?: string; code?: string; cause?: { message?: string; code?: string } };
  return { text: (err.cause?.message ?? err.message ?? String(e)).replace(/\s*[\r\n]+\s*/g, ' '), code: err.cause?.code ?? err.code };
}

/** `e` as a StoreUnavailableError when it shows a problem of the machine, else `e` itself. */
function unavailableOr(dir: string, e: unknown, doing: string): unknown {
  const { text } = levelErrorText(e);
  const problem = storageProblem(text);
  if (problem === undefined) return e;
  return new StoreUnavailableError(dir, `state store ${dir} cannot be ${doing}: ${problem.what} (${text}). Nothing in it is damaged: ${problem.fix}`);
}

export class LevelBackend implements StateBackend {
  private constructor(
    private readonly db: ClassicLevel<string, Uint8Array>,
    private readonly dir: string,
  ) {}

  static async open(dir: string): Promise<LevelBackend> {
    const db = new ClassicLevel<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' });
    try {
      await db.open();
    } catch (e) {
      const unavailable = unavailableOr(dir, e, 'opened');
      throw unavailable instanceof StoreUnavailableError ? unavailable : new Error(openErrorMessage(dir, e));
    }
    return new LevelBackend(db, dir);
  }

  async getMany(keys: readonly string[]): Promise<Array<Uint8Array | undefined>> {
    if (keys.length === 0) return [];
    return this.db.getMany(keys as string[]);
  }

  async scan(prefix: string): Promise<Array<[string, Uint8Array]>> {
    return this.db.iterator({ gte: prefix, lt: prefixEnd(prefix) }).all();
  }

  async keysAfter(prefix: string, after: string | undefined, limit: number): Promise<string[]> {
    return this.db.keys(after === undefined ? { gte: prefix, lt: prefixEnd(prefix), limit } : { gt: after, lt: prefixEnd(prefix), limit }).all();
  }

  async keysBetween(gte: string, lt: string): Promise<string[]> {
    return gte < lt ? this.db.keys({ gte, lt }).all() : [];
  }

  async write(ops: readonly BatchOp[]): Promise<void> {
    if (ops.length === 0) return;
    try {
      await this.db.batch(ops as BatchOp[]);
    } catch (e) {
      throw unavailableOr(this.dir, e, 'written');
    }
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}

/**
 * The prefix with its last character incremented: every key with the prefix sorts below it,
 * whatever characters follow (a '\xff' suffix would not, in UTF-8).
 */
function prefixEnd(prefix: string): string {
  return `${prefix.slice(0, -1)}${String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1)}`;
}

/** One line naming the store, what is wrong with it and what to do. */
function openErrorMessage(dir: string, e: unknown): string {
  const { text: cause, code } = levelErrorText(e);
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

  async keysAfter(prefix: string, after: string | undefined, limit: number): Promise<string[]> {
    const keys = [...this.data.keys()].filter((k) => k.startsWith(prefix) && (after === undefined || k > after)).sort();
    return keys.slice(0, limit);
  }

  async keysBetween(gte: string, lt: string): Promise<string[]> {
    return [...this.data.keys()].filter((k) => k >= gte && k < lt).sort();
  }

  async write(ops: readonly BatchOp[]): Promise<void> {
    for (const op of ops) {
      if (op.type === 'put') this.data.set(op.key, op.value.slice());
      else this.data.delete(op.key);
    }
  }

  async close(): Promise<void> {}
}
