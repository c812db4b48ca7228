// Local Kafka (KRaft, single node) + Apicurio Registry for dev and tests, without Docker.
// Node builtins only. See README.md in this folder.
//
//   import { ensureStack } from './scripts/stack/stack.mjs';
//   const stack = await ensureStack();   // { brokers, registryUrl, startedHere, stop }
//   ...
//   await stack.stop();                  // stops only what this call started
//
// `ensureStack({ secure: true })` runs the secured variant beside it (own ports and directory):
// SASL_SSL with SCRAM-SHA-512 and an mTLS listener on the broker, TLS and basic auth on the registry.
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { generateSecureSetup, kafkaSecuritySettings, readSecureSetup, scramFormatArgs, securePaths } from './secure-setup.mjs';

const env = process.env;
const int = (v, d) => (v && /^\d+$/.test(v) ? Number(v) : d);
const words = (v) => (v ? v.trim().split(/\s+/) : []);

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(HERE, '..', '..');
const HOST = '127.0.0.1';
const TIMEOUT_MS = int(env.STACK_TIMEOUT_MS, 180_000);
// Kafka 4.x runs on Java 17 (the machine default); Apicurio 3.3 is compiled for Java 21, so the registry
// gets the newest JDK >= 21 found (STACK_REGISTRY_JAVA, else this JAVA, else /usr/lib/jvm/*).
const JAVA = env.STACK_JAVA || (env.JAVA_HOME ? path.join(env.JAVA_HOME, 'bin', 'java') : 'java');
const REGISTRY_MIN_JAVA = 21;
const POM = path.join(HERE, 'pom.xml');

const DEFAULT_PORTS = {
  plain: { kafka: 19092, controller: 19093, registry: 18081, registryManagement: 18082 },
  // Below Linux's ephemeral range (32768–60999): a client connection's local port there made the broker fail to bind.
  secure: { kafka: 29092, controller: 29093, internal: 29094, mtls: 29095, registry: 28081, registryManagement: 28082 },
};

/**
 * Where a stack lives and listens. The plain one in `<repo>/.stack`; the secured one in
 * `<repo>/.stack/secure`, sharing the plain one's downloaded jars unless STACK_DIR says otherwise.
 * STACK_DIR and STACK_*_PORT configure whichever of the two is started.
 */
export function stackLayout({ secure = false, env: e = env } = {}) {
  const dir = path.resolve(e.STACK_DIR || path.join(ROOT, '.stack', ...(secure ? ['secure'] : [])));
  const artifacts = secure && !e.STACK_DIR ? path.join(ROOT, '.stack') : dir;
  const d = secure ? DEFAULT_PORTS.secure : DEFAULT_PORTS.plain;
  const ports = {
    kafka: int(e.STACK_KAFKA_PORT, d.kafka),
    controller: int(e.STACK_CONTROLLER_PORT, d.controller),
    registry: int(e.STACK_REGISTRY_PORT, d.registry),
    registryManagement: int(e.STACK_REGISTRY_MGMT_PORT, d.registryManagement),
    ...(secure ? { internal: int(e.STACK_KAFKA_INTERNAL_PORT, d.internal), mtls: int(e.STACK_KAFKA_MTLS_PORT, d.mtls) } : {}),
  };
  return {
    secure,
    name: secure ? 'secured stack' : 'stack',
    host: HOST,
    dir,
    ports,
    brokers: `${HOST}:${ports.kafka}`,
    registryUrl: `${secure ? 'https' : 'http'}://${HOST}:${ports.registry}/apis/ccompat/v7`,
    paths: {
      kafkaHome: path.join(dir, 'kafka'),
      kafkaLibs: path.join(artifacts, 'kafka', 'libs'),
      serverProps: path.join(dir, 'kafka', 'server.properties'),
      log4j: path.join(dir, 'kafka', 'log4j2.properties'),
      apicurioApp: path.join(artifacts, 'apicurio', 'app'),
      artifacts,
      data: path.join(dir, 'data'),
      kafkaData: path.join(dir, 'data', 'kafka'),
      logs: path.join(dir, 'logs'),
      run: path.join(dir, 'run'),
      tmp: path.join(dir, 'tmp'),
      envJson: path.join(dir, 'env.json'),
    },
  };
}

