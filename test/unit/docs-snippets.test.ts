/**
 * The documentation cannot drift from the code:
 * - every TypeScript block in README.md and docs/*.md is a file (or a `// #region name` of one)
 *   that tsc compiles (under a tsconfig `include` folder), named on the line before the block:
 *   `<!-- snippet: docs/examples/windows.ts#tumbling -->`; the block must equal it verbatim;
 * - every example topology under docs/examples compiles to a plan (its schemas, options and
 *   windows are valid at run time, not only as types);
 * - a column list marked `<!-- columns: <topology file> <output> -->` is exactly the column
 *   list a backfill of that topology writes (run here on a small generated data set).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parquetMetadata, parquetSchema } from 'hyparquet';
import { writeCardDataset } from '../../src/gen/write-card-dataset.js';
import { replayFiles } from '../../src/modes/replay-files.js';
import { loadTopology } from '../../src/plan/load-topology.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function markdownFiles(): string[] {
  const docs = readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`);
  return ['README.md', ...docs];
}

interface Block {
  /** Where the block's first code line is: README.md:42. */
  readonly at: string;
  readonly lang: string;
  readonly code: string;
  /** The marker comment on the line before the opening fence, if any. */
  readonly marker?: string;
}

function blocks(file: string): Block[] {
  const lines = readFileSync(join(ROOT, file), 'utf8').split('\n');
  const out: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w*)\s*$/.exec(lines[i]);
    if (!open) continue;
    let j = i + 1;
    while (j < lines.length && !/^```\s*$/.test(lines[j])) j++;
    const before = i > 0 ? lines[i - 1].trim() : '';
    out.push({ at: `${file}:${i + 2}`, lang: open[1], code: lines.slice(i + 1, j).join('\n'), marker: before.startsWith('<!--') ? before : undefined });
    i = j;
  }
  return out;
}

/** The lines of `// #region name` … `// #endregion` in a file (the whole file without a name), common indentation removed. */
function region(path: string, name: string | undefined): string {
  const text = readFileSync(join(ROOT, path), 'utf8');
  if (name === undefined) return text.replace(/\n$/, '');
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.trim() === `// #region ${name}`);
  assert.ok(start >= 0, `${path} has no "// #region ${name}" line`);
  const end = lines.findIndex((l, k) => k > start && /^\/\/ #endregion\b/.test(l.trim()));
  assert.ok(end > start, `${path}: region ${name} has no "// #endregion" line`);
  const body = lines.slice(start + 1, end);
  const indent = Math.min(...body.filter((l) => l.trim() !== '').map((l) => /^ */.exec(l)![0].length));
  return body.map((l) => l.slice(indent)).join('\n');
}

function compiledFolders(): string[] {
  const config = JSON.parse(readFileSync(join(ROOT, 'tsconfig.json'), 'utf8')) as { include: string[] };
  return config.include;
}

function firstDifference(actual: string, expected: string): string {
  const a = actual.split('\n');
  const e = expected.split('\n');
  for (let i = 0; i < Math.max(a.length, e.length); i++) {
    if (a[i] !== e[i]) return `line ${i + 1} of the block:\n  in the doc:  ${a[i] ?? '(nothing)'}\n  in the file: ${e[i] ?? '(nothing)'}`;
  }
  return '';
}

test('every TypeScript block in the docs is a compiled file or region of one, verbatim', () => {
  const folders = compiledFolders();
  let checked = 0;
  for (const file of markdownFiles()) {
    for (const b of blocks(file).filter((x) => x.lang === 'ts' || x.lang === 'typescript')) {
      const m = /^<!-- snippet: ([^#\s]+)(?:#(\S+))? -->$/.exec(b.marker ?? '');
      assert.ok(m, `${b.at}: a TypeScript block without a "<!-- snippet: <file>#<region> -->" line before it; put the code in docs/examples/ and name it there, so tsc compiles it`);
      const [, path, name] = m;
      assert.ok(folders.some((f) => path === f || path.startsWith(`${f}/`)), `${b.at}: ${path} is not under a folder tsconfig.json includes (${folders.join(', ')}), so nothing compiles it`);
      const expected = region(path, name);
      assert.ok(b.code === expected, `${b.at}: the block differs from ${path}${name ? `#${name}` : ''} (copy the file's text into the doc), first at ${firstDifference(b.code, expected)}`);
      checked++;
    }
  }
  assert.ok(checked >= 5, `checked ${checked} blocks`);
});

test('every example topology under docs/examples compiles to a plan', async () => {
  const dir = join(ROOT, 'docs/examples');
  const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));
  assert.ok(files.length > 0);
  for (const f of files) {
    const plan = await loadTopology(join(dir, f));
    assert.ok(plan.version.length > 0, f);
  }
});

test('column lists in the docs are what a backfill writes', async (t) => {
  const lists = markdownFiles().flatMap((file) => blocks(file).filter((b) => b.marker?.startsWith('<!-- columns:')));
  assert.ok(lists.length >= 2, 'the README lists the columns of card_features and card_daily_spend');
  const dir = mkdtempSync(join(tmpdir(), 'skewless-doc-columns-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const data = await writeCardDataset({ outDir: join(dir, 'data'), events: 3_000, seed: 1, format: 'avro' });
  const written = new Map<string, string[]>();
  for (const b of lists) {
    const m = /^<!-- columns: (\S+) (\S+) -->$/.exec(b.marker!);
    assert.ok(m, `${b.at}: write the marker as <!-- columns: <topology file> <output> -->`);
    const [, topologyFile, output] = m;
    assert.equal(topologyFile, 'topologies/card-fraud.ts', `${b.at}: only card-fraud's column lists are checked so far`);
    if (written.size === 0) {
      const out = join(dir, 'out');
      const plan = await loadTopology(join(ROOT, topologyFile));
      await replayFiles({ plan, inputs: { transactions: data.transactionsPath, chargebacks: data.chargebacksPath, merchant_tiers: data.merchantTiersPath }, out, partitions: 1, workers: 1 });
      for (const o of readdirSync(out).filter((d) => !d.startsWith('_'))) {
        const buf = readFileSync(join(out, o, 'part-00000.parquet'));
        const meta = parquetMetadata(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer);
        written.set(o, parquetSchema(meta).children.map((c) => c.element.name));
      }
    }
    const documented = b.code.split(/[\s,]+/).filter((c) => c !== '');
    assert.deepEqual(documented, written.get(output), `${b.at}: the columns of ${output} in ${relative(ROOT, join(ROOT, topologyFile))}`);
  }
});
