/**
 * Schemas as they are at a git ref (`git show <ref>:<path>`), so that CI can check the working
 * tree's .avsc files against main without a registry. A file missing at the ref is a new
 * subject: there is nothing to check it against.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { AvroSchemaJson } from './avro-model.js';
import type { SchemaVersion } from './compatibility-level.js';

function git(args: readonly string[], cwd: string): { status: number | null; stdout: string; stderr: string; error?: Error } {
  const r = spawnSync('git', args, { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '', error: r.error };
}

function existingDir(path: string): string {
  let d = path;
  while (!existsSync(d)) {
    const up = dirname(d);
    if (up === d) break;
    d = up;
  }
  const real = realpathSync(d);
  return statSync(real).isDirectory() ? real : dirname(real);
}

/** The root of the git work tree holding `path` (a file or folder); throws when it is in none. */
export function gitRepoRoot(path: string): string {
  const cwd = existingDir(resolve(path));
  const r = git(['rev-parse', '--show-toplevel'], cwd);
  if (r.error) throw new Error(`cannot run git: ${r.error.message} (--offline reads schemas at a git ref and needs git)`);
  if (r.status !== 0) throw new Error(`${cwd} is not in a git repository (--offline --against <ref> reads schemas from git)`);
  return realpathSync(r.stdout.trim());
}

/** The commit a ref names; throws a one-line error for an unknown ref. */
export function resolveGitRef(ref: string, root: string): string {
  if (ref.startsWith('-')) throw new Error(`--against ${ref}: not a git ref`);
  const r = git(['rev-parse', '--verify', '--quiet', '--end-of-options', `${ref}^{commit}`], root);
  if (r.status !== 0) throw new Error(`--against ${ref}: unknown git ref in ${root} (a branch, tag or commit, e.g. main or origin/main; fetch it first in a shallow CI checkout)`);
  return r.stdout.trim();
}

/** Path of `file` relative to the repository root, with forward slashes, as git names it. */
export function repoRelativePath(file: string, root: string): string {
  const abs = resolve(file);
  // Compare real paths: the repository root is reported resolved (e.g. /private/var on macOS).
  const real = existsSync(dirname(abs)) ? join(realpathSync(dirname(abs)), basename(abs)) : abs;
  const rel = relative(root, real);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) throw new Error(`${file} is outside the git repository ${root}`);
  return rel.split(sep).join('/');
}

/** The text of `file` at `ref`, or null when the file does not exist at that ref. */
export function readFileAtRef(file: string, ref: string): string | null {
  const root = gitRepoRoot(dirname(resolve(file)));
  const commit = resolveGitRef(ref, root);
  const rel = repoRelativePath(file, root);
  const exists = git(['cat-file', '-e', `${commit}:${rel}`], root);
  if (exists.status !== 0) return null;
  const r = git(['show', `${commit}:${rel}`], root);
  if (r.status !== 0) throw new Error(`git show ${ref}:${rel} failed: ${r.stderr.trim().split('\n')[0]}`);
  return r.stdout;
}

/** The schema in `file` as it is at `ref`, or null when the file is new since then. */
export function readSchemaAtRef(file: string, ref: string): AvroSchemaJson | null {
  const text = readFileAtRef(file, ref);
  if (text === null) return null;
  try {
    return JSON.parse(text) as AvroSchemaJson;
  } catch (e) {
    throw new Error(`${file} at ${ref}: invalid JSON (${(e as Error).message})`);
  }
}

/**
 * The versions of a schema file at several refs, oldest first as given; refs where the file
 * does not exist are left out. The version label is the ref as written.
 */
export function schemaVersionsAtRefs(file: string, refs: readonly string[]): SchemaVersion[] {
  const out: SchemaVersion[] = [];
  for (const ref of refs) {
    const schema = readSchemaAtRef(file, ref);
    if (schema !== null) out.push({ version: ref, schema });
  }
  return out;
}
