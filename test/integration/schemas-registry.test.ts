/**
 * `schemas check` / `schemas register` / `deploy` against the real local registry (Apicurio,
 * scripts/stack). Subjects and topics carry a per-run id, so runs never see each other's
 * versions. Expected verdicts are written by hand from the Avro resolution rules.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { SchemaRegistryClient } from '../../src/io/avro/registry-client.js';
import { RegistryCompatibilityClient } from '../../src/io/avro/registry-compatibility.js';
import type { AvroSchemaJson } from '../../src/schemas/avro-model.js';
import type { CompatibilityLevel } from '../../src/schemas/compatibility-level.js';
import { checkSubject } from '../../src/schemas/registry-check.js';
import { CONFORMANCE_CASES } from '../fixtures/avro-conformance-cases.js';
import { stackForTests } from '../helpers/stack.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'skewless.mjs');
const RUN = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
const stack = await stackForTests();

type Field = { name: string; type: unknown; default?: unknown };
const record = (fields: Field[]): AvroSchemaJson => ({ type: 'record', name: 'Event', fields } as AvroSchemaJson);
const A: Field = { name: 'a', type: 'int' };
const B_NO_DEFAULT: Field = { name: 'b', type: 'int' };
const B_DEFAULT: Field = { name: 'b', type: 'int', default: 0 };

const client = new RegistryCompatibilityClient(stack.registryUrl);
const registry = await SchemaRegistryClient.open(stack.registryUrl);

/** A fresh subject holding `versions` (registered under NONE, so any history is allowed), then set to `level`. */
async function subjectWith(name: string, versions: AvroSchemaJson[], level: CompatibilityLevel): Promise<string> {
  const subject = `sk-${RUN}-${name}-value`;
  for (const [i, v] of versions.entries()) {
    await registry.register(subject, v as object);
    if (i === 0) await client.setSubjectLevel(subject, 'NONE');
  }
  await client.setSubjectLevel(subject, level);
  return subject;
}

async function verdict(subject: string, schema: AvroSchemaJson): Promise<{ registry: boolean | undefined; rules: string[] }> {
  const r = await checkSubject(client, { subject, role: 'source', name: 'e', topic: subject.replace(/-value$/, ''), schema, origin: 'test.avsc' });
  return { registry: r.registryCompatible, rules: r.problems.map((p) => `v${p.version} ${p.direction ?? '-'} ${p.path}: ${p.rule}`) };
}

// level → [compatible change, incompatible change and the problem the local rules list] over v1 {a:int}.
const MATRIX: ReadonlyArray<readonly [CompatibilityLevel, Field[], Field[] | null, string | null]> = [
  ['BACKWARD', [A, B_DEFAULT], [A, B_NO_DEFAULT], 'v1 backward b: field-added-without-default'],
  ['BACKWARD_TRANSITIVE', [A, B_DEFAULT], [A, B_NO_DEFAULT], 'v1 backward b: field-added-without-default'],
  // The old schema reads new data: extra fields are skipped, a dropped field needs a default in the old one.
  ['FORWARD', [A, B_NO_DEFAULT], [B_DEFAULT], 'v1 forward a: field-removed-without-default'],
  ['FORWARD_TRANSITIVE', [A, B_NO_DEFAULT], [B_DEFAULT], 'v1 forward a: field-removed-without-default'],
  ['FULL', [A, B_DEFAULT], [A, B_NO_DEFAULT], 'v1 backward b: field-added-without-default'],
  ['FULL_TRANSITIVE', [A, B_DEFAULT], [{ name: 'a', type: 'string' }], 'v1 backward a: type-changed'],
  // NONE checks nothing: even a type change passes.
  ['NONE', [{ name: 'a', type: 'string' }], null, null],
];