const PLAIN = stackLayout();
export const STACK_DIR = PLAIN.dir;
export const PORTS = PLAIN.ports;
export const BROKERS = PLAIN.brokers;
export const REGISTRY_URL = PLAIN.registryUrl;

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
    // code ETIMEDOUT: the broker took the connection (or never completed it) and stayed silent, as a paused one does.
    const timer = setTimeout(() => done(Object.assign(new Error(`kafka ${hostPort}: no metadata answer in ${timeoutMs} ms`), { code: 'ETIMEDOUT' })), timeoutMs);
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

/** Does a TLS server at host:port present a certificate for that host that `caFile` signed? */
function tlsOk(hostPort, caFile, timeoutMs = 3000) {
  const i = hostPort.lastIndexOf(':');
  return new Promise((resolve) => {
    let ca;
    try { ca = fs.readFileSync(caFile); } catch { resolve(false); return; }
    const sock = tls.connect({ host: hostPort.slice(0, i), port: Number(hostPort.slice(i + 1)), ca, timeout: timeoutMs });
    const done = (v) => { sock.destroy(); resolve(v); };
    sock.on('secureConnect', () => done(sock.authorized));
    sock.on('error', () => done(false));
    sock.on('timeout', () => done(false));
  });
}

/** One registry call; `auth` adds TLS trust and basic auth for the secured registry. */
function registryRequest(url, { method = 'GET', body, auth } = {}, timeoutMs = 10_000) {
  const u = new URL(url);
  const headers = { accept: 'application/json', ...(body ? { 'content-type': 'application/vnd.schemaregistry.v1+json' } : {}) };
  if (auth) headers.authorization = auth.registryAuth;
  const lib = u.protocol === 'https:' ? https : http;
  const options = { method, headers, timeout: timeoutMs, ...(auth?.registryCa ? { ca: fs.readFileSync(auth.registryCa) } : {}) };
  return new Promise((resolve, reject) => {
    const req = lib.request(u, options, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (s) => (text += s));
      res.on('end', () => resolve({ status: res.statusCode, text }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url}: no answer in ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

async function registryOk(url, auth) {
  try {
    const res = await registryRequest(`${url.replace(/\/$/, '')}/subjects`, { auth }, 3000);
    return res.status === 200 && Array.isArray(JSON.parse(res.text));
  } catch {
    return false;
  }
}

/**
 * The secured broker is probed on its PLAINTEXT inter-broker listener (the probe speaks no SASL),
 * and its SASL_SSL listener must present a certificate of this setup's CA.
 */
async function layoutKafkaOk(L, setup) {
  if (!L.secure) return kafkaOk(L.brokers);
  return (await kafkaOk(`${L.host}:${L.ports.internal}`)) && (await tlsOk(L.brokers, setup.ca));
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

async function assertPortsFree(L, name, ports) {
  for (const port of ports) {
    if (await portTaken(port)) {
      throw new Error(`cannot start ${name} of the ${L.name}: ${HOST}:${port} is in use by another process (not a healthy ${name} of this stack); ` +
        'stop it or pick other ports with STACK_KAFKA_PORT / STACK_CONTROLLER_PORT / STACK_REGISTRY_PORT / STACK_REGISTRY_MGMT_PORT' +
        (L.secure ? ' / STACK_KAFKA_INTERNAL_PORT / STACK_KAFKA_MTLS_PORT' : ''));
    }
  }
}

const kafkaPorts = (L) => [L.ports.kafka, L.ports.controller, ...(L.secure ? [L.ports.internal, L.ports.mtls] : [])];
const registryPorts = (L) => [L.ports.registry, L.ports.registryManagement];

// ---------------------------------------------------------------- processes / pid files

const pidFile = (L, name) => path.join(L.paths.run, `${name}.pid`);
const logFile = (L, name) => path.join(L.paths.logs, `${name}.log`);

function readPid(L, name) {
  try {
    const pid = Number(fs.readFileSync(pidFile(L, name), 'utf8').trim());
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

/**
 * Is pid a live process that we started for `name` of this stack (guards against pid reuse)? Both
 * stacks run the same jars, so the argument that tells them apart is one naming this stack's directory.
 */
function ours(L, pid, name) {
  if (!pid || !alive(pid)) return false;
  try {
    const args = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return args.includes(name === 'kafka' ? L.paths.serverProps : `-Djava.io.tmpdir=${L.paths.tmp}`);
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

function launch(L, name, java, args, cwd) {
  fs.mkdirSync(L.paths.logs, { recursive: true });
  fs.mkdirSync(L.paths.run, { recursive: true });
  const fd = fs.openSync(logFile(L, name), 'a');
  fs.writeSync(fd, `\n==== ${new Date().toISOString()} starting ${name}: ${java} ${args.join(' ')}\n`);
  const child = spawn(java, args, { cwd, detached: true, stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  child.on('error', (e) => fs.appendFileSync(logFile(L, name), `spawn error: ${e.message}\n`));
  child.unref();
  if (!child.pid) throw new Error(`could not start ${name} with ${java}; see ${logFile(L, name)}`);
  fs.writeFileSync(pidFile(L, name), `${child.pid}\n`);
  return child.pid;
}

async function stopService(L, name, log, graceMs = 30_000) {
  const pid = readPid(L, name);
  if (pid && ours(L, pid, name)) {
    log(`stopping ${name} of the ${L.name} (pid ${pid})`);
    try { process.kill(pid, 'SIGTERM'); } catch {}
    const t0 = Date.now();
    while (alive(pid) && Date.now() - t0 < graceMs) await sleep(200);
    if (alive(pid)) {
      log(`${name} did not stop in ${graceMs} ms, sending SIGKILL`);
      try { process.kill(pid, 'SIGKILL'); } catch {}
      while (alive(pid) && Date.now() - t0 < graceMs + 10_000) await sleep(100);
    }
  }
  fs.rmSync(pidFile(L, name), { force: true });
}

async function waitHealthy(L, name, check, pid, timeoutMs) {
  const t0 = Date.now();
  for (;;) {
    if (await check()) return Date.now() - t0;
    if (pid && !alive(pid)) {
      throw new Error(`${name} exited during startup; log: ${logFile(L, name)}\n--- last lines ---\n${tail(logFile(L, name))}`);
    }
    if (Date.now() - t0 > timeoutMs) {
      throw new Error(`${name} not healthy after ${timeoutMs} ms; log: ${logFile(L, name)}\n--- last lines ---\n${tail(logFile(L, name))}`);
    }
    await sleep(300);
  }
}

// ---------------------------------------------------------------- lock (one `up` at a time)

async function withLock(L, fn, timeoutMs) {
  fs.mkdirSync(L.paths.run, { recursive: true });
  const lock = path.join(L.paths.run, 'up.lock');
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

function fetchArtifacts(L, which, log) {
  const P = L.paths;
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
    const args = ['-q', '-B', '-f', POM, `-Dstack.dir=${P.artifacts}`, j.goal];
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

/**
 * The plain stack has one PLAINTEXT listener. The secured one serves clients on SASL_SSL and on
 * MTLS (SSL with a required client certificate); broker-internal traffic and the stack's health
 * probe use INTERNAL, PLAINTEXT on 127.0.0.1, which is never handed to clients.
 */
function listenerSettings(L) {
  const p = L.ports;
  if (!L.secure) {
    return `listeners=PLAINTEXT://${HOST}:${p.kafka},CONTROLLER://${HOST}:${p.controller}
advertised.listeners=PLAINTEXT://${HOST}:${p.kafka}
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT`;
  }
  return `listeners=SASL_SSL://${HOST}:${p.kafka},MTLS://${HOST}:${p.mtls},INTERNAL://${HOST}:${p.internal},CONTROLLER://${HOST}:${p.controller}
advertised.listeners=SASL_SSL://${HOST}:${p.kafka},MTLS://${HOST}:${p.mtls},INTERNAL://${HOST}:${p.internal}
listener.security.protocol.map=SASL_SSL:SASL_SSL,MTLS:SSL,INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=INTERNAL
${kafkaSecuritySettings(L)}`;
}

function writeKafkaConfig(L) {
  const P = L.paths;
  fs.mkdirSync(P.kafkaHome, { recursive: true });
  fs.writeFileSync(P.serverProps, `# generated by scripts/stack/stack.mjs -- edits are overwritten on every start
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@${HOST}:${L.ports.controller}
${listenerSettings(L)}
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

function formatKafkaStorage(L, log, extraArgs) {
  const P = L.paths;
  if (fs.existsSync(path.join(P.kafkaData, 'meta.properties'))) return;
  let clusterId;
  do clusterId = crypto.randomBytes(16).toString('base64url'); while (clusterId.startsWith('-'));
  log(`formatting KRaft storage in ${P.kafkaData} (cluster id ${clusterId})`);
  fs.mkdirSync(P.logs, { recursive: true });
  const r = spawnSync(JAVA, ['-Xmx256m', `-Dlog4j2.configurationFile=${P.log4j}`, '-cp', path.join(P.kafkaLibs, '*'),
    'kafka.tools.StorageTool', 'format', '--cluster-id', clusterId, '--config', P.serverProps, '--ignore-formatted', ...extraArgs],
  { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  fs.appendFileSync(logFile(L, 'kafka-format'), `${r.stdout || ''}${r.stderr || ''}`);
  if (r.error || r.status !== 0) {
    throw new Error(`kafka storage format failed (${r.error?.message ?? `exit ${r.status}`}); log: ${logFile(L, 'kafka-format')}\n${r.stdout}${r.stderr}`);
  }
}

/** `setup` (the secured stack's secrets) is required when L.secure: the SCRAM user is created at format time. */
function startKafka(L, log, setup) {
  writeKafkaConfig(L);
  formatKafkaStorage(L, log, L.secure ? scramFormatArgs(setup.kafkaPassword) : []);
  log(`starting kafka on ${L.brokers}${L.secure ? ' (SASL_SSL)' : ''} (log ${logFile(L, 'kafka')})`);
  return launch(L, 'kafka', JAVA, [
    ...words(env.STACK_KAFKA_HEAP || '-Xms256m -Xmx512m'),
    '-XX:+UseG1GC', '-XX:MaxGCPauseMillis=20', '-Djava.awt.headless=true',
    `-Dlog4j2.configurationFile=${L.paths.log4j}`, `-Dkafka.logs.dir=${L.paths.logs}`,
    ...words(env.STACK_KAFKA_JAVA_OPTS),
    '-cp', path.join(L.paths.kafkaLibs, '*'), 'kafka.Kafka', L.paths.serverProps,
  ], L.dir);
}

/** Where this stack's (plain) broker keeps its logs (log.dirs). */
export function kafkaDataDir() {
  return PLAIN.paths.kafkaData;
}

/**
 * Run one of Kafka's command-line tools against this stack's (plain) broker, as its shell script
 * would (e.g. `org.apache.kafka.tools.TransactionsCommand` for kafka-transactions.sh).
 * Resolves to its standard output; rejects with its output when it exits non-zero.
 * @param {string} mainClass
 * @param {readonly string[]} args after `--bootstrap-server <brokers>`
 * @returns {Promise<string>}
 */
export function runKafkaTool(mainClass, args) {
  const L = PLAIN;
  // The tool's own log at WARN, to stderr: its standard output is its answer.
  const log4j = path.join(L.paths.kafkaHome, 'tools-log4j2.properties');
  fs.mkdirSync(L.paths.kafkaHome, { recursive: true });
  fs.writeFileSync(log4j, 'status = warn\nappender.err.type = Console\nappender.err.name = ERR\nappender.err.target = SYSTEM_ERR\nappender.err.layout.type = PatternLayout\nappender.err.layout.pattern = %p %m%n\nrootLogger.level = WARN\nrootLogger.appenderRef.err.ref = ERR\n');
  return new Promise((resolve, reject) => {
    const child = spawn(JAVA, ['-Xmx256m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', `-Dlog4j2.configurationFile=${log4j}`, '-cp', path.join(L.paths.kafkaLibs, '*'), mainClass, '--bootstrap-server', L.brokers, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${mainClass} ${args.join(' ')} exited ${code}:\n${out}${err}`))));
  });
}

// ---------------------------------------------------------------- apicurio

/**
 * The secured registry serves HTTPS only, with basic auth on every path; those settings (and the
 * password) are in config/application.properties of its working directory, where Quarkus reads them.
 */
function startRegistry(L, log) {
  const java = findRegistryJava();
  const tmp = L.paths.tmp;
  fs.mkdirSync(tmp, { recursive: true });
  log(`starting apicurio registry on ${L.registryUrl.replace(/\/apis\/.*/, '')} (log ${logFile(L, 'registry')})`);
  return launch(L, 'registry', java, [
    ...words(env.STACK_REGISTRY_HEAP || '-Xms64m -Xmx512m'),
    '-XX:+UseSerialGC', '-Djava.awt.headless=true',
    `-Dquarkus.http.host=${HOST}`, `-Dquarkus.http.${L.secure ? 'ssl-port' : 'port'}=${L.ports.registry}`,
    `-Dquarkus.management.host=${HOST}`, `-Dquarkus.management.port=${L.ports.registryManagement}`,
    // in-memory H2 (the default, made explicit); every registry restart starts empty
    '-Dapicurio.storage.kind=sql', '-Dapicurio.storage.sql.kind=h2',
    '-Dapicurio.datasource.jdbc.initial-size=2', '-Dapicurio.datasource.jdbc.min-size=2', '-Dapicurio.datasource.jdbc.max-size=20',
    `-Djava.io.tmpdir=${tmp}`,
    `-Dapicurio.storage.snapshot.location=${tmp}`, `-Dapicurio.import.work-dir=${tmp}`,
    ...words(env.STACK_REGISTRY_JAVA_OPTS),
    '-jar', path.join(L.paths.apicurioApp, 'quarkus-run.jar'),
  ], L.secure ? securePaths(L.dir).registryHome : L.paths.apicurioApp);
}

async function setGlobalCompatibility(url, level, auth) {
  const res = await registryRequest(`${url}/config`, { method: 'PUT', body: JSON.stringify({ compatibility: level }), auth });
  if (res.status !== 200) throw new Error(`PUT ${url}/config -> ${res.status} ${res.text}`);
}

// ---------------------------------------------------------------- public API

/** Reuse a stack someone else started and named in the environment: check it answers, start nothing. */
async function stackFromEnv(L) {
  if (L.secure) {
    const setup = readSecureSetup(L, path.resolve(env.SECURE_SKEWLESS_CONFIG));
    const [k, r] = await Promise.all([tlsOk(setup.brokers.split(',')[0], setup.ca), registryOk(setup.registryUrl, setup)]);
    if (!k || !r) {
      throw new Error(`secured stack of SECURE_SKEWLESS_CONFIG=${setup.config} is not reachable: ${!k ? `no TLS broker of its CA at ${setup.brokers} ` : ''}${!r ? `registry ${setup.registryUrl} does not answer` : ''}`.trim());
    }
    return { brokers: setup.brokers, registryUrl: setup.registryUrl, config: setup.config, startedHere: false, stop: async () => {} };
  }
  const brokers = env.KAFKA_BROKERS;
  const registryUrl = env.SCHEMA_REGISTRY_URL.replace(/\/$/, '');
  const [k, r] = await Promise.all([kafkaOk(brokers), registryOk(registryUrl)]);
  if (!k || !r) {
    throw new Error(`stack from the environment is not reachable: ${!k ? `KAFKA_BROKERS=${brokers} ` : ''}${!r ? `SCHEMA_REGISTRY_URL=${registryUrl}` : ''}`.trim());
  }
  return { brokers, registryUrl, startedHere: false, stop: async () => {} };
}

/**
 * The secured stack's secrets: new ones when nothing of it runs (the broker's data is wiped, since
 * its SCRAM user was made with the old password), else the ones the running part was started with.
 */
function secureSetupFor(L, anyRunning, log) {
  if (anyRunning) return readSecureSetup(L);
  log(`generating certificates and passwords in ${L.dir}`);
  fs.rmSync(L.paths.kafkaData, { recursive: true, force: true });
  return generateSecureSetup(L);
}

/**
 * Make sure a Kafka broker and a Confluent-compatible schema registry are reachable.
 * - KAFKA_BROKERS and SCHEMA_REGISTRY_URL both set (secure: SECURE_SKEWLESS_CONFIG): only verifies them (throws if unreachable).
 * - otherwise uses the local stack on 127.0.0.1 (ports above), starting whatever part of it is down.
 * With `secure`, the result also names the client configuration file (`config`, for SKEWLESS_CONFIG)
 * and, when this checkout runs that stack, the one for the mTLS listener (`mtlsConfig`).
 * @param {{ log?: (msg: string) => void, timeoutMs?: number, secure?: boolean, env?: NodeJS.ProcessEnv }} [opts]
 *   `env` (default process.env) gives STACK_DIR and STACK_*_PORT
 * @returns {Promise<{brokers: string, registryUrl: string, config?: string, mtlsConfig?: string, startedHere: boolean, stop: () => Promise<void>}>}
 */
export async function ensureStack(opts = {}) {
  const log = opts.log ?? defaultLog;
  const timeoutMs = opts.timeoutMs ?? TIMEOUT_MS;
  const L = stackLayout({ secure: opts.secure === true, env: opts.env });

  if (L.secure ? env.SECURE_SKEWLESS_CONFIG : env.KAFKA_BROKERS && env.SCHEMA_REGISTRY_URL) return stackFromEnv(L);

  return withLock(L, async () => {
    const started = [];
    const stop = async () => {
      for (const name of [...started].reverse()) await stopService(L, name, log);
    };
    try {
      const kPid = readPid(L, 'kafka');
      const rPid = readPid(L, 'registry');
      const kOurs = ours(L, kPid, 'kafka');
      const rOurs = ours(L, rPid, 'registry');
      // Secrets of a running part, read before probing it (the probes need its CA and password).
      let setup = L.secure && (kOurs || rOurs) ? readSecureSetup(L) : undefined;
      const [kUp, rUp] = await Promise.all([layoutKafkaOk(L, setup ?? {}), registryOk(L.registryUrl, setup)]);
      const kRunning = kUp || kOurs; // up, or ours and still starting
      const rRunning = rUp || rOurs;
      if (!rRunning) findRegistryJava(); // fail before starting anything
      if (!kRunning) await assertPortsFree(L, 'kafka', kafkaPorts(L));
      if (!rRunning) await assertPortsFree(L, 'registry', registryPorts(L));
      if (!kRunning || !rRunning) fetchArtifacts(L, { kafka: !kRunning, apicurio: !rRunning }, log);
      if (L.secure) setup ??= secureSetupFor(L, kRunning || rRunning, log);
      const t0 = Date.now();
      let kafkaPid = kPid;
      let registryPid = rPid;
      if (!kRunning) { kafkaPid = startKafka(L, log, setup); started.push('kafka'); }
      if (!rRunning) { registryPid = startRegistry(L, log); started.push('registry'); }
      await Promise.all([
        kUp ? 0 : waitHealthy(L, 'kafka', () => layoutKafkaOk(L, setup), kafkaPid, timeoutMs).then((ms) => log(`kafka healthy after ${(ms / 1000).toFixed(1)} s`)),
        rUp ? 0 : waitHealthy(L, 'registry', () => registryOk(L.registryUrl, setup), registryPid, timeoutMs).then((ms) => log(`registry healthy after ${(ms / 1000).toFixed(1)} s`)),
      ]);
      if (started.includes('registry')) await setGlobalCompatibility(L.registryUrl, 'BACKWARD', setup);
      if (started.length) log(`${L.name} ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      const found = { brokers: L.brokers, registryUrl: L.registryUrl, ...(setup ? { config: setup.config, mtlsConfig: securePaths(L.dir).mtlsConfig } : {}) };
      fs.writeFileSync(L.paths.envJson, `${JSON.stringify(envLine(found), null, 2)}\n`);
      return { ...found, startedHere: started.length > 0, stop };
    } catch (e) {
      await stop().catch(() => {});
      throw e;
    }
  }, timeoutMs);
}

/** The variables a shell or a child process needs for a stack: the endpoints, and for the secured one SKEWLESS_CONFIG. */
export function envLine(stack) {
  return { KAFKA_BROKERS: stack.brokers, SCHEMA_REGISTRY_URL: stack.registryUrl, ...(stack.config ? { SKEWLESS_CONFIG: stack.config } : {}) };
}

/**
 * Pid of this stack's Kafka (`'kafka'`) or registry (`'registry'`) JVM: the pid file under STACK_DIR/run,
 * checked against the process's command line (so a reused pid is never returned), or null when it is not running.
 * For fault tests that kill or pause it (test/chaos/campaign.ts).
 * @param {'kafka' | 'registry'} name
 */
export function stackPid(name) {
  const pid = readPid(PLAIN, name);
  return pid && ours(PLAIN, pid, name) ? pid : null;
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
  return withLock(PLAIN, async () => {
    const old = stackPid('kafka');
    if (old) throw new Error(`kafka of ${PLAIN.dir} is still running (pid ${old}); stop it first`);
    await assertPortsFree(PLAIN, 'kafka', kafkaPorts(PLAIN));
    const pid = startKafka(PLAIN, log);
    const ms = await waitHealthy(PLAIN, 'kafka', () => kafkaOk(PLAIN.brokers), pid, timeoutMs);
    log(`kafka healthy after ${(ms / 1000).toFixed(1)} s`);
    return pid;
  }, timeoutMs);
}

/**
 * Stop the local stack started from this checkout (pid files under its run/), the secured one with
 * `secure`. `wipe` also deletes data and logs (and the secured stack's secrets).
 */
export async function stopStack({ wipe = false, log = defaultLog, secure = false, env: e } = {}) {
  const L = stackLayout({ secure, env: e });
  const P = L.paths;
  await stopService(L, 'registry', log);
  await stopService(L, 'kafka', log);
  fs.rmSync(P.envJson, { force: true });
  if (wipe) {
    const s = securePaths(L.dir);
    const secrets = L.secure ? [s.tls, s.clientConfig, s.mtlsConfig, s.registryHome] : [];
    for (const d of [P.data, P.logs, P.tmp, ...secrets]) fs.rmSync(d, { recursive: true, force: true });
    log(`wiped ${P.data} and ${P.logs}${L.secure ? ' and the secrets' : ''}`);
  }
}
