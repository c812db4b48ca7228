/**
 * The cached aggregates of a timeline's read tiles (lookback-window.ts readAt), by tile number.
 * A read merges up to READ_TILES consecutive tiles, so a Map lookup per tile dominated regrouped
 * reads; tile numbers are consecutive integers, so an array from the lowest kept number does.
 * It is a cache only: an entry dropped is recomputed from the same events to the same bits, so
 * dropping (a long jump, too many entries) never changes an answer.
 */
export class ReadTileCache<T> {
  private base = 0;
  /** undefined: not known; null: known to hold no event. */
  private items: Array<T | null | undefined> = [];

  /** @param span entries kept around the latest ones; further ones are dropped */
  constructor(private readonly span: number) {}

  get(k: number): T | null | undefined {
    const i = k - this.base;
    return i >= 0 && i < this.items.length ? this.items[i] : undefined;
  }

  set(k: number, value: T | null): void {
    let i = k - this.base;
    if (this.items.length === 0 || i < -this.span || i > this.items.length + this.span) {
      // Empty, or far from what is held (a key quiet for long): start over at k.
      this.items = [value];
      this.base = k;
      return;
    }
    if (i < 0) {
      const before = new Array<T | null | undefined>(-i).fill(undefined);
      this.items = before.concat(this.items);
      this.base = k;
      i = 0;
    }
    while (this.items.length <= i) this.items.push(undefined);
    this.items[i] = value;
    if (this.items.length > 4 * this.span) this.dropBelow(this.base + this.items.length - 2 * this.span);
  }

  /** An event landed in tile k: its aggregate is no longer known. */
  invalidate(k: number): void {
    const i = k - this.base;
    if (i >= 0 && i < this.items.length) this.items[i] = undefined;
  }

  /** Forget tiles numbered below k. */
  dropBelow(k: number): void {
    const n = k - this.base;
    if (n <= 0) return;
    if (n >= this.items.length) this.items = [];
    else this.items = this.items.slice(n);
    this.base = k;
  }

  get size(): number {
    return this.items.length;
  }
}
