import { join } from 'node:path';

/**
 * Each task keeps its own LevelDB under the state root, as Kafka Streams keeps one state
 * directory per task: a partition can move between workers or threads by moving its folder,
 * and parallel replay workers never contend for one database lock.
 */
export function taskStateDir(root: string, partition: number): string {
  return join(root, `task-${String(partition).padStart(5, '0')}`);
}
