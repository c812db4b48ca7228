/**
 * A secured cluster end to end: the secured local stack (`up.mjs --secure`: SASL_SSL with
 * SCRAM-SHA-512, an mTLS listener, a registry behind TLS and basic auth) and the CLI configured
 * only by its env line (KAFKA_BROKERS, SCHEMA_REGISTRY_URL, SKEWLESS_CONFIG). produce → run →
 * parity → backfill --from-kafka must give what a file backfill of the same data gives; wrong
 * credentials and a plaintext client must fail at once with one line that says what to fix;
 * and no secret of the configuration may appear in anything the commands print or write.
 * card-fraud reads three sources (transactions, chargebacks, the merchant_tiers table), all
 * produced to this run's topics, and serves merchant features through a regrouping: its live run
 * also creates a changelog, a repartition and an answers topic, deleted at the end.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ParityRunResult } from '../../src/parity/parity-run.js';
import { writeCardDataset } from '../../src/gen/write-card-dataset.js';
import { loadTopology } from '../../src/plan/load-topology.js';
import { cardTopicArgs, liveInternalTopics } from '../helpers/card-inputs.js';
import { cleanUpKafka } from '../helpers/kafka-cleanup.js';
import { BIN, exited, ROOT, sleep, spawnSkewless } from '../helpers/live-run.js';
import { envWithoutConnections, secureStackForTests } from '../helpers/secure-stack.js';
import { assertSameTraining, keyValues, parquetFiles } from '../helpers/training-files.js';

const stack = await secureStackForTests();
const PARTITIONS = 4;
const EVENTS = 4_000;
const run = randomUUID().slice(0, 8);
const topics = {
  transactions: `secure-tx-${run}`,
  chargebacks: `secure-cb-${run}`,
  merchant_tiers: `secure-mt-${run}`,
  features: `secure-features-${run}`,
  daily: `secure-daily-${run}`,
  side: `secure-${run}`,
  parity: `secure-parity-${run}`,
  mtls: `secure-mtls-${run}`,
  mtlsRefused: `secure-mtls-refused-${run}`,
};
const group = `secure-${run}`;
const plan = await loadTopology(join(ROOT, 'topologies/card-fraud.ts'));
/** `--topic <source>=<topic>` for card-fraud's three sources. */
const topicArgs = cardTopicArgs(topics);
/** What the commands write; the secret grep reads all of it. */
const dir = mkdtempSync(join(tmpdir(), 'skewless-secure-'));
/** Configuration files the tests write (they hold secrets on purpose): not an output. */
const confDir = mkdtempSync(join(tmpdir(), 'skewless-secure-conf-'));
test.after(async () => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(confDir, { recursive: true, force: true });
  await cleanUpKafka(stack.brokers, [...Object.values(topics), `${topics.side}-late`, `${topics.side}-dead-letters`, ...liveInternalTopics(group, plan)], [group], stack.kafkaSecurity);
});

/** Everything the commands printed, for the secret grep. */
const printed: string[] = [];
/** Wrong passwords the failure tests use: they must not be printed either. */
const wrongSecrets: string[] = [];

/** The parts of backfill's --json summary used here. */
interface Summary {
  readonly counters: { readonly processed: number };
  readonly files: ReadonlyArray<{ readonly path: string; readonly rows: number }>;
}

interface CliRun {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

function skewless(args: readonly string[], env: NodeJS.ProcessEnv = stack.env, timeoutMs = 120_000): CliRun {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8', timeout: timeoutMs, env });
  printed.push(r.stdout, r.stderr);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - t0 };
}

/** A refused connection: the process ends by itself, soon, with one line that matches and no trace. */
function assertClearFailure(r: CliRun, pattern: RegExp, what: string): void {
  assert.notEqual(r.status, null, `${what}: exits by itself (no hang): ${r.stderr}`);
  assert.notEqual(r.status, 0, `${what}: fails`);
  assert.ok(r.ms < 30_000, `${what}: fails within 30 s, took ${r.ms} ms`);
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  assert.equal(lines.length, 1, `${what}: exactly one line on stderr, got:\n${r.stderr}`);
  assert.doesNotMatch(r.stderr, /^\s+at /m, `${what}: no stack trace`);
  assert.match(lines[0], pattern, what);
}

