/**
 * `skewless parity` as the tests run it: the CLI in a child process (its exit code is part of
 * the contract: 0 holds, 1 alert, 2 error), with the result parsed when `--json` printed one.
 */
import { spawn } from 'node:child_process';
import type { ParityRunResult } from '../../src/parity/parity-run.js';
import { BIN, ROOT } from './live-run.js';

export interface ParityCliRun {
  readonly code: number | null;
  /** The parsed `--json` output; undefined when stdout held none (an error, or no --json). */
  readonly result: ParityRunResult | undefined;
  readonly stdout: string;
  readonly stderr: string;
  /** Wall-clock time of the whole command, process start included. */
  readonly seconds: number;
}

/** `skewless parity <args>` from the repository root. */
export function runParityCli(args: readonly string[], env: NodeJS.ProcessEnv): Promise<ParityCliRun> {
  const started = Date.now();
  const child = spawn(process.execPath, [BIN, 'parity', ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  return new Promise((resolve) =>
    child.once('close', (code) => {
      let result: ParityRunResult | undefined;
      try {
        result = JSON.parse(stdout) as ParityRunResult;
      } catch {
        result = undefined;
      }
      resolve({ code, result, stdout, stderr, seconds: (Date.now() - started) / 1000 });
    }),
  );
}
