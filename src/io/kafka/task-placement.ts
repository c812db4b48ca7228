/**
 * Where the live group's tasks and their standby copies go: a sticky, state-aware placement,
 * as Kafka Streams' assignor does it. Task P is partition P of every topic the group reads
 * (co-partitioned-assigner.ts sends it out); this module only decides which member gets which
 * task, from what each member told the leader when it joined: the tasks it owned until now and
 * the tasks whose state it holds locally (its standby copies, and after a restart the tasks it
 * owned when it stopped, whose stores are on its state root).
 *
 * - A member keeps the tasks it owns, up to an even share (⌊N/M⌋ or ⌈N/M⌉ of N tasks among M
 *   members): a failure or a new member moves only the tasks it must. Placing task P on member
 *   P mod M instead moved tasks between survivors at each failure (with three workers and 8
 *   tasks, one of each survivor's three), and each moved task was caught up from whatever older copy its
 *   new owner had, or rebuilt from its changelog.
 * - A member over its share gives up first the tasks another member with room owned before it
 *   restarted, then those another member keeps a standby copy of, then those whose home is
 *   elsewhere (task P's home is member P mod M).
 * - A task without an owner goes to the member that owned it before it restarted, else to the
 *   one with the most current standby copy (by changelog offset), else to its home if that has
 *   room, else to the member with the fewest tasks.
 * - A task's first standby copy goes to the member its owner's failure would hand it to, so a
 *   failover opens every task on a copy; further copies to the members that already hold its
 *   state, then to those with the fewest copies, and to no member past an even share while
 *   others have room.
 *
 * Every tie is broken by the assignor's order (instance id, then member id), so the leader's
 * answer is a pure function of the subscriptions: a fresh group (nothing owned, nothing held)
 * gets task P on member P mod M, as before.
 */

/** What one member told the group's leader at its join. */
export interface TaskClaim {
  readonly memberId: string;
  /** Kept in the worker's state root: a restarted worker keeps its place in the order. */
  readonly instanceId: string;
  /** The tasks this member owned in the generation before. */
  readonly owned: readonly number[];
  /** Until its first assignment: the tasks this member's worker owned when it last stopped (their stores are on its state root). */
  readonly previous: readonly number[];
  /** Standby copies this member keeps → the changelog offset each reflects. */
  readonly copies: ReadonlyMap<number, number>;
  /** How many standby copies of each task this member's worker keeps (`run --standby`); 0: it keeps none. */
  readonly standby: number;
}

export interface TaskPlacement {
  /** Per member: the tasks it owns, ascending. */
  readonly active: ReadonlyMap<string, readonly number[]>;
  /** Per member: the tasks it keeps standby copies of, ascending. */
  readonly standby: ReadonlyMap<string, readonly number[]>;
}

/**
 * The assignor's order of members: by instance id, then member id. A member id is new at every
 * start of a worker; its instance id is kept in its state root (worker-instance.ts). A member
 * that sent no instance id ('') sorts first, by member id.
 */
function assignorOrder(memberIds: readonly string[], instanceOf: ReadonlyMap<string, string> = new Map()): string[] {
  const key = (m: string): string => instanceOf.get(m) ?? '';
  return [...memberIds].sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    if (ka !== kb) return ka < kb ? -1 : 1;
    return a < b ? -1 : a > b ? 1 : 0;
  });
}

/** What member `m` holds of task `p`: 2 its store as of its last stop, 1 a standby copy, 0 nothing. */
function level(m: TaskClaim, p: number): number {
  return m.previous.includes(p) ? 2 : m.copies.has(p) ? 1 : 0;
}

/** Whether `a`'s state of task `p` is better than `b`'s: by level, then (standby copies of one changelog partition) by offset. */
function holdsBetter(a: TaskClaim, b: TaskClaim, p: number): number {
  const la = level(a, p);
  const lb = level(b, p);
  if (la !== lb || la !== 1) return la - lb;
  return Math.sign(a.copies.get(p)! - b.copies.get(p)!);
}

export function placeTasks(claims: readonly TaskClaim[], taskIds: readonly number[]): TaskPlacement {
  const byId = new Map(claims.map((c) => [c.memberId, c]));
  const order = assignorOrder(
    claims.map((c) => c.memberId),
    new Map(claims.map((c) => [c.memberId, c.instanceId])),
  ).map((id) => byId.get(id)!);
  const tasks = [...new Set(taskIds)].sort((a, b) => a - b);
  const active = placeActive(order, tasks);
  return { active, standby: placeStandbys(order, tasks, active) };
}

