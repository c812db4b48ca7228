/**
 * A training column of numbers, any of which may be null, held in typed arrays: a number kept in
 * an array that also holds nulls is a boxed heap number, one allocation per value and the
 * garbage collector's busiest work in a replay. The training writer copies these as they are.
 */
export class NullableNumbers {
  values: Float64Array;
  /** Per slot: 1 a number, 0 null, 2 anything else (kept in `others` for the writer to reject by name). */
  present: Uint8Array;
  length = 0;
  others: Map<number, unknown> | undefined;

  constructor(capacity: number) {
    this.values = new Float64Array(capacity);
    this.present = new Uint8Array(capacity);
  }

  push(v: unknown): void {
    const i = this.length;
    if (i === this.values.length) this.grow();
    if (typeof v === 'number') {
      this.values[i] = v;
      this.present[i] = 1;
    } else if (v === null) this.present[i] = 0;
    else {
      this.present[i] = 2;
      (this.others ??= new Map()).set(i, v);
    }
    this.length = i + 1;
  }

  /** Slot i as the value pushed. */
  at(i: number): unknown {
    const p = this.present[i];
    return p === 1 ? this.values[i] : p === 0 ? null : this.others!.get(i);
  }

  /** Empty again, keeping the arrays (the writer has copied what it needed). */
  clear(): void {
    this.length = 0;
    this.others = undefined;
  }

  private grow(): void {
    const values = new Float64Array(Math.max(16, this.values.length * 2));
    values.set(this.values);
    const present = new Uint8Array(values.length);
    present.set(this.present);
    this.values = values;
    this.present = present;
  }
}

/** A training column as a writer accepts it. */
export type ColumnValues = ArrayLike<unknown> | NullableNumbers;

/** Plain values of a column: for the buffers that do not read NullableNumbers directly. */
export function plainValues(source: ColumnValues): ArrayLike<unknown> {
  if (!(source instanceof NullableNumbers)) return source;
  const out = new Array<unknown>(source.length);
  for (let i = 0; i < source.length; i++) out[i] = source.at(i);
  return out;
}
