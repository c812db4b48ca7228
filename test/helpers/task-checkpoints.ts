/** Reading what live workers checkpointed: each task's LevelDB meta record, read directly. */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { TaskMeta } from '../../src/engine/task.js';
import { LevelBackend } from '../../src/state/state-backend.js';

/** Every task's checkpoint under a state root (`task-NNNNN` directories), in directory order. */
export async function readTaskCheckpoints(stateDir: string): Promise<TaskMeta[]> {
  const metas: TaskMeta[] = [];
  // Task directories only: the root also holds the worker's instance id (worker-instance) and its last assignment (owned-tasks).
  for (const d of readdirSync(stateDir).filter((n) => /^task-\d+$/.test(n)).sort()) {
    const b = await LevelBackend.open(join(stateDir, d));
    try {
      const [bytes] = await b.getMany([`p${Number(d.replace('task-', ''))}/meta`]);
      if (bytes) metas.push(JSON.parse(new TextDecoder().decode(bytes)) as TaskMeta);
    } finally {
      await b.close();
    }
  }
  return metas;
}
