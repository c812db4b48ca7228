import type { LabelJoinNode } from '../dsl/nodes.js';
import type { SourceNode } from '../dsl/nodes.js';
import type { InputBatch } from '../engine/input.js';
import type { Program } from '../engine/program.js';
import type { CompiledPlan } from '../plan/compile.js';
import type { ReplayInput } from './replay-input.js';
import { toEventTime } from '../time/event-time.js';

/**
 * Label events (e.g. chargebacks) indexed by join id, for building training rows. A label
 * counts for an event at t when its own event time is ≤ t + maturity; a row without one is
 * only called negative once the label data reaches t + maturity, otherwise it is unmatured.
 */
export class LabelIndex {
  private readonly earliest = new Map<string, number>();
  /** Largest label event time seen: how far the label data reaches. */
  dataEnd = -Infinity;
  malformed = 0;

  constructor(
    private readonly source: SourceNode,
    private readonly join: LabelJoinNode,
  ) {}

  add(batch: InputBatch): void {
    for (const rec of batch.records) {
      if (!rec.value) {
        this.malformed++;
        continue;
      }
      let t: number | string;
      let id: unknown;
      try {
        t = toEventTime(this.source.eventTime(rec.value));
        id = this.join.matchOn(rec.value);
      } catch {
        this.malformed++;
        continue;
      }
      if (typeof t === 'string' || id === null || id === undefined) {
        this.malformed++;
        continue;
      }
      const k = String(id);
      const prev = this.earliest.get(k);
      if (prev === undefined || t < prev) this.earliest.set(k, t);
      if (t > this.dataEnd) this.dataEnd = t;
    }
  }

  /** [label, matured, labelTime] for an event with join id `id` at time t. */
  lookup(id: string, t: number): [boolean | null, boolean, number | null] {
    const deadline = t + this.join.within;
    const at = this.earliest.get(id);
    const matured = this.dataEnd >= deadline;
    if (at !== undefined && at <= deadline) return [true, matured, at];
    return [matured ? false : null, matured, null];
  }

  get size(): number {
    return this.earliest.size;
  }
}

/** One index per output with a label join, read from the input's label sources. */
export async function loadLabelIndexes(plan: CompiledPlan, program: Program, input: ReplayInput): Promise<Map<string, LabelIndex>> {
  const indexes = new Map<string, LabelIndex>();
  for (const o of program.outputs) {
    if (!o.labelJoin) continue;
    const src = plan.topology.sources.find((s) => s.name === o.labelJoin!.source)!;
    const idx = new LabelIndex(src, o.labelJoin);
    for await (const batch of input.labelBatches(src.name)) idx.add(batch);
    indexes.set(o.name, idx);
  }
  return indexes;
}
