/**
 * A task's bound on keys kept in memory, lowered for a driver whose memory runs short: to
 * `fraction` of the keys its fullest group or table holds now, never below `floor`, never up.
 * Origin and regrouped tasks (Task.capCache, RegroupedTask.capCache) lower theirs alike.
 */
export function loweredCacheBound(bound: number, largest: number, fraction: number, floor: number): number {
  return Math.max(floor, Math.min(bound, Math.floor(largest * fraction)));
}
