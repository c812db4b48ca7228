/**
 * `skewless deploy <topology> [--state dir] [--dry-run] [--registry url] [--config file] [--json]`
 * (`strictDecimals`, as `schemas check --strict-decimals`, when the caller passes it)
 *
 * The gate before a topology goes live, in order:
 * 1. schemas check against the registry (sources and sinks, each subject's own level);
 * 2. version check: when --state holds task state written by another topology version, the
 *    change list between the stored plan and this one, and the two ways forward (the same text
 *    a live task fails with, VersionMismatchError, so the advice is the same wherever it is met);
 * 3. schemas register.
 * Any problem in 1 or 2 stops before 3: nothing is registered. --dry-run runs 1 and 2 and
 * prints what 3 would do: register a subject, or leave it unchanged when the registry already
 * holds exactly its schema. Exit 1 on any problem, 0 otherwise.
 */
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VersionMismatchError, type TaskMeta } from '../engine/task.js';
import type { Json } from '../plan/canonical-json.js';
import type { CompiledPlan } from '../plan/compile.js';
import { diffPlans } from '../plan/plan-diff.js';
import { checkSubjects, type SubjectCheck } from '../schemas/registry-check.js';
import { registerSubjects, type RegisteredSubject } from '../schemas/registry-register.js';
import { loadTopologies } from '../schemas/registry-topologies.js';
import { LevelBackend } from '../state/state-backend.js';
import { formatFinding, registryClientOf, registryFindings, type SchemasCheckFinding } from './schemas-command.js';
import { refuseUnfinishedBootstrap } from '../modes/unfinished-bootstrap.js';

export interface DeployOptions {
  state?: string;
  dryRun?: boolean;
  registry?: string;
  /** Connection config file (default $SKEWLESS_CONFIG). */
  config?: string;
  /** Refuse decimal precision or scale changes, as `schemas check --strict-decimals`. */
  strictDecimals?: boolean;
  json?: boolean;
}

/** One task whose state another topology version wrote. */
export interface StateMismatch {
  readonly partition: number;
  readonly stored: string;
  readonly current: string;
  readonly changes: readonly string[];
  /** The VersionMismatchError text: the change list and the two ways forward. */
  readonly message: string;
}

export interface DeployResult {
  readonly topology: string;
  readonly version: string;
  readonly dryRun: boolean;
  readonly findings: readonly SchemasCheckFinding[];
  readonly subjects: readonly SubjectCheck[];
  readonly mismatches: readonly StateMismatch[];
  /** Tasks under --state written by this same version (a redeploy). */
  readonly matchingTasks: number;
  /** Empty on a dry run or when stopped. */
  readonly registered: readonly RegisteredSubject[];
  readonly ok: boolean;
}

const TASK_DIR = /^task-(\d+)$/;

/**
 * Read a task's checkpoint meta and stored plan from a copy of its LevelDB: opening a LevelDB
 * in place rewrites its log and manifest, and a deploy check (a dry run above all) must leave
 * the state directory byte for byte as it found it.
 */
