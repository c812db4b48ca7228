import { availableParallelism } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { processFlags } from './heap-pressure.js';

/**
 * V8 runs each young-generation collection (scavenge) on helper threads beside the collecting
 * one. A replay whose threads, coordinator included, outnumber the cores has no idle core for
 * those helpers: they only take turns with the replay threads. With two threads on two vCPUs,
 * scavenging on the collecting thread alone cut a flights-3m replay's CPU by 4–8 % and its time
 * by about 5 % in a quieter hour, less than the noise in a busy one (README, performance). A
 * live worker is one thread, whose GC helpers do find an idle core (`--single-threaded-gc` cost
 * it about 10 %), so the setting is held only while replay threads run, and given back when the
 * last pool closes.
 *
 * `--no-parallel-scavenge` is read by V8 at the start of each scavenge, so it can be switched
 * between collections (unlike `--single-threaded-gc`, which aborts V8 when set at run time).
 * A process given either setting on its command line or in NODE_OPTIONS keeps it.
 */

/** Whether threads that outnumber the cores should scavenge serially, given the process's flags. */
export function serialScavengesWanted(threads: number, cores: number, flags: readonly string[]): boolean {
  if (flags.some((a) => /^--(no-)?parallel[-_]scavenge$|^--single[-_]threaded([-_]gc)?$/.test(a))) return false;
  return threads > cores;
}

let holders = 0;

/**
 * Scavenge serially while the returned release has not been called, when `threads` busy threads
 * (the replay threads and their coordinator) outnumber the cores; otherwise a release that does
 * nothing. Holds are counted: the setting goes back when the last one is released.
 */
export function holdSerialScavenges(threads: number, setFlags: (flags: string) => void = setFlagsFromString): () => void {
  const flags = processFlags();
  if (!serialScavengesWanted(threads, availableParallelism(), flags)) return () => {};
  if (holders++ === 0) setFlags('--no-parallel-scavenge');
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--holders === 0) setFlags('--parallel-scavenge');
  };
}
