/**
 * `skewless schemas check <topology...> [--registry <url>] [--config <file>] [--strict-decimals] [--json]`
 * `skewless schemas check <topology...> --offline [--against <ref>] [--level BACKWARD] [--strict-decimals] [--json]`
 * `skewless schemas register <topology...> [--registry <url>] [--config <file>] [--strict-decimals] [--json]`
 *
 * With a registry (the default): every source subject `<topic>-value` and every sink subject
 * (the live output topics' record schemas) against the subject's registered versions at the
 * subject's own compatibility level: the registry's verdict plus the local rules, which list
 * each problem (see src/schemas/registry-check.ts). A subject the registry does not hold is
 * new: nothing to check. `register` runs the same check and registers nothing when it fails.
 *
 * Offline: for every source of every topology given, the subject `<topic>-value`'s local .avsc against the same file
 * at a git ref under a compatibility level.
 *
 * Both also run the topology field check (every field the topology's functions read exists
 * in the reader schema with a usable type).
 *
 * Decimal precision and scale may change, as in Avro Java and the registry; `--strict-decimals`
 * refuses such changes (the Avro specification's rule).
 *
 * Output: one line per problem, `<subject> <version> <field path>: <rule> — <message>; fix: <fix>`
 * where <version> is `v<n>` for a registry version, the ref itself (`HEAD`, `origin/main`) for
 * a git ref, and `local` for topology field problems (about the working tree alone); then a
 * summary on stderr; `--json` prints a JSON array of the problems instead. A problem found
 * twice (two topology files reading one source with the same topology name) is listed once.
 * Exit 1 on any problem, 0 when clean, 2 on a usage error (through main's error handler).
 */
import { relative, resolve } from 'node:path';
import type { Command, CommanderError } from 'commander';
import { loadTopology } from '../plan/load-topology.js';
import type { AvroSchemaJson } from '../schemas/avro-model.js';
import { checkAgainstLevel, COMPATIBILITY_LEVELS, parseCompatibilityLevel, type CompatibilityLevel, type Direction, type LevelProblem } from '../schemas/compatibility-level.js';
import { gitRepoRoot, resolveGitRef, schemaVersionsAtRefs } from '../schemas/git-ref-schemas.js';
import { checkTopologyFields } from '../schemas/topology-field-check.js';
import { RegistryCompatibilityClient } from '../io/avro/registry-compatibility.js';
import { registryEndpoint } from '../io/avro/registry-http.js';
import { CONFIG_HELP, registryEndpoints, type KafkaEndpointFlags } from './kafka-endpoints.js';
import { checkSubjects, type SubjectCheck } from '../schemas/registry-check.js';
import { registerSubjects, type RegisteredSubject } from '../schemas/registry-register.js';
import { loadTopologies, type LoadedTopologies } from '../schemas/registry-topologies.js';

export interface SchemasCheckOptions {
  offline?: boolean;
  /** Registry URL (default $SCHEMA_REGISTRY_URL); not with --offline. */
  registry?: string;
  /** Connection config file (default $SKEWLESS_CONFIG); not with --offline. */
  config?: string;
  /** Git refs to compare with, oldest first (the last is "latest"); default ['HEAD']. */
  against?: string[];
  level?: string;
  /** Refuse decimal precision or scale changes (the registry accepts them). */
  strictDecimals?: boolean;
  json?: boolean;
}

export interface SchemasCheckFinding {
  /** 'compatibility': the local schema against a version at a ref; 'topology': a field the topology reads. */
  readonly kind: 'compatibility' | 'topology';
  /** `<topic>-value`. */
  readonly subject: string;
  /** The registry version ('1') or git ref ('HEAD') the problem is against, or 'local' for topology field problems. */
  readonly version: string;
  /** Compatibility problems: whether `version` is a registry version or a git ref. */
  readonly versionKind?: 'registry' | 'git-ref';
  /** Compatibility problems: 'backward' (the local schema cannot read that version's data) or 'forward' (that version cannot read the local schema's data). */
  readonly direction?: Direction;
  readonly path: string;
  readonly rule: string;
  readonly message: string;
  readonly fix: string;
  /** The .avsc file, relative to the working directory. */
  readonly schema: string;
  /** Topology field problems: the topology's name. */
  readonly topology?: string;
}

