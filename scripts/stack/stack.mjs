// Local Kafka (KRaft, single node) + Apicurio Registry for dev and tests, without Docker.
// Node builtins only. See README.md in this folder.
//
//   import { ensureStack } from './scripts/stack/stack.mjs';
//   const stack = await ensureStack();   // { brokers, registryUrl, startedHere, stop }
//   ...
//   await stack.stop();                  // stops only what this call started
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const env = process.env;
const int = (v, d) => (v && /^\d+$/.test(v) ? Number(v) : d);
const words = (v) => (v ? v.trim().split(/\s+/) : []);

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(HERE, '..', '..');
export const STACK_DIR = path.resolve(env.STACK_DIR || path.join(ROOT, '.stack'));
const HOST = '127.0.0.1';
export const PORTS = {
  kafka: int(env.STACK_KAFKA_PORT, 19092),
  controller: int(env.STACK_CONTROLLER_PORT, 19093),
  registry: int(env.STACK_REGISTRY_PORT, 18081),
  registryManagement: int(env.STACK_REGISTRY_MGMT_PORT, 18082),
};
const TIMEOUT_MS = int(env.STACK_TIMEOUT_MS, 180_000);
// Kafka 4.x runs on Java 17 (the machine default); Apicurio 3.3 is compiled for Java 21, so the registry
// gets the newest JDK >= 21 found (STACK_REGISTRY_JAVA, else this JAVA, else /usr/lib/jvm/*).
const JAVA = env.STACK_JAVA || (env.JAVA_HOME ? path.join(env.JAVA_HOME, 'bin', 'java') : 'java');
const REGISTRY_MIN_JAVA = 21;

const POM = path.join(HERE, 'pom.xml');
const P = {
  kafkaHome: path.join(STACK_DIR, 'kafka'),
  kafkaLibs: path.join(STACK_DIR, 'kafka', 'libs'),
  serverProps: path.join(STACK_DIR, 'kafka', 'server.properties'),
  log4j: path.join(STACK_DIR, 'kafka', 'log4j2.properties'),
  apicurioHome: path.join(STACK_DIR, 'apicurio'),
  apicurioApp: path.join(STACK_DIR, 'apicurio', 'app'),
  data: path.join(STACK_DIR, 'data'),
  kafkaData: path.join(STACK_DIR, 'data', 'kafka'),
  logs: path.join(STACK_DIR, 'logs'),
  run: path.join(STACK_DIR, 'run'),
  envJson: path.join(STACK_DIR, 'env.json'),
};
export const BROKERS = `${HOST}:${PORTS.kafka}`;
export const REGISTRY_URL = `http://${HOST}:${PORTS.registry}/apis/ccompat/v7`;

const defaultLog = (msg) => process.stderr.write(`[stack] ${msg}\n`);

// ---------------------------------------------------------------- health probes

