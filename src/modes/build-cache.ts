import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BuildOptions, BuildResult } from 'esbuild';

/**
 * What skewless keeps because it can rebuild it, and how it writes there: under
 * node_modules/.cache, as other tools do. Everything here is written whole and renamed into
 * place, because replays in other processes may be reading the cache at the same moment.
 */
export const cacheDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'node_modules', '.cache', 'skewless');

const require = createRequire(import.meta.url);

/** The esbuild version, or undefined when there is none to build with (threads then load their code through tsx). */
export function esbuildVersion(): string | undefined {
  try {
    return (require('esbuild/package.json') as { version: string }).version;
  } catch {
    return undefined;
  }
}

/**
 * esbuild's ES modules for Node, packages left to Node to resolve, into the directory `temp`
 * (emptied first). The directory is marked ESM: its .js files would otherwise follow the
 * nearest package.json above the cache. Throws what esbuild throws.
 */
export function buildEsm(temp: string, options: BuildOptions): BuildResult {
  const esbuild = require('esbuild') as typeof import('esbuild');
  rmSync(temp, { recursive: true, force: true });
  mkdirSync(temp, { recursive: true });
  const result = esbuild.buildSync({ bundle: true, platform: 'node', format: 'esm', packages: 'external', logLevel: 'silent', ...options });
  writeFileSync(join(temp, 'package.json'), '{ "type": "module" }\n');
  return result;
}

/** `text` at `path`, through a temporary file of this process renamed into place. */
export function writeAtomically(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, text);
  renameSync(temp, path);
}
