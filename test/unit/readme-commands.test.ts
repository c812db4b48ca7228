/**
 * The README command runner's extractor (scripts/readme-commands/extract.mjs): it finds every
 * command a reader would type, so a new README command cannot escape the runner silently; every
 * command it does not run is skipped with a reason. Nothing here runs a command.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { extractCommands, SKIPS, splitAnd, stripComment } from '../../scripts/readme-commands/extract.mjs';
import { PROMISES } from '../../scripts/readme-commands/promises.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

test('extracts continuations, trailing comments, && chains, export $(...), untagged and inline commands', () => {
  const md = [
    '# t', //                                                                   1
    '```bash', //                                                               2
    '# a whole-line comment', //                                                3
    '', //                                                                      4
    'npx skewless backfill a.ts \\', //                                         5
    '    --input x.avro   --out "o #1"   # trailing comment', //                6
    'npm run stack:up && export $(node up.mjs && echo "a && b")   # both', //    7
    '```', //                                                                   8
    'Prose with `npm run bench` and `skewless run` and `skewless demo skew`, then', // 9
    '`skewless bootstrap topologies/x.ts', //                                   10
    '--state s` and `npm run bench` again and `kill -9`.', //                   11
    '```', //                                                                   12
    'src/dsl   the builder', //                                                 13
    'node scripts/x.mjs --flag', //                                             14
    '```', //                                                                   15
    '```ts', //                                                                 16
    '// npm install is not run from here', //                                   17
    '```', //                                                                   18
    '```cron', //                                                               19
    '5 * * * * cd /srv && npx skewless parity t.ts', //                         20
    '```', //                                                                   21
  ].join('\n');
  const got = extractCommands(md).map((c) => ({ i: c.index, text: c.text, line: c.line, lines: c.lines, dup: c.duplicateOf, skip: c.skip !== undefined }));
  assert.deepEqual(got, [
    { i: 1, text: 'npx skewless backfill a.ts --input x.avro --out "o #1"', line: 5, lines: [5, 6], dup: undefined, skip: false },
    { i: 2, text: 'npm run stack:up', line: 7, lines: [7], dup: undefined, skip: false },
    { i: 3, text: 'export $(node up.mjs && echo "a && b")', line: 7, lines: [7], dup: undefined, skip: false },
    { i: 4, text: 'npm run bench', line: 9, lines: [9], dup: undefined, skip: true },
    { i: 5, text: 'skewless bootstrap topologies/x.ts --state s', line: 10, lines: [10, 11], dup: undefined, skip: false },
    { i: 6, text: 'npm run bench', line: 11, lines: [11], dup: 4, skip: true },
    { i: 7, text: 'node scripts/x.mjs --flag', line: 14, lines: [14], dup: undefined, skip: false },
    { i: 8, text: '5 * * * * cd /srv && npx skewless parity t.ts', line: 20, lines: [20], dup: undefined, skip: true },
  ]);
});

test('comments and && split like bash: not inside quotes or $( )', () => {
  assert.equal(stripComment('a --x "#not" \'#not\' $(b #not) #yes'), 'a --x "#not" \'#not\' $(b #not) ');
  assert.equal(stripComment('a--#not'), 'a--#not');
  assert.deepEqual(splitAnd('a && b "c && d" && $(e && f)'), ['a', 'b "c && d"', '$(e && f)']);
});

/** Shell blocks of the README as a plain scan sees them: every line that is not blank or a whole-line comment. */
function shellLines(): number[] {
  const lines = README.split('\n');
  const out: number[] = [];
  let lang: string | undefined;
  lines.forEach((l, i) => {
    const fence = /^```\s*(\S*)/.exec(l);
    if (fence) {
      lang = lang === undefined ? fence[1] : undefined;
      return;
    }
    if ((lang === 'bash' || lang === 'sh') && l.trim() !== '' && !l.trim().startsWith('#')) out.push(i + 1);
  });
  return out;
}

test('every line of a README shell block belongs to an extracted command', () => {
  const covered = new Set(extractCommands(README).flatMap((c) => c.lines));
  const missing = shellLines().filter((l) => !covered.has(l));
  assert.deepEqual(missing, [], `README.md lines the runner would not run: ${missing.join(', ')}`);
  assert.ok(shellLines().length >= 15, 'the scan sees the README shell blocks');
});

test('every inline `npx …` / `npm …` / `node …` command of the prose is extracted', () => {
  const prose = README.replace(/^```[\s\S]*?^```/gm, '');
  const spans = [...prose.matchAll(/`((?:npx|npm|node) [^`]+)`/g)].map((m) => m[1].replace(/\s+/g, ' ').trim());
  const texts = new Set(extractCommands(README).map((c) => c.text));
  assert.ok(spans.length >= 10);
  assert.deepEqual(spans.filter((s) => !texts.has(s)), []);
});

test('what the runner runs is runnable as written: no placeholders, `npx skewless` rather than `skewless`', () => {
  for (const c of extractCommands(README)) {
    if (c.skip !== undefined || c.duplicateOf !== undefined) continue;
    assert.doesNotMatch(c.text, /\.\.\.|<[\w-]+>|\[--/, `README.md:${c.line} holds a placeholder; write it out or add it to SKIPS with the reason: ${c.text}`);
    assert.doesNotMatch(c.text, /^skewless /, `README.md:${c.line}: a reader types \`npx skewless\`; \`skewless\` is not on PATH after npm install: ${c.text}`);
  }
});

test('every skip has a reason and matches a README command; every promise matches one', () => {
  const texts = extractCommands(README).map((c) => c.text);
  for (const s of SKIPS) {
    assert.ok(s.reason.length > 20, `${s.match}: a reason`);
    assert.ok(texts.some((t) => s.match.test(t)), `SKIPS entry ${s.match} matches no README command: remove it`);
  }
  for (const p of PROMISES) assert.ok(texts.some((t) => p.match.test(t)), `PROMISES entry ${p.match} matches no README command: update it`);
});
