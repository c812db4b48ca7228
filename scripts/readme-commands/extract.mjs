/**
 * Which commands README.md asks a reader to type, and which of them the runner
 * (scripts/readme-commands.mjs) does not run here, with the reason. Pure: no I/O, so the unit test
 * (test/unit/readme-commands.test.ts) checks it without running anything.
 *
 * The rule for what a command is:
 * - Fenced blocks tagged `bash`, `sh`, `shell` or `console`: every line that is not blank or a whole-line
 *   `# comment`. Lines ending in `\` continue on the next; a trailing ` # comment` is dropped (outside
 *   quotes and `$( )`); `a && b` is split into steps run one after the other in the same shell
 *   environment (a failing step stops the chain, as `&&` does), so `export $(...)` carries over.
 * - Untagged blocks: only lines whose first word is a launcher (below); the Layout block holds none.
 * - `cron` and `yaml` blocks hold commands for another scheduler; they are listed, never run
 *   (NOT_SHELL says why). Other languages (ts, text, properties) hold no commands.
 * - Inline code spans in the prose (a span may wrap over lines) whose first word is a launcher:
 *   npx, npm, node, pip, pip3, python3, docker or export; and spans `skewless <command> <argument>...`
 *   with a path or a flag among three words or more (a command line written without its `npx`, which
 *   the unit test refuses). `skewless run` or `skewless demo skew` names a command, it is not one. An inline command equal to one found earlier is listed as a duplicate
 *   and not run again.
 * Every command is run unless SKIPS matches it; an entry with `heavy` runs with `--heavy`.
 */

const SHELL_LANGS = new Set(['bash', 'sh', 'shell', 'console']);
const LAUNCHERS = new Set(['npx', 'npm', 'node', 'pip', 'pip3', 'python3', 'docker', 'export']);

/** Blocks in another scheduler's language: listed with this reason, never run. */
export const NOT_SHELL = {
  cron: 'a production crontab line: runs from /srv/app and writes /var/lib, /var/www and /var/log, then pages on-call; its parity command is the one of the Parity section plus --state, which test/integration/parity-incremental.test.ts runs',
  yaml: 'a GitHub Actions job, run by Actions on a pull request; its `schemas check --offline --against origin/main` and `deploy --dry-run` are run here from the Deploying safely block',
};

/**
 * Commands not run here, matched on the whole command text, each with its reason (reviewed: a new
 * entry needs one that holds on any developer machine, not just "slow").
 * @type {ReadonlyArray<{ match: RegExp, reason: string, heavy?: boolean }>}
 */
export const SKIPS = [
  { match: /^npm test$/, heavy: true, reason: 'the whole suite: about 12 min of both cores; `.ci/run` runs exactly this on a clean clone (README, Tests)' },
  { match: /^docker compose up -d$/, reason: 'the Docker alternative to `npm run stack:up`: it would start a second stack on the same ports (19092, 18081) as the local one, which is running' },
  { match: /^npm run chaos -- /, reason: 'the fault campaign kills the broker with kill -9 and pauses the registry for 20 s: on a shared stack that breaks every other client; 510 s. Its short version runs in npm test (test/integration/chaos.test.ts)' },
  { match: /^export SKEWLESS_CONFIG=\/etc\/skewless\/client\.properties$/, reason: 'a production cluster (kafka-1.internal, registry.internal): the file and hosts do not exist here; test/integration/client-secrets.test.ts runs commands with a config file against the secured stack' },
  { match: /^npx skewless run topologies\/card-fraud\.ts --state \/srv\/skewless\/state /, reason: 'runs against the production cluster of the line before (SKEWLESS_CONFIG); the same `run` runs here in the Live section' },
  { match: /^node scripts\/stack\/up\.mjs --secure$/, heavy: true, reason: 'starts a second, secured stack (two more JVMs, about 1 GiB, up to 70 s); test/integration/secure-stack.test.ts starts it in npm test' },
  { match: /^node scripts\/readme-commands\.mjs$/, reason: 'this script: it would run every README command again, inside its own run' },
  { match: /^node scripts\/run-tests\.mjs test\/unit\/x\.test\.ts$/, reason: 'x.test.ts stands for a test file of your choice' },
  { match: /^npm run bench$/, heavy: true, reason: 'benchmark: three 3M-flight replays on both cores (about 2 min); it would skew other measurements on a shared machine' },
  { match: /^npm run bench:regroup$/, heavy: true, reason: 'benchmark: 3 runs of 300,000 flights through two live workers each, then five trickle latency runs (about 13 min)' },
  { match: /^npm run bench:aggs$/, heavy: true, reason: 'benchmark: 5 rounds of every aggregation on both cores' },
  { match: /^npm run bench:scale( -- .*)?$/, heavy: true, reason: 'benchmark: nine 3M-flight replays (three topologies, alternated) on both cores, about 5 min' },
  { match: /^npm run bench:live( -- --parity 0\.01)?$/, heavy: true, reason: 'benchmark: 3 runs of 1M flights through live workers with kill -9 failovers (10-20 min)' },
  { match: /^npx tsx bench\/parity-cards\.ts$/, heavy: true, reason: 'benchmark: serves 1M card transactions live, then parity and a full backfill of them' },
  { match: /^npx tsx bench\/startup\.ts$/, heavy: true, reason: 'benchmark: 5 live workers started and timed; a busy machine makes the figures meaningless' },
  { match: /^npx tsx bench\/feature-encoding\.ts$/, heavy: true, reason: 'benchmark: a timing loop, whose figures only mean something on a quiet machine' },
];

