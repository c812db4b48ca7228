#!/usr/bin/env node
/**
 * Runs every command of README.md as written, in README order, in a fresh clone, and says which
 * passed: issue 12's "every README command was run as written in a test or a script".
 *
 *   node scripts/readme-commands.mjs [--json] [--heavy] [--keep] [--list] [--only 1,9-18] [--with <file>]...
 *
 * - Which commands, and which are not run here and why: scripts/readme-commands/extract.mjs (its
 *   header states the rule). --heavy also runs the skipped entries marked heavy (the whole test
 *   suite, benchmarks, the secured stack). --list prints the commands and runs nothing.
 * - Where: `git clone` of this repository's HEAD into a temp dir, with this working tree's README.md
 *   copied over it (the README under review; everything else is as committed, except the working tree's
 *   files named by --with, to try an uncommitted fix; the summary lists them). The clone gets a
 *   real `npm install`, since that is the README's first command and the lock file must survive it.
 * - How: each command in its own `bash -c` in the clone, with the environment the previous one left
 *   (so `export $(node scripts/stack/up.mjs)` carries over), starting from this process's
 *   environment without any stack or SKEWLESS_ setting, as a new shell would. `a && b` runs as two
 *   steps. The stack: `npm run stack:up` reuses one already running on its ports and never stops it.
 * - Long-running commands (`run`, `bootstrap` going live) pass when they reach their steady state
 *   (scripts/readme-commands/promises.mjs: the "running" line, a first committed batch, metrics
 *   answering, no consumer lag left), and then, after Ctrl-C (SIGINT to their process group, as a
 *   terminal sends it), end with "skewless: stopped cleanly" within a minute.
 * - Then every README-named topic, group and subject is deleted (none may exist at the start: the
 *   run refuses to mix with them), and the temp dir removed (unless --keep).
 * Exit status: 0 when every command run passed, else 1.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { extractCommands } from './readme-commands/extract.mjs';
import { promiseFor } from './readme-commands/promises.mjs';
import { Cluster } from './readme-commands/cluster.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const COMMAND_TIMEOUT_MS = 40 * 60_000;
const READY_TIMEOUT_MS = 10 * 60_000;
const STOP_TIMEOUT_MS = 60_000;

const { values: opts } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    heavy: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    list: { type: 'boolean', default: false },
    only: { type: 'string' },
    with: { type: 'string', multiple: true, default: [] },
  },
});

const say = (line) => process.stderr.write(`${line}\n`);
const readmeText = fs.readFileSync(path.join(REPO, 'README.md'), 'utf8');
const commands = extractCommands(readmeText);
const only = opts.only === undefined ? undefined : parseOnly(opts.only);

if (opts.list) {
  for (const c of commands) console.log(`${String(c.index).padStart(3)}  README.md:${c.line}  ${plan(c)}  ${c.text}`);
  process.exit(0);
}

const t0 = Date.now();
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'skewless-readme-'));
const clone = path.join(work, 'repo');
const logs = path.join(work, 'logs');
fs.mkdirSync(logs);
const head = git(['rev-parse', 'HEAD'], REPO);
git(['clone', '--quiet', REPO, clone], work);
for (const f of ['README.md', ...opts.with]) fs.copyFileSync(path.join(REPO, f), path.join(clone, f));
say(`readme-commands: ${commands.length} commands, clone of ${head.slice(0, 10)} in ${clone}`);

let env = freshShellEnv();
/** @type {Cluster | undefined} */
let cluster;
const results = [];
const failedSteps = new Set();
let aborted;
let removed;
try {
  await runAll();
} finally {
  // Also after a crash of this script: README-named topics left on a shared stack block the next run.
  if (cluster !== undefined && aborted === undefined) removed = await cluster.removeReadmeResidue().catch((e) => ({ error: e.message }));
}
const minutes = (Date.now() - t0) / 60_000;

