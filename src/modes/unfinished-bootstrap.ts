import { closeSync, existsSync, fsyncSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A bootstrap writes its state root for minutes or hours, in passes: the origin tasks' final
 * checkpoints first, then, for a topology with a regrouping, the regrouped tasks' state. Killed
 * part way, the root holds task stores that look finished beside regrouped state that is missing
 * altogether, and a live worker would take them for a bootstrapped state and serve regrouped
 * features computed without their history. So the root carries this mark from the start of the
 * replay until its state is complete, and every command that would read the state refuses it.
 */
const FILE = 'bootstrap-unfinished.json';

export interface UnfinishedBootstrap {
  readonly group: string;
  readonly topology: string;
  /** When it started (ISO 8601): for the message only. */
  readonly started: string;
}

export class UnfinishedBootstrapError extends Error {
  constructor(stateDir: string, mark: UnfinishedBootstrap) {
    super(
      `state dir ${stateDir} holds the state of a bootstrap of ${mark.topology} (group ${mark.group}, started ${mark.started}) that did not finish: ` +
        `it is incomplete (a regrouped topology's regrouped state may be missing altogether). Remove the directory and run \`skewless bootstrap\` again`,
    );
    this.name = 'UnfinishedBootstrapError';
  }
}

/** Mark `stateDir` (which exists) as being written by a bootstrap; durable before any task state is. */
export function markBootstrapStarted(stateDir: string, mark: UnfinishedBootstrap): void {
  const fd = openSync(join(stateDir, FILE), 'w');
  try {
    writeSync(fd, `${JSON.stringify(mark)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** The state under `stateDir` is complete. */
export function clearBootstrapMark(stateDir: string): void {
  rmSync(join(stateDir, FILE), { force: true });
}

/** The bootstrap that left `stateDir` unfinished, if one did. */
export function unfinishedBootstrap(stateDir: string): UnfinishedBootstrap | undefined {
  const file = join(stateDir, FILE);
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as UnfinishedBootstrap;
  } catch {
    // Killed while writing the mark itself: it is no less unfinished.
    return { group: 'unknown', topology: 'unknown', started: 'unknown' };
  }
}

/** Refuse a state root a bootstrap left unfinished. */
export function refuseUnfinishedBootstrap(stateDir: string): void {
  const mark = unfinishedBootstrap(stateDir);
  if (mark !== undefined) throw new UnfinishedBootstrapError(stateDir, mark);
}
