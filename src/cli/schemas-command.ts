/**
 * `skewless schemas check [topology...] --offline [--against <ref>] [--level BACKWARD] [--json]`
 *
 * The local half of the schema check (no registry): for every source of every topology
 * (default: topologies/*.ts), the subject `<topic>-value`'s local .avsc against the same file
 * at a git ref under a compatibility level, plus the topology field check (every field the
 * topology's functions read exists in the reader schema with a usable type).
 *
 * Output: one line per problem, `<subject> v<ref> <field path>: <rule> — <message>; fix: <fix>`
 * (topology field problems say `local` instead of `v<ref>`: they are about the working tree
 * alone), and a summary on stderr; `--json` prints a JSON array of the problems instead.
 * Exit 1 on any problem, 0 when clean, 2 on a usage error (through main's error handler).
 */
import { existsSync, readdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import type { Command, CommanderError } from 'commander';
import { loadTopology } from '../plan/load-topology.js';
import type { AvroSchemaJson } from '../schemas/avro-model.js';
import { checkAgainstLevel, COMPATIBILITY_LEVELS, parseCompatibilityLevel, type CompatibilityLevel, type Direction, type LevelProblem } from '../schemas/compatibility-level.js';
import { gitRepoRoot, resolveGitRef, schemaVersionsAtRefs } from '../schemas/git-ref-schemas.js';
import { checkTopologyFields } from '../schemas/topology-field-check.js';

export interface SchemasCheckOptions {
  offline?: boolean;
  /** Git refs to compare with, oldest first (the last is "latest"); default ['HEAD']. */
  against?: string[];
  level?: string;
  json?: boolean;
}

export interface SchemasCheckFinding {
  /** 'compatibility': the local schema against a version at a ref; 'topology': a field the topology reads. */
  readonly kind: 'compatibility' | 'topology';
  /** `<topic>-value`. */
  readonly subject: string;
  /** The git ref the problem is against, or 'local' for topology field problems. */
  readonly version: string;
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

/** The topology files to check: the arguments, or every topologies/*.ts under `cwd`. */
export function defaultTopologies(cwd: string): string[] {
  const dir = join(cwd, 'topologies');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .sort()
    .map((f) => join('topologies', f));
}

/** Run the check and return what it found (no output, no exit code). Usage errors throw. */
export async function schemasCheck(topologyArgs: readonly string[], opts: SchemasCheckOptions, cwd: string = process.cwd()): Promise<SchemasCheckResult> {
  if (!opts.offline) {
    throw new Error('schemas check: the registry check is not available yet; pass --offline to check against the schemas at a git ref (--against <ref>, default HEAD)');
  }
  const level = parseCompatibilityLevel(opts.level ?? 'BACKWARD');
  const against = opts.against && opts.against.length > 0 ? [...opts.against] : ['HEAD'];
  const files = topologyArgs.length > 0 ? [...topologyArgs] : defaultTopologies(cwd);
  if (files.length === 0) throw new Error(`schemas check: no topology given and no topologies/*.ts in ${cwd}`);

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
          problems = checkAgainstLevel(loaded.json as AvroSchemaJson, versions, level);
        } catch (e) {
          throw new Error(`${schema}: ${(e as Error).message}`);
        }
        for (const p of problems) {
          findings.push({
            kind: 'compatibility',
            subject,
            version: String(p.version),
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
  return { findings, level, against, topologies, subjects };
}

/** `<subject> v<ref> <field path>: <rule> — <message>; fix: <fix>` (`local` for topology field problems). */
export function formatFinding(f: SchemasCheckFinding): string {
  const version = f.kind === 'compatibility' ? `v${f.version}` : 'local';
  return `${f.subject} ${version} ${f.path === '' ? '(root)' : f.path}: ${f.rule} — ${f.message}; fix: ${f.fix}`;
}

/** The command's action: prints the problems and sets the exit code (1 on any problem). */
export async function runSchemasCheck(topologies: string[], opts: SchemasCheckOptions): Promise<void> {
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

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** Commander errors (unknown option, missing argument...) become thrown errors, so main prints one line and exits 2. */
function usageErrorsExit2(err: CommanderError): void {
  if (err.exitCode === 0) return; // --help: commander exits 0 itself
  if (err.code === 'commander.help') throw new Error('schemas: name a subcommand: schemas check [topology...] --offline');
  throw new Error(err.message.replace(/^error: /, 'schemas check: '));
}

/** Register `schemas check` on the program (src/cli/main.ts). */
export function registerSchemasCommand(program: Command): void {
  const schemas = program
    .command('schemas')
    .description('schema evolution checks')
    .configureOutput({ outputError: () => {} })
    .exitOverride(usageErrorsExit2);
  schemas
    .command('check')
    .description('check each source schema against its version at a git ref (--offline) and the fields each topology reads')
    .argument('[topology...]', 'topology files (default: every topologies/*.ts)')
    .option('--offline', 'compare with the schemas at a git ref instead of a registry')
    .option('--against <ref>', 'git ref to compare with; repeat for several versions, oldest first (default HEAD)', collect, [])
    .option('--level <level>', `compatibility level: ${COMPATIBILITY_LEVELS.join(', ')}`, 'BACKWARD')
    .option('--json', 'print the problems as a JSON array')
    .configureOutput({ outputError: () => {} })
    .exitOverride(usageErrorsExit2)
    .action(runSchemasCheck);
}
