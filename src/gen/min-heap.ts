/** Binary min-heap ordered by (key, seq); seq breaks ties deterministically. */
export interface HeapItem {
  key: number;
  seq: number;
}

function less(a: HeapItem, b: HeapItem): boolean {
  return a.key < b.key || (a.key === b.key && a.seq < b.seq);
}

export class MinHeap<T extends HeapItem> {
  private readonly items: T[] = [];

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  push(item: T): void {
    const a = this.items;
    a.push(item);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(a[i]!, a[p]!)) break;
      const tmp = a[i]!;
      a[i] = a[p]!;
      a[p] = tmp;
      i = p;
    }
  }

  pop(): T | undefined {
    const a = this.items;
    if (a.length === 0) return undefined;
    const top = a[0]!;
    const last = a.pop()!;
    if (a.length > 0) {
      a[0] = last;
      let i = 0;
      const n = a.length;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && less(a[r]!, a[l]!) ? r : l;
        if (!less(a[c]!, a[i]!)) break;
        const tmp = a[i]!;
        a[i] = a[c]!;
        a[c] = tmp;
        i = c;
      }
    }
    return top;
  }
}
