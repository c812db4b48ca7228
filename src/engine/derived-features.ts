import { toAggValue, type AggValue } from '../ops/aggregation.js';
import type { OutputProgram } from './program.js';

/**
 * Fill an output row's derived columns (right after its features) from its features and the
 * event. Shared by the task and the row assembler, so a derived feature reading a regrouped
 * one is computed exactly as one reading the event's own features.
 */
export function fillDerived(o: OutputProgram, values: AggValue[], event: unknown): void {
  if (o.derived.length === 0) return;
  const vector: Record<string, AggValue> = {};
  for (let i = 0; i < o.featureSlots.length; i++) vector[o.columns[i].name] = values[i];
  let c = o.featureSlots.length;
  for (const [, fn] of o.derived) values[c++] = toAggValue(fn(vector, event));
}
