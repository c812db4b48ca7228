/**
 * The local Kafka + schema registry stack (scripts/stack/) for `skewless demo skew`. Nothing in
 * src/ imports scripts/ (test/unit/import-graph.test.ts), so this runs ensureStack() in a child
 * process, scripts/stack/session.mjs, which holds the stack and stops what it started when told.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const SESSION_SCRIPT = fileURLToPath(new URL('../../scripts/stack/session.mjs', import.meta.url));

export interface LocalStack {
  /** Comma-separated host:port list. */
  readonly brokers: string;
  readonly registryUrl: string;
  /** True when this call started Kafka or the registry (then stop() stops them). */
  readonly startedHere: boolean;
  /** Stops what this call started; nothing when it started nothing. */
  stop(): Promise<void>;
}

type SessionMessage = { log: string } | { error: string } | { brokers: string; registryUrl: string; startedHere: boolean };

/**
 * Make sure a broker and a registry are reachable, starting the local stack where needed (as
 * ensureStack() in scripts/stack/stack.mjs does; `log` gets its progress messages). When it
 * started something, the session child lives until stop() or until this process exits (which
 * leaves the stack running).
 */
export async function ensureLocalStack(log: (msg: string) => void): Promise<LocalStack> {
  const child = spawn(process.execPath, [SESSION_SCRIPT], { stdio: ['pipe', 'pipe', 'inherit'] });
  child.stdin.on('error', () => {}); // the child is gone: `closed` says how it ended
  const closed = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve(code));
  });
  let error: string | undefined;
  const answer = new Promise<{ brokers: string; registryUrl: string; startedHere: boolean } | null>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      let m: SessionMessage;
      try {
        m = JSON.parse(line) as SessionMessage;
      } catch {
        m = { log: line };
      }
      if ('log' in m) log(m.log);
      else if ('error' in m) error = m.error;
      else resolve(m);
    });
    closed.then(() => resolve(null), reject);
  });
  const fail = (code: number | null): Error => new Error(error ?? `${SESSION_SCRIPT} exited with code ${code}`);
  const a = await answer;
  if (a === null) throw fail(await closed);
  if (!a.startedHere) {
    await closed;
    return { ...a, stop: async () => {} };
  }
  return {
    ...a,
    stop: async () => {
      child.stdin.end('stop\n');
      const code = await closed;
      if (code !== 0 || error !== undefined) throw fail(code);
    },
  };
}
