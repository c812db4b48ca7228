/** Ascending arrays of numbers kept sorted under insertion and removal (binary search, splice). */

/** First index whose value is ≥ x. */
export function lowerBound(a: readonly number[], x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function insertSorted(a: number[], x: number): void {
  const i = lowerBound(a, x);
  if (i === a.length) a.push(x);
  else a.splice(i, 0, x);
}

/** Remove one occurrence of x; false if there is none. */
export function removeSorted(a: number[], x: number): boolean {
  const i = lowerBound(a, x);
  if (i === a.length || a[i] !== x) return false;
  if (i === a.length - 1) a.pop();
  else a.splice(i, 1);
  return true;
}

/** A new sorted array holding both. */
export function mergeSorted(a: readonly number[], b: readonly number[]): number[] {
  const out = new Array<number>(a.length + b.length);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < a.length && j < b.length) out[k++] = a[i] <= b[j] ? a[i++] : b[j++];
  while (i < a.length) out[k++] = a[i++];
  while (j < b.length) out[k++] = b[j++];
  return out;
}
