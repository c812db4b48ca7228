#!/usr/bin/env node
/**
 * How docs/parity-report.png is made: `skewless demo skew` writes the HTML report of the skewed
 * serving path, and a headless Chromium takes a screenshot of it. Nothing here is a dependency
 * of skewless; the browser comes from Debian's packages and runs offline, since the report is
 * self-contained:
 *
 *   apt-get install chromium-headless-shell      # or chromium; CHROMIUM=<binary> picks another
 *   node scripts/parity-report-screenshot.mjs [--out docs/parity-report.png] [--height 2450]
 *
 * The demo needs the local Kafka + registry stack and starts it when none is running.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { ROOT } from './stack/stack.mjs';

const { values } = parseArgs({ options: { out: { type: 'string', default: join(ROOT, 'docs', 'parity-report.png') }, height: { type: 'string', default: '2450' }, width: { type: 'string', default: '1440' } } });

const candidates = [process.env.CHROMIUM, 'chromium-headless-shell', 'chromium', 'chromium-browser'].filter(Boolean);
const browser = candidates.find((c) => spawnSync(c, ['--version'], { stdio: 'ignore' }).status === 0);
if (browser === undefined) {
  process.stderr.write(`no headless Chromium found (tried ${candidates.join(', ')}): install one with \`apt-get install chromium-headless-shell\`, or set CHROMIUM to its path\n`);
  process.exit(2);
}

const work = mkdtempSync(join(tmpdir(), 'skewless-screenshot-'));
try {
  const demo = spawnSync(process.execPath, [join(ROOT, 'bin', 'skewless.mjs'), 'demo', 'skew', '--out', work], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
  if (demo.status !== 0) throw new Error(`skewless demo skew exited with ${demo.status}`);
  const out = resolve(values.out);
  // No sandbox: the page is a local file of our own and the script often runs as root (which Chromium's sandbox refuses).
  const shot = spawnSync(
    browser,
    ['--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', '--force-device-scale-factor=1', `--window-size=${values.width},${values.height}`, `--screenshot=${out}`, pathToFileURL(join(work, 'parity-skewed.html')).href],
    { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' },
  );
  if (shot.status !== 0) throw new Error(`${browser} exited with ${shot.status}: ${shot.stderr.trim().split('\n').at(-1)}`);
  process.stdout.write(`wrote ${out} (${values.width}×${values.height}) from ${join(work, 'parity-skewed.html')}\n`);
} catch (e) {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}