export interface SchemasCheckResult {
  readonly findings: SchemasCheckFinding[];
  readonly level: CompatibilityLevel;
  readonly against: readonly string[];
  readonly topologies: readonly string[];
  /** Every subject checked, with the refs where its schema file existed (empty: new subject). */
  readonly subjects: ReadonlyArray<{ readonly subject: string; readonly schema: string; readonly versions: readonly string[] }>;
}

/**
 * The topology files named on the command line, and only those: a topology file is code that
 * runs with the command's privileges and environment (registry credentials included), so
 * nothing is loaded that the caller did not name.
 */
function topologyFiles(topologyArgs: readonly string[], command: string): string[] {
  if (topologyArgs.length === 0) {
    throw new Error(`${command}: name the topology files, e.g. \`skewless ${command} topologies/card-fraud.ts\` (a shell glob such as topologies/*.ts works): only the files named are loaded, since a topology file is code`);
  }
  return [...topologyArgs];
}

/** Run the check and return what it found (no output, no exit code). Usage errors throw. */
export async function schemasCheck(topologyArgs: readonly string[], opts: SchemasCheckOptions, cwd: string = process.cwd()): Promise<SchemasCheckResult> {
  if (!opts.offline) {
    // The registry check is registrySchemasCheck: this function reads schemas at git refs only.
    throw new Error('schemas check: schemasCheck compares with git refs; pass --offline (or use registrySchemasCheck for the registry)');
  }
  const level = parseCompatibilityLevel(opts.level ?? 'BACKWARD');
  const against = opts.against && opts.against.length > 0 ? [...opts.against] : ['HEAD'];
  const files = topologyFiles(topologyArgs, 'schemas check');

  const findings: SchemasCheckFinding[] = [];
  const subjects: Array<{ subject: string; schema: string; versions: string[] }> = [];
  const checked = new Set<string>();
  const topologies: string[] = [];
  const validatedRoots = new Set<string>();

  for (const file of files) {
    const plan = await loadTopology(resolve(cwd, file));
    topologies.push(plan.topology.name);
    const fieldProblems = checkTopologyFields(plan);
    for (const source of [...plan.topology.sources].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const loaded = plan.schemas.get(source.name);
      if (!loaded) continue;
      const subject = `${source.topic}-value`;
      const schema = relative(cwd, loaded.path) || loaded.path;
      const key = `${subject}\u0000${loaded.path}`;
      if (!checked.has(key)) {
        checked.add(key);
        const root = gitRepoRoot(loaded.path);
        if (!validatedRoots.has(root)) {
          for (const ref of against) resolveGitRef(ref, root); // an unknown ref is a usage error, even for new subjects
          validatedRoots.add(root);
        }
        const versions = schemaVersionsAtRefs(loaded.path, against);
        subjects.push({ subject, schema, versions: versions.map((v) => String(v.version)) });
        let problems: LevelProblem[];
        try {
          problems = checkAgainstLevel(loaded.json as AvroSchemaJson, versions, level, { strictDecimals: opts.strictDecimals });
        } catch (e) {
          throw new Error(`${schema}: ${(e as Error).message}`);
        }
        for (const p of problems) {
          findings.push({
            kind: 'compatibility',
            subject,
            version: String(p.version),
            versionKind: 'git-ref',
            direction: p.direction,
            path: p.path,
            rule: p.rule,
            message: p.message,
            fix: p.fix,
            schema,
          });
        }
      }
      for (const p of fieldProblems) {
        if (p.source !== source.name) continue;
        findings.push({
          kind: 'topology',
          subject,
          version: 'local',
          path: p.path,
          rule: p.rule,
          message: p.message,
          fix: p.fix,
          schema,
          topology: plan.topology.name,
        });
      }
    }
  }
  return { findings: uniqueFindings(findings), level, against, topologies, subjects };
}

