import type { BatchOp, LevelBackend, StateBackend } from '../../src/state/state-backend.js';

/**
 * A LevelBackend that records the keys of every write (`<type> <key>`) and can fail the write
 * numbered `failAt` (from 1), which then does not land: what a process killed, or a disk that went
 * away, between two writes leaves.
 */
export class RecordingBackend implements StateBackend {
  readonly writes: string[][] = [];
  constructor(
    readonly inner: LevelBackend,
    private readonly failAt = Infinity,
  ) {}
  getMany(keys: readonly string[]): Promise<Array<Uint8Array | undefined>> {
    return this.inner.getMany(keys);
  }
  scan(prefix: string): Promise<Array<[string, Uint8Array]>> {
    return this.inner.scan(prefix);
  }
  keysAfter(prefix: string, after: string | undefined, limit: number): Promise<string[]> {
    return this.inner.keysAfter(prefix, after, limit);
  }
  keysBetween(gte: string, lt: string): Promise<string[]> {
    return this.inner.keysBetween(gte, lt);
  }
  async write(ops: readonly BatchOp[]): Promise<void> {
    if (this.writes.length + 1 === this.failAt) throw new Error('the disk went away');
    this.writes.push(ops.map((o) => `${o.type} ${o.key}`));
    await this.inner.write(ops);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
