/**
 * Values by input offset, for offsets that cluster in a moving window: an origin partition's
 * rows waiting for their regrouped answers, and the answers that came before their rows. A Map
 * lookup per row and answer was a large part of assembling a regrouped replay; here the offsets
 * near the ones held index an array from the lowest, and only an offset far from them (a gap of
 * more than SPAN, e.g. an answer far ahead) goes to a Map, so a gap never makes a huge array.
 */
const SPAN = 1 << 16;

export class OffsetSlots<T> {
  private base = 0;
  /** First index that may hold a value. */
  private head = 0;
  private items: Array<T | undefined> = [];
  private inArray = 0;
  private far: Map<number, T> | undefined;

  get(offset: number): T | undefined {
    const i = offset - this.base;
    if (i >= this.head && i < this.items.length) {
      const v = this.items[i];
      if (v !== undefined) return v;
    }
    return this.far?.get(offset);
  }

  set(offset: number, value: T): void {
    this.far?.delete(offset);
    if (this.inArray === 0) {
      this.items = [];
      this.base = offset;
      this.head = 0;
    }
    const i = offset - this.base;
    if (i >= this.head && i < this.items.length) {
      if (this.items[i] === undefined) this.inArray++;
      this.items[i] = value;
    } else if (i >= this.items.length && i < this.items.length + SPAN) {
      while (this.items.length < i) this.items.push(undefined);
      this.items.push(value);
      this.inArray++;
    } else if (i < this.head && i >= this.head - SPAN && i >= 0) {
      this.items[i] = value;
      this.head = i;
      this.inArray++;
    } else {
      (this.far ??= new Map()).set(offset, value);
    }
  }

  delete(offset: number): void {
    this.far?.delete(offset);
    const i = offset - this.base;
    if (i < this.head || i >= this.items.length || this.items[i] === undefined) return;
    this.items[i] = undefined;
    this.inArray--;
    while (this.head < this.items.length && this.items[this.head] === undefined) this.head++;
    if (this.head > 4096 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.base += this.head;
      this.head = 0;
    }
  }
}
