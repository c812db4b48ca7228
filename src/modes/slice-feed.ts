import type { MessagePort } from 'node:worker_threads';
import type { SliceGroup } from '../io/files/parquet-split-slices.js';

/**
 * Row groups a thread may be sent before it has taken the earlier ones: enough to keep it busy
 * while the coordinator decodes the next, few enough that a large file is never all in memory.
 */
const AHEAD = 3;

type FeedMessage = { readonly group: SliceGroup } | { readonly end: true } | { readonly error: string };

/** A running feed: `done` settles (never rejects) when every group is sent or the feed stopped. */
export interface SliceFeed {
  readonly done: Promise<void>;
  /** Stop sending (a thread failed, or the replay ended): pending waits end at once. */
  stop(): void;
}

/**
 * Send each row group's slices to the threads that own their partitions (`ownerOf[p]`), each
 * thread over its own port and at most AHEAD groups ahead of it. A read error is sent to every
 * thread, which fails its replay with it.
 */
export function feedSlices(groups: AsyncIterable<SliceGroup>, ownerOf: (partition: number) => number, ports: readonly MessagePort[]): SliceFeed {
  const unacked = ports.map(() => 0);
  const closed = ports.map(() => false);
  let stopped = false;
  let wake: (() => void) | undefined;
  const nudge = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  ports.forEach((port, t) => {
    port.on('message', () => {
      unacked[t]--;
      nudge();
    });
    port.once('close', () => {
      closed[t] = true;
      nudge();
    });
  });
  const send = (t: number, m: FeedMessage, transfer: ArrayBuffer[] = []): void => {
    if (!closed[t]) ports[t].postMessage(m, transfer);
  };
  const run = async (): Promise<void> => {
    try {
      for await (const group of groups) {
        if (stopped) return;
        const mine = ports.map(() => [] as SliceGroup['slices'][number][]);
        for (const s of group.slices) mine[ownerOf(s.partition)].push(s);
        for (let t = 0; t < ports.length; t++) {
          if (mine[t].length === 0) continue;
          while (!stopped && !closed[t] && unacked[t] >= AHEAD) await new Promise<void>((resolve) => (wake = resolve));
          if (stopped) return;
          unacked[t]++;
          send(t, { group: { names: group.names, slices: mine[t] } }, transferables(mine[t]));
        }
      }
      for (let t = 0; t < ports.length; t++) send(t, { end: true });
    } catch (e) {
      for (let t = 0; t < ports.length; t++) send(t, { error: e instanceof Error ? e.message : String(e) });
    }
  };
  const done = run().finally(() => {
    for (const port of ports) port.removeAllListeners('message');
  });
  return {
    done,
    stop: () => {
      stopped = true;
      nudge();
    },
  };
}

/** The buffers of a group's typed arrays: moved to the thread, not copied. */
function transferables(slices: SliceGroup['slices']): ArrayBuffer[] {
  const out: ArrayBuffer[] = [];
  for (const s of slices) {
    out.push(s.fileRows.buffer as ArrayBuffer);
    for (const c of s.columns) {
      if (c instanceof Float64Array || c instanceof Int32Array) out.push(c.buffer as ArrayBuffer);
      else if (!Array.isArray(c)) out.push((c as { codes: Int32Array }).codes.buffer as ArrayBuffer);
    }
  }
  return out;
}

/**
 * The row groups a coordinator's feedSlices sends this thread, in order; each is acknowledged
 * once the next is asked for, and the port closes when the reader stops.
 */
export async function* receiveSlices(port: MessagePort): AsyncGenerator<SliceGroup> {
  const queue: FeedMessage[] = [];
  let wake: (() => void) | undefined;
  port.on('message', (m: FeedMessage) => {
    queue.push(m);
    const w = wake;
    wake = undefined;
    w?.();
  });
  try {
    for (;;) {
      while (queue.length === 0) await new Promise<void>((resolve) => (wake = resolve));
      const m = queue.shift()!;
      if ('end' in m) return;
      if ('error' in m) throw new Error(m.error);
      yield m.group;
      port.postMessage('taken');
    }
  } finally {
    port.close();
  }
}
