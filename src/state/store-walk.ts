import type { StateBackend } from './state-backend.js';

/**
 * A walk over the keys under a prefix, a bounded stretch per call, each call going on where the
 * last stopped and starting over after the end (the live sweeps of quiet keys). Where it stands
 * is not persisted: a reopened task starts from the first key.
 */
export class StoreWalk {
  private after: string | undefined;

  constructor(
    private readonly backend: StateBackend,
    private readonly prefix: string,
  ) {}

  /** The next at most `entries` keys, in key order. */
  async next(entries: number): Promise<string[]> {
    const keys = await this.backend.keysAfter(this.prefix, this.after, entries);
    this.after = keys.length < entries ? undefined : keys[keys.length - 1];
    return keys;
  }
}
