/**
 * What a README command promises beyond exit status 0, where that is cheap to check, and how a
 * long-running command shows it has reached its steady state. Each `check` returns undefined when
 * the promise holds, else one line saying what differs. Figures the README states are read from the
 * README text, so a check cannot drift from it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';

/**
 * @typedef {{ clone: string, readme: string, exit: number | null, stdout: string, stderr: string, env: Record<string, string>, started: number }} RunResult
 * @typedef {{ match: RegExp, check?: (r: RunResult) => string | undefined,
 *   longRunning?: { ready: string[], says: string } }} Promise_
 */

const parts = (dir) => (fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => /^part-\d{5}\.parquet$/.test(f)) : []);
const needParts = (clone, dir, n) => {
  const got = parts(path.join(clone, dir)).length;
  return got === n ? undefined : `${dir}: ${got} part files, expected ${n} (one per partition)`;
};
const countOf = (s) => Number(s.replaceAll(',', ''));

/** A few lines of Python (pyarrow is in requirements.txt) that print one JSON value. */
function python(code, ...args) {
  const r = spawnSync('python3', ['-c', code, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`python3: ${r.stderr.trim().split('\n').pop()}`);
  return JSON.parse(r.stdout);
}

/** @type {Promise_[]} */
export const PROMISES = [
  {
    match: /^npm install$/,
    // README, issue 12 item 11: a fresh clone's install leaves the committed lock file as it is.
    check: (r) => {
      const s = spawnSync('git', ['status', '--porcelain', 'package.json', 'package-lock.json'], { cwd: r.clone, encoding: 'utf8' }).stdout.trim();
      return s === '' ? undefined : `npm install changed ${s.replace(/\s+/g, ' ')}`;
    },
  },
  {
    match: /^npm start$/,
    check: (r) => {
      const late = /\(([\d,]+) of the 200,000\) get no row/.exec(r.readme)?.[1];
      const windows = /\(`(window rows [^`]+)` for `npm start`\)/.exec(r.readme.replace(/\s*\n\s*/g, ' '))?.[1];
      if (late === undefined || windows === undefined) return 'the README no longer states the late count or the window rows of npm start: update this check';
      return needParts(r.clone, 'out/demo/training/card_features', 8)
        ?? (r.stdout.includes(windows) ? undefined : `stdout lacks the README's "${windows}"`)
        ?? (new RegExp(`late[^\\n]*\\b${late}\\b`).test(r.stdout) ? undefined : `stdout does not say ${late} late records, as the README does`);
    },
  },
  {
    match: /^npx skewless backfill docs\/examples\/windows\.ts /,
    check: (r) => {
      const said = /(\d+)\s+million window rows/.exec(r.readme.replace(/\s*\n\s*/g, ' '))?.[1];
      const got = /window rows ([\d,]+)/.exec(r.stdout)?.[1];
      if (said === undefined || got === undefined) return `no window row count (README: ${said} million; stdout: ${got})`;
      const rel = Math.abs(countOf(got) / (Number(said) * 1e6) - 1);
      return rel < 0.05 ? undefined : `${got} window rows where the README says ${said} million`;
    },
  },
  { match: /^npx skewless plan /, check: (r) => (/version [0-9a-f]{8,}/.test(r.stdout) ? undefined : 'no version hash printed') },
  {
    match: /^npx skewless generate card-transactions .*--out data\/cards --format avro$/,
    check: (r) => ['transactions.avro', 'chargebacks.avro', 'card_limits.avro', 'merchant_tiers.avro'].map((f) => (fs.existsSync(path.join(r.clone, 'data/cards', f)) ? undefined : `data/cards/${f} missing`)).find(Boolean),
  },
  { match: /^npx skewless backfill topologies\/card-fraud\.ts --input .*--out out\/cards$/, check: (r) => needParts(r.clone, 'out/cards/card_features', 8) },
  { match: /^npx skewless backfill topologies\/flight-delays\.ts .*--out out\/flights$/, check: (r) => needParts(r.clone, 'out/flights/flight_features', 8) },
  { match: /^npm run stack:up$/, check: (r) => (/\[stack\] (already running|started)/.test(r.stderr) ? undefined : 'no "[stack] already running" or "started" on stderr') },
  {
    match: /^export \$\(node scripts\/stack\/up\.mjs\)$/,
    check: (r) => (r.env.KAFKA_BROKERS && r.env.SCHEMA_REGISTRY_URL ? undefined : 'KAFKA_BROKERS and SCHEMA_REGISTRY_URL not exported'),
  },
  {
    // "the same per-partition records give byte-identical training files; only skewless.input_ranges differs"
    match: /^npx skewless backfill topologies\/card-fraud\.ts --from-kafka --out out\/cards-kafka$/,
    check: (r) => {
      const code = [
        'import sys, json, pyarrow.parquet as pq',
        'a, b = (pq.read_table(d) for d in sys.argv[1:3])',
        'print(json.dumps({"rows": [a.num_rows, b.num_rows], "equal": a.equals(b)}))',
      ].join('\n');
      const out = python(code, path.join(r.clone, 'out/cards/card_features'), path.join(r.clone, 'out/cards-kafka/card_features'));
      return out.equal ? undefined : `out/cards-kafka differs from the file backfill out/cards (rows ${out.rows.join(' / ')})`;
    },
  },
  {
    // "the example above replays February 2026 of the generated data"; records that arrived late inside the range are read too.
    match: /^npx skewless backfill topologies\/card-fraud\.ts --from-kafka --out out\/cards-feb --since (\S+) --until (\S+)$/,
    check: (r) => {
      if (r.stderr.includes('warning')) return `a warning: ${r.stderr.trim()}`;
      const code = [
        'import sys, json, pyarrow.parquet as pq, pyarrow.compute as pc',
        't = pq.read_table(sys.argv[1], columns=["event_time"]).column("event_time").cast("int64")',
        'lo, hi = int(sys.argv[2]), int(sys.argv[3])',
        'inside = pc.sum(pc.and_(pc.greater_equal(t, lo), pc.less(t, hi))).as_py() or 0',
        'print(json.dumps({"rows": len(t), "inside": inside}))',
      ].join('\n');
      const [, since, until] = /--since (\S+) --until (\S+)$/.exec(r.command);
      const out = python(code, path.join(r.clone, 'out/cards-feb/card_features'), String(Date.parse(since)), String(Date.parse(until)));
      if (out.rows === 0) return 'no rows: the range selected nothing';
      return out.inside / out.rows >= 0.99 ? undefined : `only ${out.inside} of ${out.rows} rows have an event time in [${since}, ${until})`;
    },
  },
  {
    match: /^npx skewless run topologies\/card-fraud\.ts --state \.state --metrics-port (\d+)$/,
    longRunning: { ready: ['log', 'committed', 'metrics'], says: 'Ctrl-C / SIGTERM stops cleanly' },
  },
  {
    // Live after the hand-over: no new input arrives, so its steady state is running, not a commit.
    match: /^npx skewless bootstrap topologies\/card-fraud\.ts --state \.state-v2 --group skewless-card-fraud-v2$/,
    longRunning: { ready: ['log'], says: 'hands off to live' },
  },
  {
    // Caught up, so the parity log holds samples from the whole history (the next command selects March).
    match: /^npx skewless run topologies\/card-fraud\.ts --state \.state --parity-rate \S+ --parity-topic \S+ --parity-file (\S+)$/,
    longRunning: { ready: ['log', 'committed', 'parity-file', 'caught-up'], says: 'samples served vectors into the parity log' },
  },
  {
    match: /^npx skewless parity topologies\/card-fraud\.ts --sample card-fraud-parity --html (\S+)/,
    check: (r) => (fs.existsSync(path.join(r.clone, /--html (\S+)/.exec(r.command)[1])) ? undefined : 'no HTML report written'),
  },
  {
    match: /^npx skewless parity .* --json$/,
    check: (r) => {
      try {
        JSON.parse(r.stdout);
        return undefined;
      } catch {
        return '--json output is not one JSON document';
      }
    },
  },
  {
    // "parity against the training topology alerts and names amount_sum_24h, amount_mean_24h and txn_count_24h"
    match: /^npx skewless demo skew$/,
    check: (r) => ['amount_sum_24h', 'amount_mean_24h', 'txn_count_24h'].map((f) => (r.stdout.includes(f) ? undefined : `the skewed run's alert does not name ${f}`)).find(Boolean),
  },
  {
    match: /^node scripts\/parity-report-screenshot\.mjs$/,
    check: (r) => {
      const f = path.join(r.clone, 'docs/parity-report.png');
      return fs.existsSync(f) && fs.statSync(f).mtimeMs >= r.started ? undefined : 'docs/parity-report.png not written';
    },
  },
  {
    // A dry run changes nothing: not even the state directory it is pointed at.
    match: /^npx skewless deploy .*--state (\S+) --dry-run$/,
    check: (r) => {
      const dir = /--state (\S+)/.exec(r.command)[1];
      return r.stateDirBefore === false && fs.existsSync(dir) ? `--dry-run created ${dir}` : undefined;
    },
  },
];

/** @returns {Promise_ | undefined} */
export function promiseFor(command) {
  return PROMISES.find((p) => p.match.test(command));
}