/** Which member owns each task; `order`: the members in the assignor's order, `tasks` ascending. */
function placeActive(order: readonly TaskClaim[], tasks: readonly number[]): Map<string, number[]> {
  const active = new Map<string, number[]>(order.map((m) => [m.memberId, []]));
  if (order.length === 0) return active;
  const place = new Map(order.map((m, i) => [m.memberId, i]));
  const known = new Set(tasks);

  // Claims: a task two members say they own (a member that has not heard of the last rebalance) goes to the first in order.
  const claimed = new Map<string, number[]>(order.map((m) => [m.memberId, []]));
  const claimedBy = new Map<number, string>();
  for (const m of order) {
    for (const p of [...m.owned].sort((a, b) => a - b)) {
      if (!known.has(p) || claimedBy.has(p)) continue;
      claimedBy.set(p, m.memberId);
      claimed.get(m.memberId)!.push(p);
    }
  }

  // Shares: the ⌈N/M⌉ ones to the members that own the most already, so fewer tasks move.
  const base = Math.floor(tasks.length / order.length);
  const extra = tasks.length % order.length;
  const quota = new Map<string, number>();
  [...order]
    .sort((a, b) => claimed.get(b.memberId)!.length - claimed.get(a.memberId)!.length || place.get(a.memberId)! - place.get(b.memberId)!)
    .forEach((m, i) => quota.set(m.memberId, base + (i < extra ? 1 : 0)));

  // Keep what is owned, up to the share; over it, give up first what a member with room holds best.
  const underShare = order.filter((m) => claimed.get(m.memberId)!.length < quota.get(m.memberId)!);
  const heldElsewhere = (p: number, self: TaskClaim): number => Math.max(0, ...underShare.filter((m) => m !== self).map((m) => level(m, p)));
  // Where nothing else decides, task P stays with (or goes to) member P mod M, the placement of a fresh group.
  const home = (p: number, m: TaskClaim): number => (p % order.length === place.get(m.memberId)! ? 1 : 0);
  for (const m of order) {
    const mine = claimed.get(m.memberId)!;
    const share = quota.get(m.memberId)!;
    const kept = mine.length <= share ? mine : [...mine].sort((a, b) => heldElsewhere(a, m) - heldElsewhere(b, m) || home(b, m) - home(a, m) || a - b).slice(0, share);
    active.get(m.memberId)!.push(...kept);
  }

  // The rest, ascending: to the member with room that holds the task best, else its home, else the one with the fewest tasks.
  const placed = new Set<number>();
  for (const list of active.values()) for (const p of list) placed.add(p);
  for (const p of tasks) {
    if (placed.has(p)) continue;
    let best: TaskClaim | undefined;
    for (const m of order) {
      const n = active.get(m.memberId)!.length;
      if (n >= quota.get(m.memberId)!) continue;
      if (best === undefined) {
        best = m;
        continue;
      }
      const byState = holdsBetter(m, best, p) || home(p, m) - home(p, best);
      if (byState > 0 || (byState === 0 && n < active.get(best.memberId)!.length)) best = m;
    }
    active.get(best!.memberId)!.push(p);
    placed.add(p);
  }
  for (const list of active.values()) list.sort((a, b) => a - b);
  return active;
}

/**
 * Per member, the tasks it keeps standby copies of: as many per task as the members ask for
 * (the most any asks), on members that keep copies. A task's first copy goes to the member its
 * owner's failure would hand it to (the placement above run on the others as they stand: with
 * one copy each, that placement then finds it there and picks that member); further copies to
 * the members that already hold its state, then to those with the fewest copies, and to none
 * past an even share while others have room.
 */
function placeStandbys(order: readonly TaskClaim[], tasks: readonly number[], active: ReadonlyMap<string, readonly number[]>): Map<string, number[]> {
  const standby = new Map<string, number[]>(order.map((m) => [m.memberId, []]));
  const keepers = order.filter((m) => m.standby > 0);
  const copies = Math.min(Math.max(0, ...order.map((m) => m.standby)), Math.max(0, keepers.length - 1));
  if (copies === 0) return standby;
  const place = new Map(order.map((m, i) => [m.memberId, i]));
  const owner = new Map<number, TaskClaim>();
  for (const m of order) for (const p of active.get(m.memberId)!) owner.set(p, m);

  const failover = new Map<number, TaskClaim>();
  for (const o of order) {
    const mine = new Set(active.get(o.memberId)!);
    if (mine.size === 0) continue;
    const survivors = order.filter((m) => m !== o).map((m) => ({ ...m, owned: active.get(m.memberId)!, previous: [], copies: new Map<number, number>() }));
    for (const [id, list] of placeActive(survivors, tasks)) for (const p of list) if (mine.has(p)) failover.set(p, order[order.findIndex((m) => m.memberId === id)]);
  }

  const cap = Math.ceil((tasks.length * copies) / keepers.length);
  for (const p of tasks) {
    const first = failover.get(p);
    const chosen = first !== undefined && first.standby > 0 ? [first] : [];
    const candidates = keepers.filter((m) => m !== owner.get(p) && !chosen.includes(m));
    candidates.sort((a, b) => {
      const sa = standby.get(a.memberId)!.length;
      const sb = standby.get(b.memberId)!.length;
      return Number(sa >= cap) - Number(sb >= cap) || holdsBetter(b, a, p) || sa - sb || place.get(a.memberId)! - place.get(b.memberId)!;
    });
    for (const m of [...chosen, ...candidates].slice(0, copies)) standby.get(m.memberId)!.push(p);
  }
  return standby;
}