async function readTaskCheckpoint(taskDir: string, partition: number): Promise<{ meta?: TaskMeta; plan?: Json }> {
  const copy = mkdtempSync(join(tmpdir(), 'skewless-deploy-state-'));
  try {
    cpSync(taskDir, copy, { recursive: true });
    rmSync(join(copy, 'LOCK'), { force: true }); // a running worker's lock must not block the read of a copy
    const backend = await LevelBackend.open(copy);
    try {
      const [metaBytes, planBytes] = await backend.getMany([`p${partition}/meta`, `p${partition}/plan`]);
      const decode = (b: Uint8Array | undefined): unknown => (b ? (JSON.parse(new TextDecoder().decode(b)) as unknown) : undefined);
      return { meta: decode(metaBytes) as TaskMeta | undefined, plan: decode(planBytes) as Json | undefined };
    } finally {
      await backend.close();
    }
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
}

/** Tasks under `stateDir` written by another version than `plan`'s, and how many match it. */
export async function stateVersionCheck(stateDir: string, plan: CompiledPlan): Promise<{ mismatches: StateMismatch[]; matching: number }> {
  const mismatches: StateMismatch[] = [];
  let matching = 0;
  if (!existsSync(stateDir)) return { mismatches, matching };
  refuseUnfinishedBootstrap(stateDir);
  const dirs = readdirSync(stateDir).filter((d) => TASK_DIR.test(d)).sort();
  for (const d of dirs) {
    const partition = Number(TASK_DIR.exec(d)![1]);
    const { meta, plan: stored } = await readTaskCheckpoint(join(stateDir, d), partition);
    if (!meta) continue; // a task that never checkpointed holds no state to mismatch
    if (meta.version === plan.version) {
      matching++;
      continue;
    }
    const changes = stored === undefined ? [] : diffPlans(stored, plan.canonical);
    const err = new VersionMismatchError(meta.version, plan.version, partition, changes);
    mismatches.push({ partition, stored: meta.version, current: plan.version, changes, message: err.message });
  }
  return { mismatches, matching };
}

/** Run the deploy gate; prints nothing. Usage errors and registry outages throw. */
export async function deploy(file: string, opts: DeployOptions, cwd: string = process.cwd()): Promise<DeployResult> {
  const client = registryClientOf(opts);
  const loaded = await loadTopologies([file], cwd);
  const plan = loaded.plans[0];
  const checkOpts = { strictDecimals: opts.strictDecimals };
  const checks = await checkSubjects(client, loaded.subjects, checkOpts);
  const findings = registryFindings(loaded, checks);
  const { mismatches, matching } = opts.state ? await stateVersionCheck(opts.state, plan) : { mismatches: [], matching: 0 };
  const base = { topology: plan.topology.name, version: plan.version, dryRun: opts.dryRun === true, findings, subjects: checks, mismatches, matchingTasks: matching };
  const blocked = findings.length > 0 || mismatches.length > 0;
  if (blocked || opts.dryRun) return { ...base, registered: [], ok: !blocked };
  const outcome = await registerSubjects(client, loaded.subjects, checkOpts);
  // The check ran moments ago; a refusal now means someone registered in between.
  if (outcome.refused) return { ...base, findings: registryFindings(loaded, outcome.checks), registered: [], ok: false };
  return { ...base, registered: outcome.registered, ok: true };
}

/** Mismatches of many partitions usually share one stored version: print each distinct message once. */
function mismatchText(mismatches: readonly StateMismatch[]): string[] {
  const byVersion = new Map<string, StateMismatch[]>();
  for (const m of mismatches) byVersion.set(m.stored, [...(byVersion.get(m.stored) ?? []), m]);
  return [...byVersion.values()].map((ms) => {
    const parts = ms.map((m) => m.partition);
    const prefix = parts.length > 1 ? `partitions ${parts.join(', ')}: ` : '';
    return `${prefix}${ms[0].message}`;
  });
}

export async function runDeploy(file: string, opts: DeployOptions): Promise<void> {
  const r = await deploy(file, opts);
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
    process.exitCode = r.ok ? 0 : 1;
    return;
  }
  const out = (line: string): boolean => process.stdout.write(`${line}\n`);
  const tag = r.dryRun ? 'deploy --dry-run' : 'deploy';
  out(`${tag}: topology ${r.topology} version ${r.version}`);
  out(`1. schemas check: ${r.subjects.length} subject(s), ${r.findings.length === 0 ? 'no problems' : `${r.findings.length} problem(s)`}`);
  for (const f of r.findings) out(`  ${formatFinding(f)}`);
  if (!opts.state) out('2. version check: skipped (no --state)');
  else if (r.mismatches.length === 0) out(`2. version check: ${r.matchingTasks > 0 ? `${r.matchingTasks} task(s) under ${opts.state} hold state of this version` : `no task state under ${opts.state}`}`);
  else {
    out(`2. version check: ${r.mismatches.length} task(s) under ${opts.state} hold state of another version`);
    for (const text of mismatchText(r.mismatches)) for (const line of text.split('\n')) out(`  ${line}`);
  }
  if (!r.ok) {
    out('3. register: not done (fix the problems above first); nothing was changed');
  } else if (r.dryRun) {
    out('3. register (dry run, nothing registered):');
    for (const s of r.subjects) {
      if (s.registeredAs !== undefined) out(`  unchanged ${s.subject} (already registered as v${s.registeredAs})`);
      else out(`  would register ${s.subject} (${s.versions.length === 0 ? 'new subject' : `level ${s.level}, after v${s.versions[s.versions.length - 1]}`})`);
    }
  } else {
    out('3. register:');
    for (const s of r.registered) out(`  ${s.subject} id ${s.id}${s.added ? ' registered' : ' unchanged (already registered)'}`);
    out(`next: skewless run ${file}${opts.state ? ` --state ${opts.state}` : ''}`);
  }
  process.exitCode = r.ok ? 0 : 1;
}
