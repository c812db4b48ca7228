import type { Program } from '../engine/program.js';
import type { CompiledPlan } from '../plan/compile.js';
import { openFileReplayInput, type SlicedSource } from './file-replay-input.js';
import type { ReplayInput, ReplayInputSpec } from './replay-input.js';

/** Open the input a spec describes, limited to the partitions `partitionFilter` keeps; a file source may come `sliced` by another thread. */
export async function openReplayInput(plan: CompiledPlan, program: Program, spec: ReplayInputSpec, partitionFilter?: (partition: number) => boolean, sliced?: SlicedSource): Promise<ReplayInput> {
  switch (spec.kind) {
    case 'files':
      return openFileReplayInput(plan, program, spec, partitionFilter, sliced);
    case 'kafka': {
      // Loaded on demand: kafkajs and the registry client cost each replay thread of a file
      // replay about 0.1 s of start-up, while the other threads and the coordinator need the CPU.
      const { openKafkaReplayInput } = await import('./kafka-replay-input.js');
      return openKafkaReplayInput(plan, program, spec, partitionFilter);
    }
  }
}