/**
 * @typedef {{ index: number, text: string, line: number, lines: number[], origin: 'block' | 'inline', lang: string,
 *   chain?: { part: number, of: number }, duplicateOf?: number, skip?: { reason: string, heavy: boolean } }} ReadmeCommand
 */

/** The commands of a README, in order of their first line. @returns {ReadmeCommand[]} */
export function extractCommands(markdown) {
  const lines = markdown.split('\n');
  /** @type {Omit<ReadmeCommand, 'index'>[]} */
  const found = [];
  const prose = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```\s*([\w-]*)/.exec(lines[i]);
    if (open === null) {
      prose.push({ text: lines[i], line: i + 1 });
      continue;
    }
    const lang = open[1].toLowerCase();
    let j = i + 1;
    while (j < lines.length && !lines[j].startsWith('```')) j++;
    const body = lines.slice(i + 1, j).map((text, k) => ({ text, line: i + 2 + k }));
    if (SHELL_LANGS.has(lang) || lang === '') found.push(...blockCommands(body, lang));
    else if (lang in NOT_SHELL) found.push(...notShellBlock(body, lang));
    for (let k = i; k <= j; k++) prose.push({ text: '', line: k + 1 });
    i = j;
  }
  found.push(...inlineCommands(prose));
  found.sort((a, b) => a.line - b.line || (a.chain?.part ?? 0) - (b.chain?.part ?? 0));
  /** @type {ReadmeCommand[]} */
  const out = [];
  for (const c of found) {
    const first = c.origin === 'inline' ? out.find((o) => o.text === c.text) : undefined;
    const cmd = { index: out.length + 1, ...c };
    if (first !== undefined) cmd.duplicateOf = first.index;
    const skip = c.skip ?? skipFor(c.text);
    if (skip !== undefined) cmd.skip = skip;
    out.push(cmd);
  }
  return out;
}

function skipFor(text) {
  const s = SKIPS.find((e) => e.match.test(text));
  return s === undefined ? undefined : { reason: s.reason, heavy: s.heavy === true };
}

function blockCommands(body, lang) {
  const out = [];
  for (let k = 0; k < body.length; k++) {
    const start = body[k];
    const joined = [start.text];
    const covered = [start.line];
    while (/\\\s*$/.test(joined[joined.length - 1]) && k + 1 < body.length) {
      joined[joined.length - 1] = joined[joined.length - 1].replace(/\\\s*$/, '');
      k++;
      joined.push(body[k].text);
      covered.push(body[k].line);
    }
    const text = normalize(stripComment(joined.join(' ')));
    if (text === '') continue;
    if (lang === '' && !LAUNCHERS.has(text.split(' ')[0])) continue;
    const parts = splitAnd(text);
    parts.forEach((p, n) => out.push({ text: p, line: start.line, lines: covered, origin: 'block', lang: lang || 'untagged', ...(parts.length > 1 ? { chain: { part: n + 1, of: parts.length } } : {}) }));
  }
  return out;
}

function notShellBlock(body, lang) {
  const text = normalize(body.map((l) => l.text).join(' '));
  return [{ text, line: body[0]?.line ?? 0, lines: body.map((l) => l.line), origin: 'block', lang, skip: { reason: NOT_SHELL[lang], heavy: false } }];
}

function inlineCommands(prose) {
  const out = [];
  const text = prose.map((p) => p.text).join('\n');
  const lineAt = (offset) => prose[text.slice(0, offset).split('\n').length - 1].line;
  for (const m of text.matchAll(/(?<!`)`([^`]+)`(?!`)/g)) {
    const cmd = normalize(m[1]);
    const words = cmd.split(' ');
    const isCommand = LAUNCHERS.has(words[0])
      ? words.length >= 2
      : words[0] === 'skewless' && words.length >= 3 && words.some((w) => w.includes('/') || w.startsWith('-'));
    if (!isCommand) continue;
    const first = lineAt(m.index);
    const last = lineAt(m.index + m[0].length - 1);
    const lines = [];
    for (let l = first; l <= last; l++) lines.push(l);
    out.push({ text: cmd, line: first, lines, origin: 'inline', lang: 'inline' });
  }
  return out;
}

/** Drops a ` # comment` (a `#` starting a word, outside quotes and `$( )`), as bash does. */
export function stripComment(line) {
  let quote = '';
  let depth = 0;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote !== '') {
      if (c === quote) quote = '';
      else if (c === '\\' && quote === '"') i++;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === '\\') i++;
    else if (c === '$' && line[i + 1] === '(') { depth++; i++; }
    else if (c === ')' && depth > 0) depth--;
    else if (c === '#' && depth === 0 && (i === 0 || /\s/.test(line[i - 1]))) return line.slice(0, i);
  }
  return line;
}

/** Splits `a && b` at the top level (not inside quotes or `$( )`). */
export function splitAnd(text) {
  const parts = [];
  let quote = '';
  let depth = 0;
  let from = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote !== '') {
      if (c === quote) quote = '';
    } else if (c === "'" || c === '"') quote = c;
    else if (c === '$' && text[i + 1] === '(') { depth++; i++; }
    else if (c === ')' && depth > 0) depth--;
    else if (c === '&' && text[i + 1] === '&' && depth === 0) {
      parts.push(text.slice(from, i).trim());
      from = i + 2;
      i++;
    }
  }
  parts.push(text.slice(from).trim());
  return parts.filter((p) => p !== '');
}

function normalize(s) {
  return s.replace(/\s+/g, ' ').trim();
}