for (const [level, compatible, incompatible, rule] of MATRIX) {
  test(`${level}: a compatible change passes, an incompatible one is listed with path and rule`, async () => {
    const ok = await subjectWith(`${level.toLowerCase()}-ok`, [record([A])], level);
    const good = await verdict(ok, record(compatible));
    assert.deepEqual(good.rules, []);
    assert.equal(good.registry, level === 'NONE' ? undefined : true, 'the registry agrees');
    if (!incompatible || !rule) return;
    const bad = await verdict(ok, record(incompatible));
    assert.equal(bad.registry, false, 'the registry refuses');
    assert.ok(bad.rules.includes(rule), `${rule} in ${bad.rules.join('; ')}`);
  });
}

test('a transitive level catches a change compatible with the latest version but not an older one', async () => {
  const history = [record([A]), record([A, B_DEFAULT])];
  const next = record([A, B_NO_DEFAULT]); // reads v2 data (b present), not v1 data (b missing, no default)
  const plain = await subjectWith('plain', history, 'BACKWARD');
  const transitive = await subjectWith('transitive', history, 'BACKWARD_TRANSITIVE');
  assert.deepEqual(await verdict(plain, next), { registry: true, rules: [] });
  assert.deepEqual(await verdict(transitive, next), { registry: false, rules: ['v1 backward b: field-added-without-default'] });

  const fwdPlain = await subjectWith('fwd-plain', [record([A, B_NO_DEFAULT]), record([A, B_DEFAULT])], 'FORWARD');
  const fwdTransitive = await subjectWith('fwd-transitive', [record([A, B_NO_DEFAULT]), record([A, B_DEFAULT])], 'FORWARD_TRANSITIVE');
  const dropB = record([A]); // v2 reads it (b has a default there); v1 cannot (b without default)
  assert.deepEqual(await verdict(fwdPlain, dropB), { registry: true, rules: [] });
  assert.deepEqual(await verdict(fwdTransitive, dropB), { registry: false, rules: ['v1 forward b: field-removed-without-default'] });
});

test('a subject the registry does not hold is new: nothing to check', async () => {
  const r = await checkSubject(client, { subject: `sk-${RUN}-absent-value`, role: 'source', name: 'e', topic: 'x', schema: record([A]), origin: 'x.avsc' });
  assert.deepEqual(r.versions, []);
  assert.equal(r.registryCompatible, undefined);
  assert.deepEqual(r.problems, []);
  assert.equal(r.levelFrom, 'global');
});

test('the Avro conformance cases: the registry (Avro Java) and the local rules give the same verdict on every one', async () => {
  const disagreements: string[] = [];
  for (const [i, c] of CONFORMANCE_CASES.entries()) {
    const subject = await subjectWith(`conf${i}`, [c.writer], 'BACKWARD');
    const v = await verdict(subject, c.reader);
    if (v.registry !== c.compatible) disagreements.push(`${c.name}: the registry says ${String(v.registry)}, the case ${c.compatible}`);
    if ((v.rules.length === 0) !== c.compatible) disagreements.push(`${c.name}: local rules ${JSON.stringify(v.rules)}`);
  }
  assert.deepEqual(disagreements, []);
});

// ---- the commands, in a child process, on a small inline topology -------------------------