/** The secured stack's client configuration with some keys replaced or dropped (undefined), written 0600. */
function configWith(name: string, changes: Readonly<Record<string, string | undefined>>): string {
  const lines = readFileSync(stack.config, 'utf8').split('\n').filter((l) => {
    const key = l.split('=')[0].trim();
    return !(key in changes) || changes[key] !== undefined;
  });
  const text = lines.map((l) => {
    const key = l.split('=')[0].trim();
    return key in changes ? `${key}=${changes[key]}` : l;
  });
  const file = join(confDir, name);
  writeFileSync(file, text.join('\n'), { mode: 0o600 });
  return file;
}

/** Only SKEWLESS_CONFIG: every setting comes from the file. */
const onlyConfig = (file: string): NodeJS.ProcessEnv => ({ ...envWithoutConnections(), SKEWLESS_CONFIG: file });

/** A per-partition metric of the exposition text, summed over the partitions. */
const summed = (text: string, name: string): number => [...text.matchAll(new RegExp(`^${name}\\{partition="\\d+"\\} (\\d+)$`, 'gm'))].reduce((n, m) => n + Number(m[1]), 0);

const data = await writeCardDataset({ outDir: join(dir, 'data'), events: EVENTS, seed: 23, format: 'ndjson' });

test('produce → run → parity → backfill --from-kafka through SASL_SSL and an authenticated registry equal a file backfill', { timeout: 300_000 }, async () => {
  for (const [source, input, topic, count] of [
    ['merchant_tiers', data.merchantTiersPath, topics.merchant_tiers, data.merchantTiers],
    ['chargebacks', data.chargebacksPath, topics.chargebacks, data.chargebacks],
    ['transactions', data.transactionsPath, topics.transactions, EVENTS],
  ] as const) {
    const p = skewless(['produce', 'topologies/card-fraud.ts', '--source', source, '--input', input, '--topic', topic, '--partitions', String(PARTITIONS), '--json']);
    assert.equal(p.status, 0, p.stderr);
    assert.equal((JSON.parse(p.stdout) as { produced: number }).produced, count);
  }

  // The reference: a backfill of the same files, no Kafka, no registry. Live must serve one vector per row of it.
  const fileOut = join(dir, 'from-files');
  const f = skewless(['backfill', 'topologies/card-fraud.ts', '--input', `transactions=${data.transactionsPath}`, '--input', `chargebacks=${data.chargebacksPath}`, '--input', `merchant_tiers=${data.merchantTiersPath}`, '--partitions', String(PARTITIONS), '--out', fileOut, '--json'], envWithoutConnections());
  assert.equal(f.status, 0, f.stderr);
  const fileSummary = JSON.parse(f.stdout) as Summary;
  const vectors = fileSummary.files.filter((x) => x.path.includes('/card_features/')).reduce((n, x) => n + x.rows, 0);
  assert.ok(vectors >= EVENTS * 0.97 && vectors <= EVENTS, `${vectors} feature vectors for ${EVENTS} transactions (the rest late)`);

  // Live, every key sampled into the parity log (topic and local file).
  const worker = spawnSkewless([
    'run', 'topologies/card-fraud.ts', '--state', join(dir, 'state'), '--group', group,
    ...topicArgs, '--output-topic', `card_features=${topics.features}`, '--output-topic', `card_daily_spend=${topics.daily}`,
    '--side-prefix', topics.side, '--parity-rate', '1', '--parity-topic', topics.parity, '--parity-file', join(dir, 'parity', 'card-fraud.ndjson'),
    '--metrics-port', '0',
  ], stack.env);
  // Caught up: every vector of the file backfill emitted and none waiting for its merchant features
  // (the rows of the last grace − lag of event time wait for the idle rule, --idle-ms, 5 s). The
  // worker publishes both counts after each commit; the feature topic's end offsets would also
  // count its transactions' commit markers.
  const deadline = Date.now() + 150_000;
  let served = false;
  let metrics = '';
  while (Date.now() < deadline && worker.exitCode === null) {
    await sleep(1000);
    const url = /metrics on (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(worker.log)?.[1];
    if (url === undefined) continue;
    metrics = await fetch(url).then((r) => r.text(), () => '');
    served = summed(metrics, 'skewless_features_total') >= vectors && summed(metrics, 'skewless_regroup_waiting_rows') === 0;
    if (served) break;
  }
  printed.push(metrics);
  worker.kill('SIGTERM');
  assert.equal(await exited(worker), 0, `worker exits cleanly on SIGTERM: ${worker.log}`);
  printed.push(worker.log);
  assert.ok(served, `live served the ${vectors} vectors within 150 s:\n${metrics}\n${worker.log.slice(-2000)}`);

  // Parity recomputes every served vector from the source topics: all there, all equal.
  const html = join(dir, 'parity.html');
  const p = skewless(['parity', 'topologies/card-fraud.ts', '--sample', topics.parity, ...topicArgs, '--json', '--html', html]);
  assert.equal(p.status, 0, `parity holds: ${p.stderr}\n${p.stdout.slice(0, 2000)}`);
  const parity = JSON.parse(p.stdout) as ParityRunResult;
  assert.equal(parity.alert, false);
  assert.equal(parity.mismatchCount, 0);
  assert.equal(parity.sample.records, vectors, 'live served (and logged) one vector per row of the file backfill');
  assert.equal(parity.sample.matched, vectors);

  // Replay from the topics, every setting from the config file alone: the same training files as from the files.
  const kafkaOut = join(dir, 'from-kafka');
  const k = skewless(['backfill', 'topologies/card-fraud.ts', '--from-kafka', ...topicArgs, '--out', kafkaOut, '--json'], onlyConfig(stack.config));
  assert.equal(k.status, 0, k.stderr);
  const kafkaSummary = JSON.parse(k.stdout) as Summary;
  // The tier versions are records of the tasks too (a table is an input of its task's merge).
  assert.equal(kafkaSummary.counters.processed, EVENTS + data.merchantTiers);
  assert.deepEqual(kafkaSummary.counters, fileSummary.counters);
  await assertSameTraining(fileOut, kafkaOut, PARTITIONS * 2);
});

test('schemas check reaches the authenticated registry with only SKEWLESS_CONFIG set', () => {
  const r = skewless(['schemas', 'check', 'topologies/card-fraud.ts', '--json'], onlyConfig(stack.config));
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), []);
});

