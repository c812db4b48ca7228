/**
 * The tasks a worker owned when it last stopped, kept in its state root beside its instance id
 * (worker-instance.ts). A restarted worker tells the group's leader, whose placement
 * (task-placement.ts) gives those tasks back to it: their stores are on its disk, a few
 * commits behind, where any other member would catch them up from an older copy or rebuild
 * them from the changelog. Processes sharing one state root share the file: each writes its own
 * assignment, and either can open what the last one names.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const FILE = 'owned-tasks';

/** The tasks last recorded in `stateRoot` (none when the file is missing or damaged: it is only a hint). */
export function readLastOwnedTasks(stateRoot: string): number[] {
  let text: string;
  try {
    text = readFileSync(join(stateRoot, FILE), 'utf8').trim();
  } catch {
    return [];
  }
  if (!/^\d+(,\d+)*$/.test(text)) return [];
  return [...new Set(text.split(',').map(Number))].sort((a, b) => a - b);
}

/** Record this worker's assignment (written whole and renamed into place, so a kill leaves the old list or the new one). */
export function writeLastOwnedTasks(stateRoot: string, tasks: readonly number[]): void {
  const path = join(stateRoot, FILE);
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${[...new Set(tasks)].sort((a, b) => a - b).join(',')}\n`);
  renameSync(tmp, path);
}