function skewless(args: string[], cwd = ROOT): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', timeout: 120_000, env: stack.env });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function workspace(t: { after: (fn: () => void) => void }, name: string): { dir: string; topic: string; output: string; write: (fields: Field[], window?: string) => string } {
  const dir = mkdtempSync(join(tmpdir(), 'skewless-schemas-registry-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
  const dsl = pathToFileURL(join(ROOT, 'src', 'dsl', 'index.js')).href;
  const topic = `sk-${RUN}-${name}-events`;
  const output = `sk-${RUN}-${name}-features`;
  const write = (fields: Field[], window = '1h'): string => {
    writeFileSync(join(dir, 'event.avsc'), JSON.stringify({ type: 'record', name: 'Event', fields: [{ name: 'k', type: 'string' }, { name: 'at', type: 'long' }, ...fields] }));
    const file = join(dir, 'topo.ts');
    writeFileSync(
      file,
      `import { topology } from '${dsl}';\n` +
        `export default topology('sk-${name}', (t) => {\n` +
        `  const s = t.source<{ k: string; at: number }>('events', { topic: '${topic}', schema: './event.avsc', key: (e) => e.k, eventTime: (e) => e.at });\n` +
        `  const g = s.groupBy('k', (e) => e.k);\n` +
        `  s.features('f', { n: g.lookback('${window}').count() }, { topic: '${output}' });\n` +
        `  return {};\n` +
        `});\n`,
    );
    return file;
  };
  return { dir, topic, output, write };
}

test('schemas check and register: new subjects register; an incompatible change is listed, exit 1, and register refuses it', async (t) => {
  const w = workspace(t, 'reg');
  const topo = w.write([]);
  const first = skewless(['schemas', 'check', topo]);
  assert.equal(first.status, 0, first.stderr);
  assert.match(first.stderr, new RegExp(`new: ${w.topic}-value, ${w.output}-value`));

  const reg = skewless(['schemas', 'register', topo]);
  assert.equal(reg.status, 0, reg.stderr);
  assert.match(reg.stdout, new RegExp(`^${w.topic}-value id \\d+ registered$`, 'm'));
  assert.match(reg.stdout, new RegExp(`^${w.output}-value id \\d+ registered$`, 'm'));
  assert.deepEqual(await client.versions(`${w.topic}-value`), [1]);

  // Global level is BACKWARD: a new field without a default cannot read v1's records.
  w.write([{ name: 'amount', type: 'double' }]);
  const bad = skewless(['schemas', 'check', topo]);
  assert.equal(bad.status, 1, bad.stderr);
  assert.match(bad.stdout, new RegExp(`^${w.topic}-value v1 amount: field-added-without-default — .*; fix: `, 'm'));
  const json = skewless(['schemas', 'check', topo, '--json']);
  assert.equal(json.status, 1);
  const findings = JSON.parse(json.stdout) as Array<{ subject: string; version: string; path: string; rule: string }>;
  assert.deepEqual(findings.map((f) => [f.subject, f.version, f.path, f.rule]), [[`${w.topic}-value`, '1', 'amount', 'field-added-without-default']]);

  const refused = skewless(['schemas', 'register', topo]);
  assert.equal(refused.status, 1, refused.stderr);
  assert.match(refused.stderr, /refused, nothing registered/);
  assert.deepEqual(await client.versions(`${w.topic}-value`), [1], 'nothing registered');

  w.write([{ name: 'amount', type: 'double', default: 0 }]);
  const fixed = skewless(['schemas', 'register', topo]);
  assert.equal(fixed.status, 0, fixed.stdout + fixed.stderr);
  assert.deepEqual(await client.versions(`${w.topic}-value`), [1, 2]);
});

/** Every file under dir with its size and content hash, to show a run changed nothing. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string): void => {
    for (const e of readdirSync(d)) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else out[p.slice(dir.length)] = createHash('sha256').update(readFileSync(p)).digest('hex');
    }
  };
  walk(dir);
  return out;
}

test('deploy --dry-run on state of another topology version: the change list, the two ways forward, exit 1, nothing changed', async (t) => {
  const w = workspace(t, 'deploy');
  const topo = w.write([], '1h');
  const input = join(w.dir, 'events.ndjson');
  writeFileSync(input, [0, 1, 2].map((i) => JSON.stringify({ k: 'a', at: Date.UTC(2024, 0, 1) + i * 60_000 })).join('\n') + '\n');
  const state = join(w.dir, 'state');
  const bf = skewless(['backfill', topo, '--input', `events=${input}`, '--out', join(w.dir, 'out'), '--state', state, '--workers', '1', '--json']);
  assert.equal(bf.status, 0, bf.stderr);

  const same = skewless(['deploy', topo, '--state', state, '--dry-run']);
  assert.equal(same.status, 0, same.stdout + same.stderr);
  assert.match(same.stdout, /hold state of this version/);
  assert.match(same.stdout, new RegExp(`would register ${w.topic}-value \\(new subject\\)`));

  w.write([], '2h');
  const before = snapshot(state);
  const r = skewless(['deploy', topo, '--state', state, '--dry-run']);
  assert.equal(r.status, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /hold state of another version/);
  assert.match(r.stdout, /changed: outputs\.f\.features\.n\.window: "1h" → "2h"/);
  assert.match(r.stdout, /skewless bootstrap into a new --state dir/);
  assert.match(r.stdout, /shadow deploy/);
  assert.match(r.stdout, /nothing was changed/);
  assert.deepEqual(snapshot(state), before, 'the state directory is untouched');
  assert.deepEqual(await client.versions(`${w.topic}-value`), [], 'nothing registered');

  const real = skewless(['deploy', topo, '--state', state]);
  assert.equal(real.status, 1, 'a real deploy stops at the same gate');
  assert.deepEqual(await client.versions(`${w.topic}-value`), [], 'still nothing registered');
});

test('check, register and deploy count the same problems; a problem two topology files find is listed once; deploy --dry-run says unchanged for registered subjects', async (t) => {
  const w = workspace(t, 'count');
  const dsl = pathToFileURL(join(ROOT, 'src', 'dsl', 'index.js')).href;
  const writeSchema = (fields: Field[]): void =>
    writeFileSync(join(w.dir, 'event.avsc'), JSON.stringify({ type: 'record', name: 'Event', fields: [{ name: 'k', type: 'string' }, { name: 'at', type: 'long' }, ...fields] }));
  const topologyFile = (file: string): string => {
    writeFileSync(
      join(w.dir, file),
      `import { topology } from '${dsl}';\n` +
        `export default topology('sk-count', (t) => {\n` +
        `  const s = t.source<{ k: string; at: number; amount: number }>('events', { topic: '${w.topic}', schema: './event.avsc', key: (e) => e.k, eventTime: (e) => e.at });\n` +
        `  const g = s.groupBy('k', (e) => e.k);\n` +
        `  s.features('f', { total: g.lookback('1h').sum((e) => e.amount) }, { topic: '${w.output}' });\n` +
        `  return {};\n` +
        `});\n`,
    );
    return join(w.dir, file);
  };
  writeSchema([{ name: 'amount', type: 'double' }]);
  const topo = topologyFile('topo.ts');
  assert.equal(skewless(['schemas', 'register', topo]).status, 0);

  // Registered and unchanged: the dry run says so instead of "would register".
  const same = skewless(['deploy', topo, '--dry-run']);
  assert.equal(same.status, 0, same.stdout + same.stderr);
  assert.match(same.stdout, new RegExp(`^  unchanged ${w.topic}-value \\(already registered as v1\\)$`, 'm'));
  assert.match(same.stdout, new RegExp(`^  unchanged ${w.output}-value \\(already registered as v1\\)$`, 'm'));
  assert.doesNotMatch(same.stdout, /would register/);

  // amount double → string (type-changed; the sum reads a string) and currency without default;
  // a variant of the topology under the same name reads the same source.
  writeSchema([{ name: 'amount', type: 'string' }, { name: 'currency', type: 'string' }]);
  const variant = topologyFile('topo-variant.ts');
  const check = skewless(['schemas', 'check', topo, variant]);
  assert.equal(check.status, 1, check.stderr);
  const lines = check.stdout.trim().split('\n');
  assert.equal(lines.filter((l) => l.includes('topology-field-not-numeric')).length, 1, check.stdout);
  assert.equal(lines.length, 3, check.stdout);
  assert.match(check.stderr, /; 3 problem\(s\)/);
  const register = skewless(['schemas', 'register', topo, variant]);
  assert.equal(register.status, 1);
  assert.match(register.stderr, /refused, nothing registered: 3 problem\(s\)/);
  const deploy = skewless(['deploy', topo, '--dry-run']);
  assert.equal(deploy.status, 1);
  assert.match(deploy.stdout, /1\. schemas check: 2 subject\(s\), 3 problem\(s\)/);
  assert.deepEqual(await client.versions(`${w.topic}-value`), [1], 'nothing registered');
});
