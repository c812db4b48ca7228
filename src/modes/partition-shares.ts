/**
 * Which worker thread takes which partitions in a replay pass: by the size of what each
 * partition will read (its input, or in the later passes of a regrouped replay its spill
 * files), so the threads finish together. Partitions by key hash are far from even (flights by origin: 61.5 %
 * on the odd partitions of 8), and a pass ends with its slowest thread. The assignment depends
 * on the sizes only, and no output depends on it: each partition's work is the same on any thread.
 */
export function balancedShares(weights: readonly number[], workers: number): number[][] {
  const shares: number[][] = Array.from({ length: workers }, () => []);
  const load = new Array<number>(workers).fill(0);
  // Largest first (ties by number), each to the least loaded thread (ties: the one with fewer
  // partitions, then by number, so empty partitions spread and no thread is left without any).
  const order = weights.map((w, p) => [w, p] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (const [w, p] of order) {
    let best = 0;
    for (let i = 1; i < workers; i++) if (load[i] < load[best] || (load[i] === load[best] && shares[i].length < shares[best].length)) best = i;
    shares[best].push(p);
    load[best] += w;
  }
  for (const s of shares) s.sort((a, b) => a - b);
  return shares;
}