test('a wrong Kafka password: one line naming the setting, within seconds', () => {
  const wrong = randomUUID().replace(/-/g, '');
  wrongSecrets.push(wrong);
  const r = skewless(['backfill', 'topologies/card-fraud.ts', '--from-kafka', ...topicArgs, '--out', join(dir, 'refused')],
    onlyConfig(configWith('wrong-kafka-password.properties', { 'sasl.password': wrong })), 60_000);
  assertClearFailure(r, /SCRAM-SHA-512.*sasl\.password|sasl\.password.*SCRAM-SHA-512/, 'wrong sasl.password');
});

test('a wrong registry password: one line saying the registry refused the credentials', () => {
  const wrong = randomUUID().replace(/-/g, '');
  wrongSecrets.push(wrong);
  const r = skewless(['schemas', 'check', 'topologies/card-fraud.ts'],
    onlyConfig(configWith('wrong-registry-password.properties', { 'schema.registry.basic.auth.user.info': `skewless:${wrong}` })), 60_000);
  assertClearFailure(r, /401|authenticat|unauthori[sz]ed|credentials/i, 'wrong registry password');
  assert.match(r.stderr, /schema\.registry\.basic\.auth\.user\.info/, 'names the setting to fix');
});

test('a plaintext client against the SASL_SSL listener fails at once and points at security.protocol', () => {
  const plain = configWith('plaintext.properties', { 'security.protocol': undefined, 'sasl.mechanism': undefined, 'sasl.username': undefined, 'sasl.password': undefined, 'ssl.ca.location': undefined });
  const r = skewless(['backfill', 'topologies/card-fraud.ts', '--from-kafka', ...topicArgs, '--out', join(dir, 'plaintext')], onlyConfig(plain), 60_000);
  assertClearFailure(r, /security\.protocol/, 'PLAINTEXT client on a SASL_SSL port');
  assert.match(r.stderr, new RegExp(stack.brokers[0].replace(/\./g, '\\.')), 'names the broker');
});

