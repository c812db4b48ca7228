// TEMPORARY STUB by the integrator so the engine compiles while the real operator is written. Overwrite freely.
import type { AggValue, AggregationDef } from './aggregation.js';
import type { WindowShape } from '../dsl/nodes.js';
export interface WindowRow { key: string; windowStart: number; windowEnd: number; values: AggValue[]; final: boolean }
export class WindowedAggregation {
  constructor(_spec: { window: WindowShape; emit: 'final' | 'update'; grace: number; aggs: ReadonlyArray<{ def: AggregationDef; column: number }> }) {}
  apply(_k: string, _t: number, _s: number, _v: readonly AggValue[], _st: number, _out: WindowRow[]): boolean { return true; }
  advance(_st: number, _out: WindowRow[]): void {}
  dirtyKeys(): string[] { return []; }
  encodeKey(_k: string): Uint8Array | null { return null; }
  loadKey(_k: string, _b: Uint8Array): void {}
  clearDirty(): void {}
}
