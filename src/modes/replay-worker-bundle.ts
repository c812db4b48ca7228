import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildEsm, cacheDir, esbuildVersion } from './build-cache.js';

/**
 * The replay thread's code (replay-worker-main.ts and every module of src it imports) as one
 * JavaScript file, built with esbuild once per state of the sources and kept under
 * node_modules/.cache. A thread loading TypeScript through tsx resolves and loads each of its
 * ~110 modules through a loader thread of its own: that cost each replay thread about a second
 * of CPU before its first record (two threads and their loader threads, on two cores, half of a
 * short replay's start). The bundle loads without tsx; only the topology file (and the few DSL
 * modules it imports) still go through it, after the bundle is in.
 *
 * The DSL in the bundle is a second copy of the one the topology imports: sound because the DSL
 * keeps no state and the engine reads topology objects by their fields, never by identity or
 * class (the one `instanceof` on a DSL class stays inside the user's copy).
 *
 * Undefined when the bundle cannot be built or written (a read-only install, no esbuild): the
 * threads then load the sources through tsx, as they always could.
 */
const here = dirname(fileURLToPath(import.meta.url));
const srcRoot = join(here, '..');
const entry = join(here, 'replay-worker-main.ts');

let known: { key: string; path: string | undefined } | undefined;

export function replayWorkerBundle(): string | undefined {
  if (process.env.SKEWLESS_REPLAY_BUNDLE === '0') return undefined;
  let key: string;
  try {
    key = sourcesKey();
  } catch {
    return undefined;
  }
  if (known?.key === key) return known.path;
  const dir = join(cacheDir, `replay-worker-${key}`);
  const path = join(dir, 'replay-worker-main.js');
  known = { key, path: existsSync(path) ? path : build(dir, path) };
  return known.path;
}

/** A name for the sources as they are: every .ts file under src with its size and modification time, and the esbuild version. */
function sourcesKey(): string {
  const h = createHash('sha256');
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      const s = statSync(p);
      if (s.isDirectory()) walk(p);
      else if (name.endsWith('.ts')) h.update(`${p}\0${s.size}\0${s.mtimeMs}\n`);
    }
  };
  walk(srcRoot);
  h.update(esbuildVersion() ?? 'none');
  return h.digest('hex').slice(0, 16);
}

/**
 * The topology file (and what it imports but packages) as one JavaScript file, so a replay
 * thread need not register tsx at all (registering it, which starts a loader thread, cost each
 * replay thread 0.25 s of its start). Rebuilt when the file or anything it imports changed, as
 * a manifest of their sizes and modification times says. The thread compiles the plan from it
 * and checks the version: a build whose functions print differently from what tsx loads (their
 * source is part of the version) is not used, and the thread loads the file through tsx.
 * Undefined for a topology that reads `import.meta` (its URL would be the build's), or when it
 * cannot be built.
 */
export function topologyBundle(file: string): string | undefined {
  if (process.env.SKEWLESS_REPLAY_BUNDLE === '0') return undefined;
  const dir = join(cacheDir, `topology-${createHash('sha256').update(file).digest('hex').slice(0, 16)}`);
  const path = join(dir, 'topology.js');
  const manifest = join(dir, 'inputs.json');
  try {
    if (existsSync(path) && existsSync(manifest) && unchanged(JSON.parse(readFileSync(manifest, 'utf8')) as Stamp[])) return path;
  } catch {
    // An unreadable manifest: build again.
  }
  const temp = `${dir}.${process.pid}.tmp`;
  try {
    // Printed as tsx prints it (its transform options), so the functions' source, part of the plan's version, reads alike.
    const result = buildEsm(temp, {
      entryPoints: [file],
      target: `node${process.versions.node}`,
      minifyWhitespace: true,
      keepNames: true,
      outfile: join(temp, 'topology.js'),
      metafile: true,
      absWorkingDir: process.cwd(),
    });
    const inputs = Object.keys(result.metafile!.inputs).map((p) => resolve(process.cwd(), p));
    if (inputs.some((p) => readFileSync(p, 'utf8').includes('import.meta'))) {
      rmSync(temp, { recursive: true, force: true });
      return undefined;
    }
    writeFileSync(join(temp, 'inputs.json'), JSON.stringify(inputs.map(stamp)));
    rmSync(dir, { recursive: true, force: true });
    renameSync(temp, dir);
    pruneTopologyBuilds();
    return path;
  } catch {
    rmSync(temp, { recursive: true, force: true });
    return undefined;
  }
}

/** Builds of topologies whose files are gone (tests write theirs in temporary directories). */
function pruneTopologyBuilds(): void {
  for (const name of readdirSync(cacheDir)) {
    if (!name.startsWith('topology-') || name.endsWith('.tmp')) continue;
    try {
      const stamps = JSON.parse(readFileSync(join(cacheDir, name, 'inputs.json'), 'utf8')) as Stamp[];
      if (stamps.every(([path]) => existsSync(path))) continue;
    } catch {
      // No readable manifest: a partial build.
    }
    rmSync(join(cacheDir, name), { recursive: true, force: true });
  }
}

/** A file as it was when a build read it. */
type Stamp = readonly [path: string, size: number, mtimeMs: number];

function stamp(path: string): Stamp {
  const s = statSync(path);
  return [path, s.size, s.mtimeMs];
}

function unchanged(stamps: readonly Stamp[]): boolean {
  return stamps.every(([path, size, mtimeMs]) => {
    try {
      const s = statSync(path);
      return s.size === size && s.mtimeMs === mtimeMs;
    } catch {
      return false;
    }
  });
}

/**
 * Build into a temporary directory renamed into place (threads of another replay may be reading
 * the cache); bundles of older sources are removed after an hour. Split at dynamic imports, so what the sources load on
 * demand (the Kafka client and registry for a Kafka replay) is still loaded only on demand.
 */
function build(dir: string, path: string): string | undefined {
  const temp = `${dir}.${process.pid}.tmp`;
  try {
    buildEsm(temp, { entryPoints: [entry], splitting: true, target: 'node20', outdir: temp });
    renameSync(temp, dir);
    for (const name of readdirSync(cacheDir)) {
      const old = join(cacheDir, name);
      // Left an hour, for threads of a replay started before the sources changed that load a chunk late.
      if (name.startsWith('replay-worker-') && old !== dir && Date.now() - statSync(old).mtimeMs > 3_600_000) rmSync(old, { recursive: true, force: true });
    }
    return existsSync(path) ? path : undefined;
  } catch {
    rmSync(temp, { recursive: true, force: true });
    return existsSync(path) ? path : undefined;
  }
}