const count = (s) => results.filter((r) => r.status === s).length;
const summary = {
  date: new Date().toISOString().slice(0, 10),
  commit: head,
  ...(opts.with.length > 0 ? { workingTreeFiles: opts.with } : {}),
  minutes: Number(minutes.toFixed(1)),
  run: count('pass') + count('fail'),
  passed: count('pass'),
  failed: count('fail'),
  skipped: count('skip'),
  duplicates: count('duplicate'),
  notRun: count('not run'),
  ...(aborted ? { aborted } : {}),
  cleanedUp: removed,
  logs: opts.keep ? logs : undefined,
  commands: results,
};
if (opts.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
else process.stdout.write(table(results, summary));
if (!opts.keep) fs.rmSync(work, { recursive: true, force: true });
process.exit(summary.failed > 0 || aborted ? 1 : 0);

async function runAll() {
  for (const c of commands) {
    const base = { index: c.index, line: c.line, command: c.text };
    const why = plan(c);
    if (why !== 'run') {
      results.push({ ...base, status: why === 'duplicate' ? 'duplicate' : 'skip', reason: why === 'duplicate' ? `same as #${c.duplicateOf}` : c.skip.reason });
      continue;
    }
    if (only !== undefined && !only.has(c.index)) {
      results.push({ ...base, status: 'not run', reason: '--only' });
      continue;
    }
    if (aborted !== undefined || (c.chain !== undefined && c.chain.part > 1 && failedSteps.has(c.line))) {
      results.push({ ...base, status: 'not run', reason: aborted ?? 'an earlier step of its && chain failed' });
      continue;
    }
    say(`#${c.index} README.md:${c.line} $ ${c.text}`);
    const r = await runOne(c);
    results.push({ ...base, ...r });
    say(`   ${r.status} (exit ${r.exit ?? '-'}, ${r.seconds.toFixed(1)} s)${r.reason ? `: ${r.reason}` : ''}`);
    if (r.status === 'fail') failedSteps.add(c.line);
    if (cluster === undefined && env.KAFKA_BROKERS && env.SCHEMA_REGISTRY_URL) {
      // The first moment the README's commands know their stack: nothing README-named may be there yet.
      cluster = new Cluster(REPO, { brokers: env.KAFKA_BROKERS, registryUrl: env.SCHEMA_REGISTRY_URL });
      const residue = await cluster.readmeResidue();
      const found = [...residue.topics, ...residue.groups, ...residue.subjects];
      if (found.length > 0) aborted = `the stack at ${env.KAFKA_BROKERS} already holds ${found.join(', ')}: the README's commands would mix their data with it; delete them or use another stack`;
    }
  }
}

/** 'run', 'duplicate', or the skip it falls under. */
function plan(c) {
  if (c.duplicateOf !== undefined) return 'duplicate';
  if (c.skip !== undefined && !(c.skip.heavy && opts.heavy)) return c.skip.heavy ? 'skip (heavy)' : 'skip';
  return 'run';
}

async function runOne(c) {
  const promise = promiseFor(c.text);
  const n = String(c.index).padStart(2, '0');
  const envOut = path.join(work, `env-${n}`);
  const out = path.join(logs, `${n}.out`);
  const err = path.join(logs, `${n}.err`);
  const statePath = /--state (\/\S+)/.exec(c.text)?.[1];
  const stateDirBefore = statePath === undefined ? undefined : fs.existsSync(statePath);
  // `exec` for a long-running command: the signal then reaches it as Ctrl-C would, not a waiting bash.
  const script = promise?.longRunning
    ? `exec ${c.text}`
    : `${c.text}\n__rc=$?\nenv -0 > ${shellQuote(envOut)}\nexit $__rc`;
  const started = Date.now();
  const child = spawn('bash', ['-c', script], { cwd: clone, env, detached: true, stdio: ['ignore', fs.openSync(out, 'w'), fs.openSync(err, 'w')] });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  let reason;
  let exit;
  let stoppedIn;
  if (promise?.longRunning) {
    const ready = await waitReady(c, promise.longRunning.ready, exited, err, started);
    if (ready !== true) {
      reason = ready;
      killGroup(child.pid, 'SIGKILL');
      await exited;
    } else {
      // Ctrl-C: SIGINT to the whole process group. npm waits for skewless, then re-raises the
      // signal, so its own status says nothing: skewless's last words do.
      const stopping = Date.now();
      killGroup(child.pid, 'SIGINT');
      if (!(await groupGone(child.pid, exited, STOP_TIMEOUT_MS))) {
        killGroup(child.pid, 'SIGKILL');
        reason = `still running ${STOP_TIMEOUT_MS / 1000} s after Ctrl-C (SIGINT)`;
      } else {
        const stderr = fs.readFileSync(err, 'utf8');
        const last = lastLine(stderr);
        if (last !== 'skewless: stopped cleanly') reason = `after Ctrl-C (SIGINT) its last line is not "skewless: stopped cleanly": ${last}`;
        else stoppedIn = (Date.now() - stopping) / 1000;
      }
    }
  } else {
    const done = await Promise.race([exited, sleep(COMMAND_TIMEOUT_MS).then(() => undefined)]);
    if (done === undefined) {
      killGroup(child.pid, 'SIGKILL');
      await exited;
      reason = `timed out after ${COMMAND_TIMEOUT_MS / 60_000} min`;
    } else {
      exit = done.code;
      if (fs.existsSync(envOut)) env = readEnv(envOut);
      if (done.code !== 0) reason = `exit ${done.code ?? done.signal}: ${lastLine(fs.readFileSync(err, 'utf8')) || lastLine(fs.readFileSync(out, 'utf8'))}`;
    }
  }
  const seconds = (Date.now() - started) / 1000;
  if (reason === undefined && promise?.check) {
    try {
      reason = promise.check({ command: c.text, clone, readme: readmeText, exit, stdout: fs.readFileSync(out, 'utf8'), stderr: fs.readFileSync(err, 'utf8'), env, started, stateDirBefore });
    } catch (e) {
      reason = `check failed: ${e.message}`;
    }
  }
  const note = stoppedIn === undefined ? undefined : `steady state (${promise.longRunning.ready.join(', ')}), then Ctrl-C: stopped cleanly in ${stoppedIn.toFixed(1)} s`;
  return { status: reason === undefined ? 'pass' : 'fail', exit: exit ?? null, seconds, ...(reason ? { reason } : note ? { reason: note } : {}) };
}

/** true once every condition holds; else why not (the command exited, or the time ran out). */
async function waitReady(c, conditions, exited, errFile, started) {
  let gone;
  exited.then((e) => { gone = e; });
  const group = /--group (\S+)/.exec(c.text)?.[1] ?? `skewless-${topologyName(c.text)}`;
  const before = conditions.includes('committed') ? await cluster.committed(group) : 0;
  const metricsPort = /--metrics-port (\d+)/.exec(c.text)?.[1];
  const parityFile = /--parity-file (\S+)/.exec(c.text)?.[1];
  const pending = new Set(conditions);
  while (Date.now() - started < READY_TIMEOUT_MS) {
    if (gone !== undefined) return `exited (${gone.code ?? gone.signal}) before its steady state: ${lastLine(fs.readFileSync(errFile, 'utf8'))}`;
    for (const cond of [...pending]) {
      // A check that cannot reach the stack (a broker another client of a shared stack restarts)
      // has not seen the condition yet: ask again, rather than end the run with the command still running.
      if (await holds(cond).catch(() => false)) pending.delete(cond);
    }
    if (pending.size === 0) return true;
    await sleep(500);
  }
  return `no steady state within ${READY_TIMEOUT_MS / 60_000} min (still waiting for: ${[...pending].join(', ')})`;

  async function holds(cond) {
    if (cond === 'log') return /^skewless: running /m.test(fs.readFileSync(errFile, 'utf8'));
    if (cond === 'committed') return (await cluster.committed(group)) > before;
    if (cond === 'caught-up') return (await cluster.lag(group)) === 0;
    if (cond === 'parity-file') return fs.existsSync(path.join(clone, parityFile)) && fs.statSync(path.join(clone, parityFile)).size > 0;
    if (cond === 'metrics') {
      const body = await fetch(`http://127.0.0.1:${metricsPort}/metrics`).then((r) => (r.ok ? r.text() : ''), () => '');
      return /^skewless_features_total(\{[^}]*\})? [1-9]/m.test(body);
    }
    throw new Error(`unknown steady-state condition ${cond}`);
  }
}

