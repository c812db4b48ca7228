import type { Program } from '../engine/program.js';
import type { CompiledPlan } from '../plan/compile.js';
import { openFileReplayInput } from './file-replay-input.js';
import { openKafkaReplayInput } from './kafka-replay-input.js';
import type { ReplayInput, ReplayInputSpec } from './replay-input.js';

/** Open the input a spec describes, limited to the partitions `partitionFilter` keeps. */
export async function openReplayInput(plan: CompiledPlan, program: Program, spec: ReplayInputSpec, partitionFilter?: (partition: number) => boolean): Promise<ReplayInput> {
  switch (spec.kind) {
    case 'files':
      return openFileReplayInput(plan, program, spec, partitionFilter);
    case 'kafka':
      return openKafkaReplayInput(plan, program, spec, partitionFilter);
  }
}