/** Kafka Metadata v4 request over a raw socket; resolves to the broker list, rejects on any failure. */
export function probeKafka(hostPort, timeoutMs = 3000) {
  const i = hostPort.lastIndexOf(':');
  const host = hostPort.slice(0, i);
  const port = Number(hostPort.slice(i + 1));
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port });
    let buf = Buffer.alloc(0);
    const done = (err, val) => {
      clearTimeout(timer);
      sock.destroy();
      err ? reject(err) : resolve(val);
    };
    const timer = setTimeout(() => done(new Error(`kafka ${hostPort}: no metadata answer in ${timeoutMs} ms`)), timeoutMs);
    sock.on('error', (e) => done(e));
    sock.on('close', () => done(new Error(`kafka ${hostPort}: connection closed`)));
    sock.on('connect', () => {
      const clientId = Buffer.from('skewless-stack-probe');
      const hdr = Buffer.alloc(10);
      hdr.writeInt16BE(3, 0); // api key: Metadata
      hdr.writeInt16BE(4, 2); // api version 4 (non-flexible, still served by Kafka 4.x)
      hdr.writeInt32BE(7, 4); // correlation id
      hdr.writeInt16BE(clientId.length, 8);
      const body = Buffer.from([0xff, 0xff, 0xff, 0xff, 0]); // topics = null (all), allow_auto_topic_creation = false
      const size = Buffer.alloc(4);
      size.writeInt32BE(hdr.length + clientId.length + body.length);
      sock.write(Buffer.concat([size, hdr, clientId, body]));
    });
    sock.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length < 4 || buf.length < 4 + buf.readInt32BE(0)) return;
      try {
        let o = 4;
        const corr = buf.readInt32BE(o); o += 4;
        if (corr !== 7) throw new Error('bad correlation id');
        o += 4; // throttle_time_ms
        const n = buf.readInt32BE(o); o += 4;
        const brokers = [];
        for (let k = 0; k < n; k++) {
          const nodeId = buf.readInt32BE(o); o += 4;
          const hl = buf.readInt16BE(o); o += 2;
          const h = buf.toString('utf8', o, o + hl); o += hl;
          const p = buf.readInt32BE(o); o += 4;
          const rl = buf.readInt16BE(o); o += 2 + Math.max(rl, 0);
          brokers.push({ nodeId, host: h, port: p });
        }
        if (brokers.length === 0) throw new Error(`kafka ${hostPort}: metadata lists no broker yet`);
        done(null, brokers);
      } catch (e) {
        done(e);
      }
    });
  });
}

async function kafkaOk(brokers) {
  try {
    await probeKafka(brokers.split(',')[0].trim());
    return true;
  } catch {
    return false;
  }
}

async function registryOk(url) {
  try {
    const res = await fetch(`${url.replace(/\/$/, '')}/subjects`, { signal: AbortSignal.timeout(3000) });
    return res.ok && Array.isArray(await res.json());
  } catch {
    return false;
  }
}

function portTaken(port) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: HOST, port });
    sock.setTimeout(1000);
    const done = (v) => { sock.destroy(); resolve(v); };
    sock.on('connect', () => done(true));
    sock.on('error', () => done(false));
    sock.on('timeout', () => done(false));
  });
}

async function assertPortsFree(name, ports) {
  for (const port of ports) {
    if (await portTaken(port)) {
      throw new Error(`cannot start ${name}: ${HOST}:${port} is in use by another process (not a healthy ${name} of this stack); ` +
        'stop it or pick other ports with STACK_KAFKA_PORT / STACK_CONTROLLER_PORT / STACK_REGISTRY_PORT / STACK_REGISTRY_MGMT_PORT');
    }
  }
}

// ---------------------------------------------------------------- processes / pid files

const pidFile = (name) => path.join(P.run, `${name}.pid`);
const logFile = (name) => path.join(P.logs, `${name}.log`);

function readPid(name) {
  try {
    const pid = Number(fs.readFileSync(pidFile(name), 'utf8').trim());
    return pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

function alive(pid) {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // a zombie (exited, not yet reaped) counts as gone
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return true;
  }
}

/** Is pid a live process that we started for `name` (guards against pid reuse)? */
function ours(pid, name) {
  if (!pid || !alive(pid)) return false;
  try {
    const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmd.includes(name === 'kafka' ? P.serverProps : P.apicurioApp);
  } catch {
    return true; // no /proc: trust the pid file
  }
}

function tail(file, lines = 25) {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines - 1).join('\n');
  } catch {
    return '(no log)';
  }
}