/** The name a topology file declares (`topology('card-fraud', ...)`): the default group is skewless-<name>. */
function topologyName(command) {
  const file = /\b(topologies\/\S+\.ts)\b/.exec(command)?.[1];
  const name = file === undefined ? undefined : /topology\(\s*'([^']+)'/.exec(fs.readFileSync(path.join(clone, file), 'utf8'))?.[1];
  if (name === undefined) throw new Error(`cannot tell the topology name of: ${command}`);
  return name;
}

/** Whether every process of the group has exited within `ms` (the leader first: until it is reaped it still counts). */
async function groupGone(pgid, leaderExited, ms) {
  const deadline = Date.now() + ms;
  if ((await Promise.race([leaderExited, sleep(ms).then(() => undefined)])) === undefined) return false;
  while (Date.now() < deadline) {
    try {
      process.kill(-pgid, 0);
    } catch {
      return true;
    }
    await sleep(200);
  }
  return false;
}

function killGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

/** This process's environment as a new login shell would have it: no stack, no skewless settings, no npm run context. */
function freshShellEnv() {
  const e = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(KAFKA_BROKERS|SCHEMA_REGISTRY_URL|SECURE_SKEWLESS_CONFIG|SKEWLESS_.*|STACK_.*|npm_.*|INIT_CWD)$/.test(k)) continue;
    e[k] = v;
  }
  return e;
}

