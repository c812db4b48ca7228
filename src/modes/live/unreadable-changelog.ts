/**
 * Task state in a changelog that this build cannot use: checkpoints of another state format
 * (an older build ran the group), entries the engine cannot decode in a store just rebuilt
 * from the changelog, or a regrouped state just rebuilt that disagrees with its answers topic.
 * Every restore reads the same records, so no retry can help: the worker stops at once with one
 * line that says where the state is and how to go forward.
 */
import { isAbsolute, relative } from 'node:path';
import { STATE_FORMAT } from '../../state/task-state-keys.js';

export class UnreadableChangelogError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnreadableChangelogError';
  }
}

export interface ChangelogOwner {
  readonly group: string;
  readonly changelog: string;
  /** The topology file the worker runs. */
  readonly topologyFile: string;
  /** The worker's --state root. */
  readonly stateDir: string;
}

/** A word as a POSIX shell reads it back: as it is when plain, single-quoted otherwise. */
export function shellWord(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The file as the user would type it here: relative to the working directory when inside it. */
function typedPath(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : file;
}

/**
 * The error a worker stops with: `what` completes "changelog <topic> partition <p> of group
 * <group> ..." (e.g. "holds state format 3, this build reads 4"). One line: the ways forward
 * are a new group (its own changelog) filled by `skewless bootstrap`, or started empty by `run`.
 */
export function unreadableChangelog(owner: ChangelogOwner, partition: number, what: string): UnreadableChangelogError {
  const group = `${owner.group}-format${STATE_FORMAT}`;
  const state = `${owner.stateDir.replace(/(.)\/+$/, '$1')}-format${STATE_FORMAT}`;
  const args = `${shellWord(typedPath(owner.topologyFile))} --state ${shellWord(state)} --group ${shellWord(group)}`;
  return new UnreadableChangelogError(
    `task ${partition}: changelog ${owner.changelog} partition ${partition} of group ${owner.group} ${what.replace(/\s*\n\s*/g, ' ')}; ` +
      'restoring it again would read the same records, so the worker stops. Run this build under a new group, which gets its own changelog: ' +
      `rebuild the state from the inputs' history with \`skewless bootstrap ${args}\` (it then goes live at the next offsets), ` +
      `or start from empty state with \`skewless run ${args}\` (it serves the inputs again from their earliest offsets); ` +
      "each with this run's --topic, --output-topic, --side-prefix and --config flags, if it has any.",
  );
}
