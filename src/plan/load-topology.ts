import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Topology } from '../dsl/topology.js';
import { compilePlan, type CompiledPlan } from './compile.js';

/**
 * Import a topology file (TypeScript, loaded through tsx) and compile it. `compiled`: a
 * JavaScript build of that file to import instead (a replay thread's, replay-worker-bundle.ts);
 * the plan still belongs to the file (its schemas resolve from it).
 */
export async function loadTopology(file: string, compiled?: string): Promise<CompiledPlan> {
  const path = resolve(file);
  if (!existsSync(path)) throw new Error(`unknown topology file ${file}: no such file (topologies live in topologies/*.ts)`);
  let mod: { default?: Topology<unknown> };
  try {
    mod = (await import(pathToFileURL(compiled ?? path).href)) as { default?: Topology<unknown> };
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    if (/require\(\) ES Module|ERR_REQUIRE/i.test(msg)) {
      throw new Error(`cannot load topology ${file}: it is an ES module in a CommonJS package; name it .mts or add "type": "module" to the nearest package.json`);
    }
    // esbuild puts `file:line:column: ERROR: message` on the line after "Transform failed".
    const lines = msg.split('\n').filter((l) => l.trim() !== '');
    const located = lines.find((l) => /:\d+:\d+: (ERROR|error)/.test(l));
    throw new Error(`cannot load topology ${file}: ${located ? located.trim() : lines[0]}`);
  }
  const t = mod.default;
  if (!t || typeof t !== 'object' || !('node' in t)) {
    throw new Error(`topology file ${file} has no default export made with topology(...); add \`export default topology('name', (t) => { ... })\``);
  }
  return compilePlan(t, path);
}
