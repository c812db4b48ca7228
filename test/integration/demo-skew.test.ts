/**
 * `skewless demo skew` end to end through the CLI: the correct topology served live holds
 * parity, the deliberately skewed copy (topologies/card-fraud-skewed.ts) checked against the
 * correct one alerts and names txn_count_24h; exit 0, both HTML reports written. Both serve
 * card-fraud's merchant features (a regrouping by merchant and the merchant_tiers table, which
 * the demo produces too): they are compared, and equal, in both runs, so the alert names the
 * deliberate bugs only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stackForTests } from '../helpers/stack.js';

const stack = await stackForTests();
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'skewless.mjs');
const dir = mkdtempSync(join(tmpdir(), 'skewless-demo-skew-test-'));

test.after(() => rmSync(dir, { recursive: true, force: true }));

test('demo skew: parity holds for card-fraud and alerts on the skewed serving path', { timeout: 420_000 }, async () => {
  const out = join(dir, 'out');
  const child = spawn(process.execPath, [BIN, 'demo', 'skew', '--events', '8000', '--out', out], { cwd: ROOT, env: stack.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  assert.equal(code, 0, `demo skew exits 0:\n${stdout}\n${stderr}`);

  assert.match(stdout, /\(a\) card-fraud live vs offline: parity holds/);
  assert.match(stdout, /\(b\) skewed serving vs card-fraud offline: alert, as expected/);
  const flagged = /features flagged: (.*)/.exec(stdout)?.[1] ?? '';
  assert.match(flagged, /txn_count_24h/, stdout);
  assert.doesNotMatch(flagged, /merchant_/, `the skewed copy computes the merchant features as card-fraud does:\n${stdout}`);
  // Each parity table lists every compared feature with its verdict: the merchant's are there, and equal, in (a) and (b).
  for (const feature of ['merchant_txn_count_1h', 'merchant_amount_mean_24h', 'merchant_risk_tier', 'merchant_tier_score']) {
    const rows = [...stdout.matchAll(new RegExp(`^\\s+${feature}\\s.*$`, 'gm'))].map((m) => m[0]);
    assert.equal(rows.length, 2, `${feature}: one row in each parity table:\n${stdout}`);
    for (const row of rows) assert.match(row, / 0 \(0\.0%\).* ok$/, `${feature} equal live and offline: ${row}`);
  }

  const correct = join(out, 'parity-correct.html');
  const skewed = join(out, 'parity-skewed.html');
  assert.ok(existsSync(correct) && existsSync(skewed), 'both HTML reports written');
  const page = readFileSync(skewed, 'utf8');
  assert.match(page, /txn_count_24h/);
  assert.match(page, /<svg/);
});
