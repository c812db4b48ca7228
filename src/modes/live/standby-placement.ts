/**
 * Where warm standby copies of tasks live. The group's assignor gives task P to member
 * P mod M, members in the assignor's order (co-partitioned-assigner.ts: by the instance id each
 * worker keeps in its state root, so a restart keeps a worker's place; memory-cluster.ts: join
 * order). When a member fails, the M − 1 survivors share every task again by the same rule, so
 * the failed member's task P lands on survivor P mod (M − 1). That survivor holds its first
 * copy; further copies go to the survivors after it, in order. So a kill -9 hands each of the
 * dead member's tasks to a worker whose local store is a few commits behind at most, and the
 * task catches up from the changelog's tail instead of rebuilding from its start.
 *
 * The assignor is not sticky across failures: a failure also moves some tasks between surviving
 * members, and those are caught up from whatever copy their new owner has (README, Live).
 */

/** Which member (index in the assignor's order) owns task `p` among `members`. */
export function taskOwner(p: number, members: number): number {
  return p % members;
}

/**
 * The tasks member `self` of `members` keeps standby copies of: for each task owned by another
 * member, `copies` copies (at most M − 1) on the members that would own it first if its owner
 * left. Ascending.
 */
export function standbyTasks(partitions: number, members: number, self: number, copies: number): number[] {
  if (!Number.isInteger(copies) || copies < 0) throw new RangeError(`standby copies must be a non-negative integer, got ${copies}`);
  if (members < 2 || self < 0 || self >= members || copies === 0) return [];
  const n = Math.min(copies, members - 1);
  const out: number[] = [];
  for (let p = 0; p < partitions; p++) {
    const owner = taskOwner(p, members);
    if (owner === self) continue;
    // Survivors in order are the members but the owner: index s among them is member s + (s ≥ owner).
    const first = taskOwner(p, members - 1);
    for (let k = 0; k < n; k++) {
      const s = (first + k) % (members - 1);
      if (s + (s >= owner ? 1 : 0) === self) {
        out.push(p);
        break;
      }
    }
  }
  return out;
}