test('mTLS: the client certificate is accepted; without it the listener refuses in one line', { skip: stack.mtlsConfig === undefined && 'the secured stack was started elsewhere (SECURE_SKEWLESS_CONFIG)' }, () => {
  const mtls = stack.mtlsConfig!;
  const ok = skewless(['produce', 'topologies/card-fraud.ts', '--source', 'chargebacks', '--input', data.chargebacksPath, '--topic', topics.mtls, '--partitions', '1', '--json'], onlyConfig(mtls));
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal((JSON.parse(ok.stdout) as { produced: number }).produced, data.chargebacks);

  const text = readFileSync(mtls, 'utf8').split('\n').filter((l) => !/^ssl\.(certificate\.location|key\.location|key\.password)=/.test(l));
  const noCert = join(confDir, 'mtls-without-certificate.properties');
  writeFileSync(noCert, text.join('\n'), { mode: 0o600 });
  const r = skewless(['produce', 'topologies/card-fraud.ts', '--source', 'chargebacks', '--input', data.chargebacksPath, '--topic', topics.mtlsRefused, '--partitions', '1'], onlyConfig(noCert), 60_000);
  assertClearFailure(r, /certificate/i, 'mTLS listener without a client certificate');
});

test('a registry URL with user-info authenticates and is shown with the password masked', () => {
  const userInfo = readFileSync(stack.config, 'utf8').match(/^schema\.registry\.basic\.auth\.user\.info=(.*)$/m)![1];
  const [user, password] = [userInfo.slice(0, userInfo.indexOf(':')), userInfo.slice(userInfo.indexOf(':') + 1)];
  const withUrl = (pw: string): NodeJS.ProcessEnv => ({
    ...onlyConfig(configWith(`user-info-${pw.length}.properties`, { 'schema.registry.url': undefined, 'schema.registry.basic.auth.user.info': undefined })),
    SCHEMA_REGISTRY_URL: stack.registryUrl.replace('https://', `https://${user}:${pw}@`),
  });
  const ok = skewless(['schemas', 'check', 'topologies/card-fraud.ts', '--json'], withUrl(password));
  assert.equal(ok.status, 0, ok.stderr);

  const wrong = `${randomUUID().replace(/-/g, '')}x`;
  wrongSecrets.push(wrong);
  const r = skewless(['schemas', 'check', 'topologies/card-fraud.ts'], withUrl(wrong), 60_000);
  assertClearFailure(r, /401|authenticat|unauthori[sz]ed|credentials/i, 'wrong password in the registry URL');
  assert.match(r.stderr, new RegExp(`https://${user}:\\*\\*\\*@127\\.0\\.0\\.1`), 'the URL is shown with the password masked');
});

/** Every file under `root`, recursively. */
function filesUnder(root: string): string[] {
  return readdirSync(root, { withFileTypes: true, recursive: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

test('no secret appears in anything printed or written: stdout, stderr, Parquet (data and metadata), parity log and report, state', async () => {
  const registryUserInfo = readFileSync(stack.config, 'utf8').match(/^schema\.registry\.basic\.auth\.user\.info=(.*)$/m)![1];
  // The basic-auth header value is as good as the password.
  const secrets = [...stack.secrets, Buffer.from(registryUserInfo).toString('base64'), ...wrongSecrets];
  assert.ok(stack.secrets.length >= 2, 'the Kafka and the registry password at least');
  const files = filesUnder(dir);
  assert.ok(files.some((f) => f.endsWith('.parquet')) && files.some((f) => f.endsWith('parity.html')) && files.some((f) => f.endsWith('card-fraud.ndjson')), 'the run wrote training files, a parity report and a parity log');
  assert.ok(printed.join('').length > 1000, 'the commands printed something to search');
  for (const s of secrets) {
    for (const [i, text] of printed.entries()) assert.ok(!text.includes(s), `a secret in printed output #${i}:\n${text.slice(0, 500)}`);
    for (const f of files) assert.ok(!readFileSync(f).includes(s), `a secret in ${f}`);
  }
  // The Parquet footers' key-value metadata, decoded (the byte search above covers it as stored).
  for (const out of ['from-kafka', 'from-files']) {
    for (const f of parquetFiles(join(dir, out))) {
      const meta = JSON.stringify(keyValues(readFileSync(join(dir, out, f))));
      for (const s of secrets) assert.ok(!meta.includes(s), `a secret in the metadata of ${out}/${f}`);
    }
  }
});
