/**
 * A worker's identity across restarts, kept in its state root (as Kafka Streams keeps its
 * process id in its state directory). The group's assignor orders members by it
 * (co-partitioned-assigner.ts), so a worker that restarts on the same state root gets back the
 * tasks whose local state it holds. Processes sharing one state root share the id; the assignor
 * then orders them by member id, and either finds the tasks' stores on that host.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const FILE = 'worker-instance';
const VALID = /^[0-9a-f-]{36}$/;

/** The id kept in `stateRoot`, written on the first start (the root exists). */
export function workerInstanceId(stateRoot: string): string {
  const path = join(stateRoot, FILE);
  const existing = readId(path);
  if (existing !== undefined) return existing;
  // Written whole and renamed into place, so no reader sees half an id. Two first starts at once
  // on one root may each keep their own id this time; later starts read the one that landed.
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${randomUUID()}\n`);
  renameSync(tmp, path);
  return readId(path)!;
}

function readId(path: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
  // A damaged file is replaced: the id only orders members, nothing is computed from it.
  return VALID.test(text) ? text : undefined;
}