/**
 * The findings without repeats, first occurrence kept: two topology files that read one
 * source under the same topology name (a variant of a topology) find the same field problem,
 * which is one problem to fix, and counted once wherever it is counted (check, register, deploy).
 */
export function uniqueFindings(findings: readonly SchemasCheckFinding[]): SchemasCheckFinding[] {
  const seen = new Set<string>();
  return findings.filter((f) => {
    const key = JSON.stringify([f.kind, f.subject, f.version, f.direction ?? null, f.path, f.rule, f.message, f.fix, f.schema, f.topology ?? null]);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

export interface RegistryCheckResult {
  readonly findings: SchemasCheckFinding[];
  readonly registryUrl: string;
  readonly topologies: readonly string[];
  readonly subjects: readonly SubjectCheck[];
}

/** A client of the configured registry (--registry, --config, the environment); a usage error without one. */
export function registryClientOf(flags: KafkaEndpointFlags, alternative?: string): RegistryCompatibilityClient {
  const { registryUrl, security } = registryEndpoints(flags, process.env, alternative);
  return new RegistryCompatibilityClient(registryEndpoint(registryUrl, security.registry));
}

/** Registry problems and topology field problems as findings, subject by subject. */
export function registryFindings(loaded: LoadedTopologies, checks: readonly SubjectCheck[]): SchemasCheckFinding[] {
  const findings: SchemasCheckFinding[] = [];
  for (const c of checks) {
    for (const p of c.problems) {
      findings.push({ kind: 'compatibility', subject: p.subject, version: p.version, versionKind: 'registry', ...(p.direction ? { direction: p.direction } : {}), path: p.path, rule: p.rule, message: p.message, fix: p.fix, schema: p.schema });
    }
    for (const p of loaded.fieldProblems) {
      if (p.subject !== c.subject) continue;
      findings.push({ kind: 'topology', subject: p.subject, version: 'local', path: p.path, rule: p.rule, message: p.message, fix: p.fix, schema: p.schema, topology: p.topology });
    }
  }
  return uniqueFindings(findings);
}

/** The registry check of the given topologies; no output, no exit code. */
export async function registrySchemasCheck(topologyArgs: readonly string[], opts: SchemasCheckOptions, cwd: string = process.cwd()): Promise<RegistryCheckResult> {
  if (opts.against && opts.against.length > 0) throw new Error('schemas check: --against compares with git refs and needs --offline');
  if (opts.level !== undefined) throw new Error("schemas check: --level is for --offline; with a registry each subject's own level applies");
  const files = topologyFiles(topologyArgs, 'schemas check');
  const client = registryClientOf(opts, ', or check against git with --offline');
  const loaded = await loadTopologies(files, cwd);
  const checks = await checkSubjects(client, loaded.subjects, { strictDecimals: opts.strictDecimals });
  return { findings: registryFindings(loaded, checks), registryUrl: client.url, topologies: loaded.plans.map((p) => p.topology.name), subjects: checks };
}

/** `schemas check (registry <url>): 3 subject(s) of 1 topology, new: a-value, no problems`. */
export function registrySummary(r: RegistryCheckResult): string {
  const fresh = r.subjects.filter((s) => s.versions.length === 0).map((s) => s.subject);
  const levels = r.subjects.filter((s) => s.versions.length > 0).map((s) => `${s.subject} ${s.level} v${s.versions.join(',v')}`);
  return (
    `schemas check (registry ${r.registryUrl}): ${r.subjects.length} subject(s) of ${r.topologies.length} topolog${r.topologies.length === 1 ? 'y' : 'ies'}` +
    (levels.length > 0 ? `; checked: ${levels.join('; ')}` : '') +
    (fresh.length > 0 ? `; new: ${fresh.join(', ')}` : '') +
    (r.findings.length === 0 ? '; no problems' : `; ${r.findings.length} problem(s)`)
  );
}

export interface SchemasRegisterOptions {
  registry?: string;
  config?: string;
  strictDecimals?: boolean;
  json?: boolean;
}

export interface RegisterResult {
  readonly findings: SchemasCheckFinding[];
  /** Empty when refused. */
  readonly registered: readonly RegisteredSubject[];
  readonly refused: boolean;
}

/** Check, then register every subject; refuses (registers nothing) on any problem, topology field problems included. */
export async function schemasRegister(topologyArgs: readonly string[], opts: SchemasRegisterOptions, cwd: string = process.cwd()): Promise<RegisterResult> {
  const files = topologyFiles(topologyArgs, 'schemas register');
  const client = registryClientOf(opts);
  const loaded = await loadTopologies(files, cwd);
  const checkOpts = { strictDecimals: opts.strictDecimals };
  if (loaded.fieldProblems.length > 0) {
    // The topology cannot read its own sources: nothing it would write is worth registering.
    const checks = await checkSubjects(client, loaded.subjects, checkOpts);
    return { findings: registryFindings(loaded, checks), registered: [], refused: true };
  }
  const outcome = await registerSubjects(client, loaded.subjects, checkOpts);
  const findings = registryFindings(loaded, outcome.checks);
  return outcome.refused ? { findings, registered: [], refused: true } : { findings, registered: outcome.registered, refused: false };
}

/** The `schemas register` action: one line per registered subject, or the problems and exit 1. */
export async function runSchemasRegister(topologies: string[], opts: SchemasRegisterOptions): Promise<void> {
  const r = await schemasRegister(topologies, opts);
  if (opts.json) {
    process.stdout.write(`${JSON.stringify({ refused: r.refused, registered: r.registered, problems: r.findings }, null, 2)}\n`);
  } else if (r.refused) {
    for (const f of r.findings) process.stdout.write(`${formatFinding(f)}\n`);
    process.stderr.write(`schemas register: refused, nothing registered: ${r.findings.length} problem(s)\n`);
  } else {
    for (const s of r.registered) process.stdout.write(`${s.subject} id ${s.id}${s.added ? ' registered' : ' unchanged (already registered)'}\n`);
    process.stderr.write(`schemas register: ${r.registered.length} subject(s), ${r.registered.filter((s) => s.added).length} new version(s)\n`);
  }
  process.exitCode = r.refused ? 1 : 0;
}

/** The version column: `v3` for a registry version, the ref for a git ref (`HEAD`, `v1`, `origin/main`), `local` for topology field problems. */
export function versionLabel(f: SchemasCheckFinding): string {
  if (f.kind !== 'compatibility') return 'local';
  return f.versionKind === 'git-ref' || !/^\d+$/.test(f.version) ? f.version : `v${f.version}`;
}

/** `<subject> <version> <field path>: <rule> — <message>; fix: <fix>`, the version as versionLabel gives it. */
export function formatFinding(f: SchemasCheckFinding): string {
  const version = versionLabel(f);
  return `${f.subject} ${version} ${f.path === '' ? '(root)' : f.path}: ${f.rule} — ${f.message}; fix: ${f.fix}`;
}

/** The command's action: prints the problems and sets the exit code (1 on any problem). */
export async function runSchemasCheck(topologies: string[], opts: SchemasCheckOptions): Promise<void> {
  if (!opts.offline) {
    const r = await registrySchemasCheck(topologies, opts);
    if (opts.json) process.stdout.write(`${JSON.stringify(r.findings, null, 2)}\n`);
    else {
      for (const f of r.findings) process.stdout.write(`${formatFinding(f)}\n`);
      process.stderr.write(`${registrySummary(r)}\n`);
    }
    process.exitCode = r.findings.length > 0 ? 1 : 0;
    return;
  }
  if (opts.registry !== undefined || opts.config !== undefined) throw new Error(`schemas check: ${opts.registry !== undefined ? '--registry' : '--config'} and --offline exclude each other`);
  const result = await schemasCheck(topologies, opts);
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(result.findings, null, 2)}\n`);
  } else {
    for (const f of result.findings) process.stdout.write(`${formatFinding(f)}\n`);
    const fresh = result.subjects.filter((s) => s.versions.length === 0).map((s) => s.subject);
    const summary =
      `schemas check (${result.level}, against ${result.against.join(', ')}): ` +
      `${result.subjects.length} subject(s) of ${result.topologies.length} topolog${result.topologies.length === 1 ? 'y' : 'ies'}` +
      (fresh.length > 0 ? `, new: ${fresh.join(', ')}` : '') +
      (result.findings.length === 0 ? ', no problems' : `, ${result.findings.length} problem(s)`);
    process.stderr.write(`${summary}\n`);
  }
  process.exitCode = result.findings.length > 0 ? 1 : 0;
}

/** Help text of --strict-decimals (schemas check, schemas register; deploy's option in main.ts). */
export const STRICT_DECIMALS_HELP = 'also refuse decimal precision or scale changes (the registry, like Avro Java, accepts them; the Avro spec does not)';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** Commander errors (unknown option, missing argument...) become thrown errors, so main prints one line and exits 2. */
function usageErrorsExit2(err: CommanderError): void {
  if (err.exitCode === 0) return; // --help: commander exits 0 itself
  if (err.code === 'commander.help') throw new Error('schemas: name a subcommand: schemas check [topology...] [--offline], schemas register [topology...]');
  throw new Error(err.message.replace(/^error: /, 'schemas: '));
}

/** Register `schemas check` and `schemas register` on the program (src/cli/main.ts). */
export function registerSchemasCommand(program: Command): void {
  const schemas = program
    .command('schemas')
    .description('schema evolution checks')
    .configureOutput({ outputError: () => {} })
    .exitOverride(usageErrorsExit2);
  schemas
    .command('check')
    .description("check each source and sink schema against its subject's registered versions at the subject's level (or a git ref with --offline) and the fields each topology reads")
    .argument('[topology...]', 'topology files (only these are loaded: a topology file is code)')
    .option('--registry <url>', 'schema registry URL (default $SCHEMA_REGISTRY_URL)')
    .option('--config <file>', CONFIG_HELP)
    .option('--offline', 'compare with the schemas at a git ref instead of a registry')
    .option('--against <ref>', 'git ref to compare with; repeat for several versions, oldest first (default HEAD)', collect, [])
    // No commander default: with a registry, --level is a usage error (the subject's level applies).
    .option('--level <level>', `with --offline: compatibility level, one of ${COMPATIBILITY_LEVELS.join(', ')} (default BACKWARD)`)
    .option('--strict-decimals', STRICT_DECIMALS_HELP)
    .option('--json', 'print the problems as a JSON array')
    .configureOutput({ outputError: () => {} })
    .exitOverride(usageErrorsExit2)
    .action(runSchemasCheck);
  schemas
    .command('register')
    .description('check, then register every source and sink schema under its subject <topic>-value; registers nothing when the check fails')
    .argument('[topology...]', 'topology files (only these are loaded: a topology file is code)')
    .option('--registry <url>', 'schema registry URL (default $SCHEMA_REGISTRY_URL)')
    .option('--config <file>', CONFIG_HELP)
    .option('--strict-decimals', STRICT_DECIMALS_HELP)
    .option('--json', 'print the outcome as JSON')
    .configureOutput({ outputError: () => {} })
    .exitOverride(usageErrorsExit2)
    .action(runSchemasRegister);
}
