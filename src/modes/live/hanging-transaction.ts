/**
 * Exactly-once: telling a changelog transaction that is late from one that hangs for good.
 *
 * Every open of a task first re-initializes the task's producer (InitProducerId for its
 * transactional id). The coordinator answers that only once it has completed or aborted whatever
 * transaction of that id it knows, markers written. So undecided changelog records that an open
 * finds after such a re-initialization, and that are still undecided, unchanged, at later opens
 * after more re-initializations and longer than a transaction may stay open, are known to no
 * coordinator: nothing in Kafka will ever decide them. A lone broker killed and restarted can
 * lose a decision that way (README, How state moves between hosts). Waiting out the worker's
 * retry deadline then only delays the one fix there is, an operator's abort.
 */
import type { ChangelogUndecidedError } from './task-store.js';

/** Opens that must have found the same records undecided, each after its own re-initialization. */
const MIN_OPENS = 3;

export class HangingTransactionWatch {
  private readonly seen = new Map<number, { readonly end: number; readonly high: number; readonly since: number; opens: number }>();

  /** @param afterMs how long the same records must stay undecided: at least the producer's transaction timeout. */
  constructor(private readonly afterMs: number) {}

  /**
   * An open of `partition` found its changelog undecided from `end` to `high` (after the task's
   * producer was re-initialized). Returns how long the same records have been undecided, in ms,
   * once they are certainly hanging; undefined while they may still be decided.
   */
  observe(partition: number, end: number, high: number, now: number): number | undefined {
    const s = this.seen.get(partition);
    if (s === undefined || s.end !== end || s.high !== high) {
      this.seen.set(partition, { end, high, since: now, opens: 1 });
      return undefined;
    }
    s.opens++;
    return s.opens >= MIN_OPENS && now - s.since >= this.afterMs ? now - s.since : undefined;
  }

  /** The task opened: a later wait starts over. */
  clear(partition: number): void {
    this.seen.delete(partition);
  }
}

/**
 * Undecided changelog records of the task's own transactional id that no coordinator will ever
 * decide: the task can neither rebuild from the shorter changelog nor commit on top (its marker
 * would decide them with its own outcome, README), and kafkajs cannot write markers itself
 * (WriteTxnMarkers). Fatal, with the operator's fix spelled out.
 */
export class HangingTransactionError extends Error {
  constructor(
    readonly undecided: ChangelogUndecidedError,
    readonly transactionalId: string,
    forMs: number,
    /** Topics the task's transactions write on its own partition only (outputs, late records, dead letters, parity). */
    samePartition: readonly string[],
    /** Topics they write on any partition (the regroup topics). */
    anyPartition: readonly string[],
    groupId: string,
  ) {
    const u = undecided;
    const tool = 'kafka-transactions.sh --bootstrap-server <brokers>';
    super(
      `task ${u.partition}: a hanging transaction on changelog ${u.changelog} partition ${u.partition}: its records from offset ${u.end} to ${u.high} ` +
        `are still undecided ${Math.round(forMs / 1000)} s after this task's producer (transactional id ${transactionalId}) was first re-initialized, and at every open since, ` +
        'so no transaction coordinator knows them any more (a lone broker killed and restarted can lose a decision) and nothing in Kafka will decide them. ' +
        `Cause as the partition shows it: ${u.undecidedCause}. ` +
        `Fix: abort it with ${tool} abort --topic ${u.changelog} --partition ${u.partition} --start-offset ${u.end}; ` +
        `the same transaction (same producer id) may also be open on partition ${u.partition} of ${samePartition.length > 0 ? samePartition.join(', ') : 'no other topic'}` +
        `${anyPartition.length > 0 ? `, on any partition of ${anyPartition.join(', ')}` : ''} and on group ${groupId}'s offsets (__consumer_offsets): ` +
        `${tool} find-hanging --broker-id <id> --max-transaction-timeout 1, on each broker, lists them with their start offsets. ` +
        "If it lists this producer id on the group's __consumer_offsets partition too, nothing of the transaction was decided: abort each of them the same way, " +
        (u.localAhead
          ? `then delete ${u.taskDir} (its local copy holds the aborted batch; the task rebuilds from the changelog and computes that batch again from its inputs) and start the worker again. `
          : 'then start the worker again (the task continues from its last commit). ') +
        "If it lists it on the changelog alone, the transaction was decided on its other partitions (the group's offsets moved with it or not) and an abort here would leave the changelog " +
        'disagreeing with them: do not abort; rebuild the state under a new group instead (skewless bootstrap --group <new group>, then skewless run with it)',
    );
    this.name = 'HangingTransactionError';
  }
}
