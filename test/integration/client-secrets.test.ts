/**
 * Secrets never leave the process: every command of a full run (produce, backfill --from-kafka,
 * schemas check, deploy --json, run with metrics and a parity file, parity with an HTML report,
 * and the failures that printed a registry password before: backfill, schemas check and deploy
 * --json against an unreachable registry URL with credentials) is run with a registry password
 * configured (in a config file, and as URL user-info in the environment) and a SASL password
 * (SKEWLESS_SASL_PASSWORD, against a broker listener that takes no SASL), all with --verbose.
 * Every byte they print and every file they write is searched for the secrets.
 *
 * The registry is the local stack's, behind a proxy on 127.0.0.1 that forwards only requests
 * carrying the configured basic auth (so the commands demonstrably authenticated). The secured
 * stack's own test (secure-stack.test.ts) does the same against SASL_SSL and an https registry.
 * card-fraud reads three sources (transactions, chargebacks, the merchant_tiers table), all
 * produced to this run's topics; its live run also creates a changelog and, since it regroups by
 * merchant, a repartition and an answers topic, all deleted at the end.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadTopology } from '../../src/plan/load-topology.js';
import { cardTopicArgs, liveInternalTopics } from '../helpers/card-inputs.js';
import { cleanUpKafka } from '../helpers/kafka-cleanup.js';
import { stackForTests } from '../helpers/stack.js';

const stack = await stackForTests();
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'skewless.mjs');
const run = randomUUID().slice(0, 8);
const REGISTRY_PASSWORD = `Reg-${randomUUID()}`;
const SASL_PASSWORD = `Sasl-${randomUUID()}`;
const USER = 'svc-skewless';
const topics = {
  transactions: `secrets-tx-${run}`,
  chargebacks: `secrets-cb-${run}`,
  merchant_tiers: `secrets-mt-${run}`,
  features: `secrets-features-${run}`,
  daily: `secrets-daily-${run}`,
  side: `secrets-${run}`,
  parity: `secrets-parity-${run}`,
};
const group = `secrets-group-${run}`;
const dir = mkdtempSync(join(tmpdir(), 'skewless-secrets-test-'));
const plan = await loadTopology(join(ROOT, 'topologies/card-fraud.ts'));

test.after(async () => {
  rmSync(dir, { recursive: true, force: true });
  await cleanUpKafka(stack.brokers, [...Object.values(topics), `${topics.side}-late`, `${topics.side}-dead-letters`, ...liveInternalTopics(group, plan)], [group]);
});

/** Forwards to the stack's registry only requests with the configured basic auth; counts the others. */
async function authProxy(): Promise<{ url: string; refused: () => number; forwarded: () => number; close: () => Promise<void> }> {
  const upstream = new URL(stack.registryUrl);
  const expected = `Basic ${Buffer.from(`${USER}:${REGISTRY_PASSWORD}`).toString('base64')}`;
  let refused = 0;
  let forwarded = 0;
  const server = http.createServer((req, res) => {
    if (req.headers.authorization !== expected) {
      refused++;
      req.resume();
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"error_code":401,"message":"Unauthorized"}');
      return;
    }
    forwarded++;
    const { authorization: _drop, host: _host, ...headers } = req.headers;
    const out = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    out.on('error', () => res.writeHead(502).end());
    req.pipe(out);
  });
  server.keepAliveTimeout = 200;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}${upstream.pathname.replace(/\/$/, '')}`,
    refused: () => refused,
    forwarded: () => forwarded,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

interface Ran {
  readonly args: readonly string[];
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

const outputs: Ran[] = [];
const baseEnv: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SKEWLESS_') && k !== 'KAFKA_BROKERS' && k !== 'SCHEMA_REGISTRY_URL'));

/** Asynchronous: the registry proxy answers from this process while the command runs. */
async function cli(args: readonly string[], env: NodeJS.ProcessEnv): Promise<Ran> {
  const child = spawn(process.execPath, [BIN, '--verbose', ...args], { cwd: ROOT, env: { ...baseEnv, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const timer = setTimeout(() => child.kill('SIGKILL'), 180_000);
  const status = await new Promise<number | null>((resolve) => child.once('close', resolve));
  clearTimeout(timer);
  const ran = { args, status, stdout, stderr };
  outputs.push(ran);
  return ran;
}

function filesUnder(root: string): string[] {
  return readdirSync(root, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(root, e.name)) : [join(root, e.name)]));
}

test('a full run with registry and SASL passwords configured prints and writes them nowhere', async (t) => {
  const proxy = await authProxy();
  t.after(() => proxy.close());
  const config = join(dir, 'client.properties');
  writeFileSync(config, [`bootstrap.servers=${stack.brokers.join(',')}`, `schema.registry.url=${proxy.url}`, `schema.registry.basic.auth.user.info=${USER}:${REGISTRY_PASSWORD}`, ''].join('\n'));
  chmodSync(config, 0o644); // readable by others: the warning must name the file, not the secret
  const viaFile = { SKEWLESS_CONFIG: config };
  const viaUrl = { KAFKA_BROKERS: stack.brokers.join(','), SCHEMA_REGISTRY_URL: proxy.url.replace('http://', `http://${USER}:${encodeURIComponent(REGISTRY_PASSWORD)}@`) };
  const out = join(dir, 'out');
  const topicFlags = cardTopicArgs(topics);

  const gen = await cli(['generate', 'card-transactions', '--events', '3000', '--out', join(out, 'data'), '--json'], {});
  assert.equal(gen.status, 0, gen.stderr);
  const tierVersions = (JSON.parse(gen.stdout) as { merchantTiers: number }).merchantTiers;
  for (const source of ['merchant_tiers', 'chargebacks', 'transactions'] as const) {
    const p = await cli(['produce', 'topologies/card-fraud.ts', '--source', source, '--input', join(out, 'data', `${source}.ndjson`), '--topic', topics[source], '--partitions', '2', '--json'], viaFile);
    assert.equal(p.status, 0, p.stderr);
    assert.match(p.stderr, new RegExp(`^skewless: warning: ${config.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} holds secrets \\(schema\\.registry\\.basic\\.auth\\.user\\.info\\) and is readable by group or others \\(mode 644\\): run chmod 600 `, 'm'));
  }
  chmodSync(config, 0o600);
  const backfill = await cli(['backfill', 'topologies/card-fraud.ts', '--from-kafka', ...topicFlags, '--out', join(out, 'backfill'), '--json', '--workers', '2'], viaUrl);
  assert.equal(backfill.status, 0, backfill.stderr);
  const check = await cli(['schemas', 'check', 'topologies/card-fraud.ts'], viaUrl);
  assert.equal(check.status, 0, check.stderr);
  assert.match(check.stderr, new RegExp(`^schemas check \\(registry http://${USER}:\\*\\*\\*@127\\.0\\.0\\.1:`, 'm'));
  assert.equal((await cli(['schemas', 'check', 'topologies/card-fraud.ts', '--json'], viaFile)).status, 0);
  const deploy = await cli(['deploy', 'topologies/card-fraud.ts', '--dry-run', '--json'], viaFile);
  assert.equal(deploy.status, 0, deploy.stderr);

  // Live, with metrics and a local parity file, until every transaction and tier version is
  // applied and no row waits for its merchant features (the last ones wait for the idle rule).
  const live = spawn(
    process.execPath,
    [BIN, '--verbose', 'run', 'topologies/card-fraud.ts', '--config', config, '--state', join(out, 'state'), '--group', group, ...topicFlags,
      '--output-topic', `card_features=${topics.features}`, '--output-topic', `card_daily_spend=${topics.daily}`, '--side-prefix', topics.side,
      '--parity-rate', '0.5', '--parity-topic', topics.parity, '--parity-file', join(out, 'parity.ndjson'), '--metrics-port', '0'],
    { cwd: ROOT, env: baseEnv, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let liveOut = '';
  let liveErr = '';
  live.stdout.setEncoding('utf8').on('data', (s: string) => (liveOut += s));
  live.stderr.setEncoding('utf8').on('data', (s: string) => (liveErr += s));
  const liveDone = new Promise<number | null>((resolve) => live.once('close', resolve));
  t.after(() => void live.kill('SIGKILL'));
  let metricsText = '';
  const deadline = Date.now() + 120_000;
  for (;;) {
    await new Promise((r) => setTimeout(r, 500));
    const url = /metrics on (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(liveErr)?.[1];
    if (url !== undefined) {
      metricsText = await (await fetch(url)).text();
      const summed = (name: string): number => [...metricsText.matchAll(new RegExp(`^${name}\\{partition="\\d+"\\} (\\d+)$`, 'gm'))].reduce((n, m) => n + Number(m[1]), 0);
      // Both are published after each commit: a waiting count read with every record applied is the last batch's or later.
      if (summed('skewless_records_total') >= 3000 + tierVersions && summed('skewless_regroup_waiting_rows') === 0) break;
    }
    assert.ok(Date.now() < deadline, `live worker did not apply the 3000 transactions and ${tierVersions} tier versions and serve every row in time: ${liveErr.slice(-2000)}`);
  }
  live.kill('SIGTERM');
  assert.equal(await liveDone, 0, liveErr);
  outputs.push({ args: ['run'], status: 0, stdout: `${liveOut}${metricsText}`, stderr: liveErr });

  const parity = await cli(['parity', 'topologies/card-fraud.ts', '--sample', topics.parity, ...topicFlags, '--html', join(out, 'parity.html'), '--json', '--config', config], {});
  assert.equal(parity.status, 0, parity.stderr);

  // The failures that printed the password before: an unreachable registry URL with credentials.
  const deadUrl = { KAFKA_BROKERS: stack.brokers.join(','), SCHEMA_REGISTRY_URL: `http://${USER}:${encodeURIComponent(REGISTRY_PASSWORD)}@127.0.0.1:9/apis/ccompat/v7` };
  for (const args of [['backfill', 'topologies/card-fraud.ts', '--from-kafka', '--out', join(out, 'never')], ['schemas', 'check', 'topologies/card-fraud.ts'], ['deploy', 'topologies/card-fraud.ts', '--json']]) {
    const r = await cli(args, deadUrl);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`^skewless: cannot reach the schema registry at http://${USER}:\\*\\*\\*@127\\.0\\.0\\.1:9/apis/ccompat/v7 `, 'm'));
  }
  // A SASL password, sent where it is refused (the stack's broker takes no SASL), kafkajs logging included.
  const sasl = await cli(['backfill', 'topologies/card-fraud.ts', '--from-kafka', '--out', join(out, 'never-sasl')], {
    ...viaFile,
    SKEWLESS_SECURITY_PROTOCOL: 'SASL_PLAINTEXT',
    SKEWLESS_SASL_MECHANISM: 'PLAIN',
    SKEWLESS_SASL_USERNAME: USER,
    SKEWLESS_SASL_PASSWORD: SASL_PASSWORD,
  });
  assert.equal(sasl.status, 2, sasl.stderr);
  assert.match(sasl.stderr, /^skewless: Kafka at .* does not accept SASL PLAIN on this port/m);
  // A password on the command line is refused without echoing it.
  const argv = await cli(['schemas', 'check', 'topologies/card-fraud.ts', '--registry', `http://${USER}:${REGISTRY_PASSWORD}@127.0.0.1:9`], {});
  assert.equal(argv.status, 2);
  outputs.pop(); // its argv holds the password by construction; only its output counts
  outputs.push({ ...argv, args: ['schemas', 'check', '--registry', '<with credentials>'] });

  assert.equal(proxy.refused(), 0, 'every registry request of the working commands carried the configured credentials');
  assert.ok(proxy.forwarded() > 0);

  const forms = (s: string): string[] => [s, encodeURIComponent(s), Buffer.from(s).toString('base64'), Buffer.from(`${USER}:${s}`).toString('base64')];
  const secrets = [...forms(REGISTRY_PASSWORD), ...forms(SASL_PASSWORD)];
  for (const o of outputs) {
    for (const s of secrets) {
      assert.ok(!o.stdout.includes(s) && !o.stderr.includes(s), `skewless ${o.args.join(' ')} printed a secret: ${o.stderr.slice(0, 500)}`);
    }
  }
  const written = filesUnder(out).filter((f) => statSync(f).isFile());
  assert.ok(written.some((f) => f.endsWith('.parquet')) && written.some((f) => f.endsWith('parity.html')) && written.some((f) => f.endsWith('parity.ndjson')), written.join('\n'));
  for (const f of written) {
    const bytes = readFileSync(f);
    for (const s of secrets) assert.ok(!bytes.includes(s), `${f} holds a secret`);
  }
});
