import { constants, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8';

/** The old generation's bytes in use and its limit. */
export interface OldGenerationFigures {
  readonly used: number;
  readonly limit: number;
}

/** The old generation's live bytes and its limit, or undefined when nothing new is known (a parameter of HeapPressure, so tests can set them). */
export type HeapFigures = () => OldGenerationFigures | undefined;

/** V8's largest semi-space when no flag sets it, on 64-bit platforms (Node 20's V8 11.3). */
const DEFAULT_SEMI_SPACE_MIB = 16;

/** The largest semi-space the process's flags give V8, in bytes (the last `--max-semi-space-size` wins, as in V8). */
export function maxSemiSpaceBytes(flags: readonly string[]): number {
  let mib = DEFAULT_SEMI_SPACE_MIB;
  for (let i = 0; i < flags.length; i++) {
    const m = /^--max[-_]semi[-_]space[-_]size(?:=(\d+))?$/.exec(flags[i]);
    if (m === null) continue;
    const value = m[1] ?? flags[i + 1];
    if (value !== undefined && /^\d+$/.test(value)) mib = Number(value);
  }
  return mib * 2 ** 20;
}

/** The flags V8 was given: the command line's and NODE_OPTIONS'. A worker thread's own `process.execArgv` holds neither. */
export function processFlags(): string[] {
  return [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
}

/**
 * The old generation of this thread's heap now: what it holds (the heap in use less the young
 * generation's objects) against its limit (the heap's limit less the young generation V8
 * reserves, three semi-spaces of `semiSpaceBytes`, by default what this thread's flags say). The
 * young generation is left out because it is emptied at every scavenge: with
 * `--max-semi-space-size=64` it alone is 192 MiB of the limit.
 */
export function oldGeneration(semiSpaceBytes: number = maxSemiSpaceBytes(processFlags())): OldGenerationFigures {
  let young = 0;
  for (const s of getHeapSpaceStatistics()) if (s.space_name === 'new_space' || s.space_name === 'new_large_object_space') young += s.space_used_size;
  const h = getHeapStatistics();
  return { used: h.used_heap_size - young, limit: h.heap_size_limit - 3 * semiSpaceBytes };
}

/**
 * The old generation as each full (mark-compact) collection leaves it: what is live, without the
 * garbage that the heap in use also counts until the next one. `figures` gives the latest such
 * reading once, then undefined until the next full collection.
 */
export class OldGenerationWatch {
  private latest: OldGenerationFigures | undefined;
  private readonly observer: PerformanceObserver;

  constructor(semiSpaceBytes: number = maxSemiSpaceBytes(processFlags())) {
    this.observer = new PerformanceObserver((list) => {
      if (list.getEntries().some((e) => ((e as PerformanceEntry & { detail?: { kind?: number } }).detail)?.kind === constants.NODE_PERFORMANCE_GC_MAJOR)) this.latest = oldGeneration(semiSpaceBytes);
    });
    this.observer.observe({ entryTypes: ['gc'] });
  }

  readonly figures: HeapFigures = () => {
    const f = this.latest;
    this.latest = undefined;
    return f;
  };

  close(): void {
    this.observer.disconnect();
  }
}

/** Keys per group a task keeps however short the heap runs (Task.capCache's floor): below it, eviction would cost more than it frees. */
export const MIN_CACHE_KEYS = 1_000;

/**
 * A heap counts as short whatever the collector last said once it is EMERGENCY of its limit
 * full, or, in a larger heap, once less than HEADROOM is left: what must still fit is a batch
 * and a checkpoint's operations, whatever the heap's size, and garbage alone can fill half of a
 * large heap between two full collections.
 */
const EMERGENCY = 0.5;
const HEADROOM = 256 * 2 ** 20;
/** Looks between two emergency episodes: the evictions and the collector act meanwhile. */
const SPACING = 2;

/**
 * Whether this thread's JavaScript heap (its old generation) is running short, looked at once
 * per batch. Tasks keep keys' state in memory up to their cache bound (`--cache-keys`, 250,000
 * per group and partition), and a key with lookback state is one to three kilobytes of heap: a
 * history or a stream with millions of keys outgrows the heap long before the bound. Over
 * `threshold` of the heap's limit (0.4 by default) an episode is counted; each task then lowers its bound
 * (Task.capCache) and its next checkpoints move the colder keys to the state store, whence they
 * are read back when they come again.
 *
 * The heap in use includes garbage that only a full collection frees, so the check reads the old
 * generation as the last full collection left it, once per collection: the evictions an episode
 * asks for show at the next one. Eviction decides where state lives, never what a row holds, so
 * neither the heap figures nor when they cross the line can change an output.
 */
export class HeapPressure {
  /** Times the heap was found short so far. */
  episodes = 0;
  /**
   * At the last episode, the share of its keys a task should keep: 0.8 when the heap was just
   * over the threshold, less the fuller it was (tasks whose keys fill the heap keep in proportion
   * to bring it to 0.8 of the threshold), at least 0.1.
   */
  keep = 1;
  /** The figures that made the last episode. */
  lastShort: OldGenerationFigures | undefined;
  private readonly watch: OldGenerationWatch | undefined;
  private readonly afterCollection: HeapFigures;
  private readonly now: () => OldGenerationFigures;
  private readonly threshold: number;
  /** Looks since the last episode. */
  private looks = 0;

  /**
   * `afterCollection`: the old generation after each full collection (OldGenerationWatch by
   * default); `now`: as it stands, garbage included (oldGeneration by default); both for
   * `semiSpaceBytes`.
   */
  constructor(
    options: {
      readonly threshold?: number;
      readonly semiSpaceBytes?: number;
      readonly afterCollection?: HeapFigures;
      readonly now?: () => OldGenerationFigures;
    } = {},
  ) {
    this.threshold = options.threshold ?? 0.4;
    // The flags are read once here, not at every look.
    const semiSpaceBytes = options.semiSpaceBytes ?? maxSemiSpaceBytes(processFlags());
    if (options.afterCollection !== undefined) this.afterCollection = options.afterCollection;
    else {
      this.watch = new OldGenerationWatch(semiSpaceBytes);
      this.afterCollection = this.watch.figures;
    }
    this.now = options.now ?? (() => oldGeneration(semiSpaceBytes));
  }

  /**
   * Counts an episode when the last full collection left the old generation `threshold` of its
   * limit or fuller, or when it is EMERGENCY of its limit full now (or has less than HEADROOM
   * left), garbage included (a heap that fills faster than the collector reports: its first full
   * collection may come too late), at most once per SPACING looks. Returns the episodes so far.
   */
  look(): number {
    this.looks++;
    const collected = this.afterCollection();
    if (collected !== undefined && collected.used >= this.threshold * collected.limit) this.episode(collected);
    else if (this.looks >= SPACING) {
      const now = this.now();
      if (now.used >= Math.max(EMERGENCY * now.limit, now.limit - HEADROOM)) this.episode(now);
    }
    return this.episodes;
  }

  private episode(f: OldGenerationFigures): void {
    this.episodes++;
    this.looks = 0;
    this.lastShort = f;
    this.keep = Math.max(0.1, Math.min(0.8, (0.8 * this.threshold * f.limit) / f.used));
  }

  close(): void {
    this.watch?.close();
  }
}
