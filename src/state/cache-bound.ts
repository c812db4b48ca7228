/**
 * A task's bound on keys kept in memory, lowered for a driver whose memory runs short: to
 * `fraction` of the keys its fullest group or table holds now, never below `floor`, never up.
 * Origin and regrouped tasks (Task.capCache, RegroupedTask.capCache) lower theirs alike.
 */
export function loweredCacheBound(bound: number, largest: number, fraction: number, floor: number): number {
  return Math.max(floor, Math.min(bound, Math.floor(largest * fraction)));
}

/**
 * Evicts from `cache` down to 80 % of `bound` when it holds more than `bound`, in load order
 * (which approximates least recently loaded): first the keys the latest batch did not use
 * (`recent` false: the next batch likely needs the others), then, when that is not enough,
 * those it did. A bound lowered under heap pressure is worth little if one batch's keys may all
 * stay: a fetched batch can touch tens of thousands of keys per task. Only `evictable` entries
 * go (clean ones, whose state the store holds); `evicted` hears of each. Returns the keys evicted.
 */
export function evictDownTo<T>(cache: Map<string, T>, bound: number, evictable: (entry: T) => boolean, recent: (entry: T) => boolean, evicted?: (key: string, entry: T) => void): number {
  if (cache.size <= bound) return 0;
  const target = Math.floor(bound * 0.8);
  let count = 0;
  for (const recentToo of [false, true]) {
    for (const [key, entry] of cache) {
      if (cache.size <= target) return count;
      if (!evictable(entry) || (!recentToo && recent(entry))) continue;
      cache.delete(key);
      evicted?.(key, entry);
      count++;
    }
  }
  return count;
}