function javaMajor(java) {
  const r = spawnSync(java, ['-version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const m = /version "(\d+)(?:\.(\d+))?/.exec(`${r.stderr || ''}${r.stdout || ''}`);
  if (!m) return 0;
  return m[1] === '1' ? Number(m[2]) : Number(m[1]);
}

let registryJava;
function findRegistryJava() {
  if (registryJava) return registryJava;
  if (env.STACK_REGISTRY_JAVA) return (registryJava = env.STACK_REGISTRY_JAVA);
  const candidates = [{ java: JAVA, major: javaMajor(JAVA) }];
  let dirs = [];
  try { dirs = fs.readdirSync('/usr/lib/jvm'); } catch {}
  for (const d of dirs) {
    const java = path.join('/usr/lib/jvm', d, 'bin', 'java');
    const rel = path.join('/usr/lib/jvm', d, 'release');
    if (!fs.existsSync(java) || !fs.existsSync(rel)) continue;
    const m = /JAVA_VERSION="(\d+)/.exec(fs.readFileSync(rel, 'utf8'));
    if (m) candidates.push({ java, major: Number(m[1]) });
  }
  const best = candidates.filter((c) => c.major >= REGISTRY_MIN_JAVA).sort((a, b) => b.major - a.major)[0];
  if (!best) {
    throw new Error(`Apicurio Registry needs Java ${REGISTRY_MIN_JAVA}+; none found (tried ${JAVA} and /usr/lib/jvm/*). Set STACK_REGISTRY_JAVA=/path/to/bin/java`);
  }
  return (registryJava = best.java);
}

function launch(name, java, args, cwd) {
  fs.mkdirSync(P.logs, { recursive: true });
  fs.mkdirSync(P.run, { recursive: true });
  const fd = fs.openSync(logFile(name), 'a');
  fs.writeSync(fd, `\n==== ${new Date().toISOString()} starting ${name}: ${java} ${args.join(' ')}\n`);
  const child = spawn(java, args, { cwd, detached: true, stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  child.on('error', (e) => fs.appendFileSync(logFile(name), `spawn error: ${e.message}\n`));
  child.unref();
  if (!child.pid) throw new Error(`could not start ${name} with ${java}; see ${logFile(name)}`);
  fs.writeFileSync(pidFile(name), `${child.pid}\n`);
  return child.pid;
}

async function stopService(name, log, graceMs = 30_000) {
  const pid = readPid(name);
  if (pid && ours(pid, name)) {
    log(`stopping ${name} (pid ${pid})`);
    try { process.kill(pid, 'SIGTERM'); } catch {}
    const t0 = Date.now();
    while (alive(pid) && Date.now() - t0 < graceMs) await sleep(200);
    if (alive(pid)) {
      log(`${name} did not stop in ${graceMs} ms, sending SIGKILL`);
      try { process.kill(pid, 'SIGKILL'); } catch {}
      while (alive(pid) && Date.now() - t0 < graceMs + 10_000) await sleep(100);
    }
  }
  fs.rmSync(pidFile(name), { force: true });
}

async function waitHealthy(name, check, pid, timeoutMs) {
  const t0 = Date.now();
  for (;;) {
    if (await check()) return Date.now() - t0;
    if (pid && !alive(pid)) {
      throw new Error(`${name} exited during startup; log: ${logFile(name)}\n--- last lines ---\n${tail(logFile(name))}`);
    }
    if (Date.now() - t0 > timeoutMs) {
      throw new Error(`${name} not healthy after ${timeoutMs} ms; log: ${logFile(name)}\n--- last lines ---\n${tail(logFile(name))}`);
    }
    await sleep(300);
  }
}

// ---------------------------------------------------------------- lock (one `up` at a time)

async function withLock(fn, timeoutMs) {
  fs.mkdirSync(P.run, { recursive: true });
  const lock = path.join(P.run, 'up.lock');
  const t0 = Date.now();
  for (;;) {
    try {
      fs.writeFileSync(lock, String(process.pid), { flag: 'wx' });
      break;
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
      const holder = Number(fs.readFileSync(lock, 'utf8') || 0);
      if (!holder || !alive(holder)) { fs.rmSync(lock, { force: true }); continue; }
      if (Date.now() - t0 > timeoutMs) throw new Error(`stack lock ${lock} held by pid ${holder}`);
      await sleep(250);
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(lock, { force: true });
  }
}

// ---------------------------------------------------------------- artifacts (Maven, cached)

function fetchArtifacts(which, log) {
  const pomHash = crypto.createHash('sha256').update(fs.readFileSync(POM)).digest('hex').slice(0, 16);
  const jobs = [
    { name: 'kafka', want: which.kafka, dir: P.kafkaLibs, goal: 'dependency:copy-dependencies@kafka-libs', check: () => fs.existsSync(P.kafkaLibs) },
    { name: 'apicurio', want: which.apicurio, dir: P.apicurioApp, goal: 'dependency:unpack@apicurio', check: () => fs.existsSync(path.join(P.apicurioApp, 'quarkus-run.jar')) },
  ];
  for (const j of jobs) {
    if (!j.want) continue;
    const marker = path.join(j.dir, '.fetched');
    if (fs.existsSync(marker) && fs.readFileSync(marker, 'utf8').trim() === pomHash && j.check()) continue;
    log(`fetching ${j.name} with Maven (first run only) ...`);
    const t0 = Date.now();
    fs.rmSync(j.dir, { recursive: true, force: true });
    const args = ['-q', '-B', '-f', POM, `-Dstack.dir=${STACK_DIR}`, j.goal];
    if (env.STACK_MAVEN_REPO) args.unshift(`-Dmaven.repo.local=${path.resolve(env.STACK_MAVEN_REPO)}`);
    const r = spawnSync('mvn', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
    if (r.error || r.status !== 0 || !j.check()) {
      throw new Error(`mvn ${args.join(' ')} failed (${r.error?.message ?? `exit ${r.status}`}):\n${(r.stdout || '') + (r.stderr || '')}`.slice(0, 8000));
    }
    fs.writeFileSync(marker, `${pomHash}\n`);
    log(`fetched ${j.name} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
}

// ---------------------------------------------------------------- kafka

function writeKafkaConfig() {
  fs.mkdirSync(P.kafkaHome, { recursive: true });
  fs.writeFileSync(P.serverProps, `# generated by scripts/stack/stack.mjs -- edits are overwritten on every start
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@${HOST}:${PORTS.controller}
listeners=PLAINTEXT://${HOST}:${PORTS.kafka},CONTROLLER://${HOST}:${PORTS.controller}
advertised.listeners=PLAINTEXT://${HOST}:${PORTS.kafka}
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=${P.kafkaData}
# topics must be created explicitly (partition count matters to the determinism contract)
auto.create.topics.enable=false
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=8
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
share.coordinator.state.topic.num.partitions=8
group.initial.rebalance.delay.ms=0
log.retention.hours=-1
log.segment.bytes=67108864
num.network.threads=2
num.io.threads=2
num.recovery.threads.per.data.dir=1
`);
  fs.writeFileSync(P.log4j, `status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = OUT
logger.statechange.name = state.change.logger
logger.statechange.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
`);
}

function formatKafkaStorage(log) {
  if (fs.existsSync(path.join(P.kafkaData, 'meta.properties'))) return;
  let clusterId;
  do clusterId = crypto.randomBytes(16).toString('base64url'); while (clusterId.startsWith('-'));
  log(`formatting KRaft storage in ${P.kafkaData} (cluster id ${clusterId})`);
  fs.mkdirSync(P.logs, { recursive: true });
  const r = spawnSync(JAVA, ['-Xmx256m', `-Dlog4j2.configurationFile=${P.log4j}`, '-cp', path.join(P.kafkaLibs, '*'),
    'kafka.tools.StorageTool', 'format', '--cluster-id', clusterId, '--config', P.serverProps, '--ignore-formatted'],
  { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  fs.appendFileSync(logFile('kafka-format'), `${r.stdout || ''}${r.stderr || ''}`);
  if (r.error || r.status !== 0) {
    throw new Error(`kafka storage format failed (${r.error?.message ?? `exit ${r.status}`}); log: ${logFile('kafka-format')}\n${r.stdout}${r.stderr}`);
  }
}

function startKafka(log) {
  writeKafkaConfig();
  formatKafkaStorage(log);
  log(`starting kafka on ${BROKERS} (log ${logFile('kafka')})`);
  return launch('kafka', JAVA, [
    ...words(env.STACK_KAFKA_HEAP || '-Xms256m -Xmx512m'),
    '-XX:+UseG1GC', '-XX:MaxGCPauseMillis=20', '-Djava.awt.headless=true',
    `-Dlog4j2.configurationFile=${P.log4j}`, `-Dkafka.logs.dir=${P.logs}`,
    ...words(env.STACK_KAFKA_JAVA_OPTS),
    '-cp', path.join(P.kafkaLibs, '*'), 'kafka.Kafka', P.serverProps,
  ], STACK_DIR);
}

// ---------------------------------------------------------------- apicurio

function startRegistry(log) {
  const java = findRegistryJava();
  fs.mkdirSync(path.join(STACK_DIR, 'tmp'), { recursive: true });
  log(`starting apicurio registry on http://${HOST}:${PORTS.registry} (log ${logFile('registry')})`);
  return launch('registry', java, [
    ...words(env.STACK_REGISTRY_HEAP || '-Xms64m -Xmx512m'),
    '-XX:+UseSerialGC', '-Djava.awt.headless=true',
    `-Dquarkus.http.host=${HOST}`, `-Dquarkus.http.port=${PORTS.registry}`,
    `-Dquarkus.management.host=${HOST}`, `-Dquarkus.management.port=${PORTS.registryManagement}`,
    // in-memory H2 (the default, made explicit); every registry restart starts empty
    '-Dapicurio.storage.kind=sql', '-Dapicurio.storage.sql.kind=h2',
    '-Dapicurio.datasource.jdbc.initial-size=2', '-Dapicurio.datasource.jdbc.min-size=2', '-Dapicurio.datasource.jdbc.max-size=20',
    `-Djava.io.tmpdir=${path.join(STACK_DIR, 'tmp')}`,
    `-Dapicurio.storage.snapshot.location=${path.join(STACK_DIR, 'tmp')}`, `-Dapicurio.import.work-dir=${path.join(STACK_DIR, 'tmp')}`,
    ...words(env.STACK_REGISTRY_JAVA_OPTS),
    '-jar', path.join(P.apicurioApp, 'quarkus-run.jar'),
  ], P.apicurioApp);
}

async function setGlobalCompatibility(url, level) {
  const res = await fetch(`${url}/config`, {
    method: 'PUT',
    headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
    body: JSON.stringify({ compatibility: level }),
    signal: AbortSignal.timeout(10_000),
  });
  if (!res.ok) throw new Error(`PUT ${url}/config -> ${res.status} ${await res.text()}`);
}

// ---------------------------------------------------------------- public API

/**
 * Make sure a Kafka broker and a Confluent-compatible schema registry are reachable.
 * - KAFKA_BROKERS and SCHEMA_REGISTRY_URL both set: only verifies them (throws if unreachable).
 * - otherwise uses the local stack on 127.0.0.1 (ports above), starting whatever part of it is down.
 * @param {{ log?: (msg: string) => void, timeoutMs?: number }} [opts]
 * @returns {Promise<{brokers: string, registryUrl: string, startedHere: boolean, stop: () => Promise<void>}>}
 */
export async function ensureStack(opts = {}) {
  const log = opts.log ?? defaultLog;
  const timeoutMs = opts.timeoutMs ?? TIMEOUT_MS;

  if (env.KAFKA_BROKERS && env.SCHEMA_REGISTRY_URL) {
    const brokers = env.KAFKA_BROKERS;
    const registryUrl = env.SCHEMA_REGISTRY_URL.replace(/\/$/, '');
    const [k, r] = await Promise.all([kafkaOk(brokers), registryOk(registryUrl)]);
    if (!k || !r) {
      throw new Error(`stack from the environment is not reachable: ${!k ? `KAFKA_BROKERS=${brokers} ` : ''}${!r ? `SCHEMA_REGISTRY_URL=${registryUrl}` : ''}`.trim());
    }
    return { brokers, registryUrl, startedHere: false, stop: async () => {} };
  }

  return withLock(async () => {
    const started = [];
    const stop = async () => {
      for (const name of [...started].reverse()) await stopService(name, log);
    };
    try {
      const [kUp, rUp] = await Promise.all([kafkaOk(BROKERS), registryOk(REGISTRY_URL)]);
      const kPid = readPid('kafka');
      const rPid = readPid('registry');
      const kRunning = kUp || ours(kPid, 'kafka'); // up, or ours and still starting
      const rRunning = rUp || ours(rPid, 'registry');
      if (!rRunning) findRegistryJava(); // fail before starting anything
      if (!kRunning) await assertPortsFree('kafka', [PORTS.kafka, PORTS.controller]);
      if (!rRunning) await assertPortsFree('registry', [PORTS.registry, PORTS.registryManagement]);
      if (!kRunning || !rRunning) fetchArtifacts({ kafka: !kRunning, apicurio: !rRunning }, log);
      const t0 = Date.now();
      let kafkaPid = kPid;
      let registryPid = rPid;
      if (!kRunning) { kafkaPid = startKafka(log); started.push('kafka'); }
      if (!rRunning) { registryPid = startRegistry(log); started.push('registry'); }
      await Promise.all([
        kUp ? 0 : waitHealthy('kafka', () => kafkaOk(BROKERS), kafkaPid, timeoutMs).then((ms) => log(`kafka healthy after ${(ms / 1000).toFixed(1)} s`)),
        rUp ? 0 : waitHealthy('registry', () => registryOk(REGISTRY_URL), registryPid, timeoutMs).then((ms) => log(`registry healthy after ${(ms / 1000).toFixed(1)} s`)),
      ]);
      if (started.includes('registry')) await setGlobalCompatibility(REGISTRY_URL, 'BACKWARD');
      if (started.length) log(`stack ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      fs.writeFileSync(P.envJson, `${JSON.stringify({ KAFKA_BROKERS: BROKERS, SCHEMA_REGISTRY_URL: REGISTRY_URL }, null, 2)}\n`);
      return { brokers: BROKERS, registryUrl: REGISTRY_URL, startedHere: started.length > 0, stop };
    } catch (e) {
      await stop().catch(() => {});
      throw e;
    }
  }, timeoutMs);
}

/**
 * Pid of this stack's Kafka (`'kafka'`) or registry (`'registry'`) JVM: the pid file under STACK_DIR/run,
 * checked against the process's command line (so a reused pid is never returned), or null when it is not running.
 * For fault tests that kill or pause it (test/chaos/campaign.ts).
 * @param {'kafka' | 'registry'} name
 */
export function stackPid(name) {
  const pid = readPid(name);
  return pid && ours(pid, name) ? pid : null;
}

/**
 * Start this stack's Kafka again after it died (e.g. `kill -9` in a fault test), exactly the way ensureStack()
 * starts it (same config, data, pid file and log), and wait until it is healthy. Throws when it is still
 * running or its ports are taken by something else. Resolves to the new pid.
 * @param {{ log?: (msg: string) => void, timeoutMs?: number }} [opts]
 */
export async function restartKafka(opts = {}) {
  const log = opts.log ?? defaultLog;
  const timeoutMs = opts.timeoutMs ?? TIMEOUT_MS;
  return withLock(async () => {
    const old = stackPid('kafka');
    if (old) throw new Error(`kafka of ${STACK_DIR} is still running (pid ${old}); stop it first`);
    await assertPortsFree('kafka', [PORTS.kafka, PORTS.controller]);
    const pid = startKafka(log);
    const ms = await waitHealthy('kafka', () => kafkaOk(BROKERS), pid, timeoutMs);
    log(`kafka healthy after ${(ms / 1000).toFixed(1)} s`);
    return pid;
  }, timeoutMs);
}

/** Stop the local stack started from this checkout (pid files under .stack/run). `wipe` also deletes data and logs. */
export async function stopStack({ wipe = false, log = defaultLog } = {}) {
  await stopService('registry', log);
  await stopService('kafka', log);
  fs.rmSync(P.envJson, { force: true });
  if (wipe) {
    for (const d of [P.data, P.logs, path.join(STACK_DIR, 'tmp')]) fs.rmSync(d, { recursive: true, force: true });
    log(`wiped ${P.data} and ${P.logs}`);
  }
}
