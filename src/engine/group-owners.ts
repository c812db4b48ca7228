/**
 * Per group, the source key each group key came with, for the refinement check (GroupKeyError):
 * a groupBy must refine the source's partition key, so one group key never comes with two
 * source keys. Kept in two generations of at most `limit` keys each: when the current one is
 * full it becomes the previous one and the one before is dropped, and a key found only in the
 * previous generation moves to the current one. So memory stays bounded in a worker that runs
 * for months over ever new group keys (a route, a card and device pair), while a key seen again
 * within `limit` new keys is always checked. The rotation depends on the task's input alone, so
 * live and replay check alike. Not persisted: like the state cache, it starts empty in a task
 * that opens.
 */
export class GroupOwners {
  private current = new Map<string, string>();
  private previous = new Map<string, string>();

  constructor(private readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`group owner limit must be a positive integer, got ${limit}`);
  }

  /**
   * Record that `groupKey` came with `sourceKey`; the other source key it came with before,
   * when there is one (a refinement error), else undefined.
   */
  conflict(groupKey: string, sourceKey: string): string | undefined {
    // A group keyed by the source key itself (the common case) is remembered only if the same
    // value ever comes with another source key: while nothing is recorded, no lookup per event.
    if (groupKey === sourceKey && this.current.size === 0 && this.previous.size === 0) return undefined;
    let owner = this.current.get(groupKey);
    if (owner === undefined) {
      owner = this.previous.get(groupKey);
      if (owner === undefined) {
        if (groupKey === sourceKey) return undefined;
        owner = sourceKey;
      }
      this.remember(groupKey, owner);
    }
    return owner === sourceKey ? undefined : owner;
  }

  /** Group keys held, both generations (a key in both counts twice). */
  get size(): number {
    return this.current.size + this.previous.size;
  }

  private remember(groupKey: string, owner: string): void {
    if (this.current.size >= this.limit) {
      this.previous = this.current;
      this.current = new Map();
    }
    this.current.set(groupKey, owner);
  }
}