function readEnv(file) {
  const e = {};
  for (const entry of fs.readFileSync(file, 'utf8').split('\0')) {
    const i = entry.indexOf('=');
    if (i <= 0) continue;
    const k = entry.slice(0, i);
    if (['PWD', 'OLDPWD', 'SHLVL', '_', '__rc'].includes(k)) continue;
    e[k] = entry.slice(i + 1);
  }
  return e;
}

function table(rows, s) {
  const cut = (t, n) => (t.length > n ? `${t.slice(0, n - 1)}…` : t);
  const lines = rows.map((r) => [
    String(r.index).padStart(3),
    `:${r.line}`.padEnd(6),
    r.status.padEnd(9),
    String(r.exit ?? '').padStart(4),
    r.seconds === undefined ? '      ' : `${r.seconds.toFixed(1).padStart(6)}s`,
    ` ${cut(r.command, 72).padEnd(72)}`,
    r.reason ? ` ${r.status === 'pass' ? '' : '— '}${cut(r.reason, 160)}` : '',
  ].join(' '));
  return [
    '  #  line   result    exit    time  command',
    ...lines,
    '',
    `${s.date}, commit ${s.commit.slice(0, 10)}${s.workingTreeFiles ? ` with the working tree's ${s.workingTreeFiles.join(', ')}` : ''}: ${s.run} run (${s.passed} passed, ${s.failed} failed), ${s.skipped} skipped, ${s.duplicates} duplicates, ${s.notRun} not run; ${s.minutes} min`,
    ...(s.aborted ? [`aborted: ${s.aborted}`] : []),
    ...(s.cleanedUp?.topics ? [`deleted: ${[...s.cleanedUp.topics, ...s.cleanedUp.groups, ...s.cleanedUp.subjects].join(', ') || 'nothing'}`] : []),
    ...(s.cleanedUp?.groupsLeft?.length > 0 ? [`NOT deleted (the next run will refuse to start until they are gone): groups ${s.cleanedUp.groupsLeft.join(', ')}`] : []),
    '',
  ].join('\n');
}

function parseOnly(spec) {
  const set = new Set();
  for (const part of spec.split(',')) {
    const [a, b] = part.split('-').map(Number);
    for (let i = a; i <= (b ?? a); i++) set.add(i);
  }
  return set;
}

function git(args, cwd) {
  const r = spawnSync('git', args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr.trim()}`);
  return r.stdout.trim();
}

function lastLine(text) {
  return text.trim().split('\n').pop() ?? '';
}

function shellQuote(s) {
  return `'${s.replaceAll("'", "'\\''")}'`;
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
