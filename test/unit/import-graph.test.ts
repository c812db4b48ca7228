/**
 * Imports between the folders of src/ run one way. A folder may import from itself and from
 * folders on later lines of LAYERS, never from an earlier line nor from another folder on its
 * own line; nothing in src/ imports from outside src/ (scripts/, test/, bench/...). Imports are
 * found with TypeScript's own pre-processor: static `import ... from`, `export ... from`,
 * side-effect `import '...'` and dynamic `import('...')` (comments and strings are skipped).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SRC = join(ROOT, 'src');

/** Left to right: each line may import only from the lines below it. */
const LAYERS: ReadonlyArray<readonly string[]> = [
  ['cli'],
  // gen (the synthetic data generator) imports nothing from src/ and only cli uses it.
  ['modes', 'gen'],
  ['parity', 'schemas', 'serve'],
  ['io'],
  // engine, plan, ops, time, state: one level in DESIGN.md, ordered the way they import each other.
  ['engine'],
  ['plan'],
  ['ops'],
  ['time'],
  ['state'],
  ['dsl'],
];
const LEVEL = new Map(LAYERS.flatMap((folders, i) => folders.map((f) => [f, i] as const)));

const CODE = /\.(ts|mts|cts|js|mjs|cjs)$/;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return CODE.test(e.name) && !e.name.endsWith('.d.ts') ? [path] : [];
  });
}

interface Import {
  readonly line: number;
  readonly specifier: string;
}

/** The relative module specifiers a file imports, with their (1-based) lines. */
function relativeImports(text: string): Import[] {
  return ts
    .preProcessFile(text, true, true)
    .importedFiles.filter((f) => f.fileName.startsWith('.'))
    .map((f) => ({ line: text.slice(0, f.pos).split('\n').length, specifier: f.fileName }));
}

interface Edge {
  /** Path from the repository root, with its line: src/parity/parity-run.ts:17 */
  readonly at: string;
  readonly specifier: string;
  /** Folder of the importing file under src/. */
  readonly from: string;
  /** Top folder of the target: a folder under src/, or `../<folder>` outside src/. */
  readonly to: string;
}

function edges(): Edge[] {
  const out: Edge[] = [];
  for (const file of sourceFiles(SRC)) {
    const from = relative(SRC, file).split(sep)[0];
    for (const imp of relativeImports(readFileSync(file, 'utf8'))) {
      const target = relative(SRC, resolve(dirname(file), imp.specifier)).split(sep);
      const to = target[0] === '..' ? `../${relative(ROOT, resolve(dirname(file), imp.specifier)).split(sep)[0]}` : target[0];
      out.push({ at: `${relative(ROOT, file).split(sep).join('/')}:${imp.line}`, specifier: imp.specifier, from, to });
    }
  }
  return out;
}

const describe = (e: Edge): string => `  ${e.at} → ${e.specifier} (${e.from} → ${e.to})`;

test('import graph: the scanner finds static, re-export, side-effect and dynamic imports, not comments or strings', () => {
  const text = [
    "/** import a from './comment.js' */",
    "// import b from './line-comment.js';",
    'import type {',
    "  C } from './static.js';",
    "import './side-effect.js';",
    "export * from './star.js';",
    "export { d as e } from './named.js';",
    "const s = \"import f from './string.js'\";",
    "const g = await import('./dynamic.js');",
    "import { h } from 'node:fs';",
  ].join('\n');
  assert.deepEqual(relativeImports(text), [
    { line: 4, specifier: './static.js' },
    { line: 5, specifier: './side-effect.js' },
    { line: 6, specifier: './star.js' },
    { line: 7, specifier: './named.js' },
    { line: 9, specifier: './dynamic.js' },
  ]);
});

test('import graph: every folder of src/ has its place in the order', () => {
  const folders = readdirSync(SRC, { withFileTypes: true }).map((e) => e.name);
  const unplaced = folders.filter((f) => !LEVEL.has(f));
  assert.deepEqual(unplaced, [], `src/ entries missing from LAYERS in ${relative(ROOT, fileURLToPath(import.meta.url))}: ${unplaced.join(', ')}`);
});

test('import graph: src/ imports nothing from outside src/ (scripts/, test/, bench/...)', () => {
  const outside = edges().filter((e) => e.to.startsWith('../'));
  assert.equal(outside.length, 0, `imports leaving src/:\n${outside.map(describe).join('\n')}`);
});

test(`import graph: folders import only rightwards in ${LAYERS.map((l) => l.join(', ')).join(' → ')}`, () => {
  const wrong = edges().filter((e) => {
    if (e.from === e.to || e.to.startsWith('../')) return false;
    const from = LEVEL.get(e.from);
    const to = LEVEL.get(e.to);
    return from === undefined || to === undefined || to <= from;
  });
  assert.equal(wrong.length, 0, `imports against the folder order (${LAYERS.map((l) => l.join(', ')).join(' → ')}):\n${wrong.map(describe).join('\n')}`);
});
