import type { WindowShape } from '../dsl/nodes.js';
import { calendarWindow, validateCalendarWindow } from './calendar-window.js';

/**
 * Which fixed windows `[start, end)` (epoch ms) an event time belongs to.
 *
 * - tumbling(size): the one window `[floor(t / size) · size, + size)`, aligned to the epoch;
 *   an event exactly at a window's end belongs to the next window.
 * - hopping(size, advance): every window of length `size` whose start is a multiple of
 *   `advance` and which contains t, ascending by start (size / advance of them when advance
 *   divides size).
 * - calendar(unit, zone): the local hour / day / ISO week / month containing t.
 *
 * Alignment uses floor, never truncation, so negative times (before 1970) land in the window
 * below them: t = −1 with size 10 is in [−10, 0).
 *
 * Session windows depend on the other events of the key, not on t alone: they are built by
 * WindowedAggregation, and `windowsFor` rejects them.
 */

/** The largest multiple of `m` (> 0) that is ≤ t, exact for integral t and m below 2^53. */
export function floorTo(t: number, m: number): number {
  let s = Math.floor(t / m) * m;
  // Guard against a quotient rounded across an integer (only possible for huge |t| / m).
  if (s > t) s -= m;
  else if (s + m <= t) s += m;
  return s === 0 ? 0 : s; // no −0
}

/** Throws a clear error for a window shape no event could be assigned with. */
export function validateWindowShape(shape: WindowShape): void {
  const positive = (v: number, what: string): void => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new Error(`${what} must be a positive finite number of ms (got ${String(v)})`);
  };
  switch (shape.kind) {
    case 'tumbling':
      positive(shape.size, 'tumbling window: size');
      return;
    case 'hopping':
      positive(shape.size, 'hopping window: size');
      positive(shape.advance, 'hopping window: advance');
      if (shape.advance > shape.size) {
        throw new Error(`hopping window: advance (${shape.advance} ms) must not exceed size (${shape.size} ms), or some events belong to no window`);
      }
      return;
    case 'calendar':
      validateCalendarWindow(shape.unit, shape.timeZone);
      return;
    case 'session':
      positive(shape.gap, 'session window: gap');
      return;
    default:
      throw new Error(`unknown window kind ${JSON.stringify((shape as { kind: unknown }).kind)}`);
  }
}

/** The windows `[start, end)` containing event time t, ascending by start. */
export function windowsFor(shape: WindowShape, t: number): Array<[number, number]> {
  switch (shape.kind) {
    case 'tumbling': {
      const start = floorTo(t, shape.size);
      return [[start, start + shape.size]];
    }
    case 'hopping': {
      const { size, advance } = shape;
      const last = floorTo(t, advance);
      // Smallest multiple of advance strictly greater than t − size: the first start whose window still contains t.
      const first = floorTo(t - size, advance) + advance;
      const out: Array<[number, number]> = [];
      for (let i = 0, s = first; s <= last; i++, s = first + i * advance) out.push([s === 0 ? 0 : s, s + size]);
      return out;
    }
    case 'calendar':
      return [calendarWindow(t, shape.unit, shape.timeZone)];
    case 'session':
      throw new Error('windowsFor: session windows depend on the key’s other events; WindowedAggregation assigns them');
    default:
      throw new Error(`unknown window kind ${JSON.stringify((shape as { kind: unknown }).kind)}`);
  }
}
