/** What a task counts. Persisted with its checkpoint, so counts survive restarts exactly. */
export interface TaskCounters {
  processed: number;
  emitted: number;
  late: number;
  lateDropped: number;
  lateSideOutput: number;
  deadLetters: number;
  filtered: number;
  windowRows: number;
  /** Of windowRows: windows still open when a replay's input ended, written with final = false. */
  openWindowRows: number;
  /** Live only: times an idle input was skipped by the merge (see DESIGN.md rule 3). */
  mergeSkips: number;
  /** Table lookups (asOf) of a key that had no version at the time asked: their columns are null. */
  lookupMisses: number;
}

export function emptyCounters(): TaskCounters {
  return { processed: 0, emitted: 0, late: 0, lateDropped: 0, lateSideOutput: 0, deadLetters: 0, filtered: 0, windowRows: 0, openWindowRows: 0, mergeSkips: 0, lookupMisses: 0 };
}

export function addCounters(into: TaskCounters, c: TaskCounters): TaskCounters {
  for (const k of Object.keys(into) as Array<keyof TaskCounters>) into[k] += c[k];
  return into;
}
