/**
 * `schemas check --offline --against <ref>`: the working tree's schemas against the same files
 * at a git ref, in a temporary git repository; and the command's output and exit codes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { formatFinding, registrySchemasCheck, schemasCheck, schemasRegister, versionLabel, type SchemasCheckFinding } from '../../src/cli/schemas-command.js';
import { checkAgainstLevel } from '../../src/schemas/compatibility-level.js';
import { gitRepoRoot, readSchemaAtRef, resolveGitRef, schemaVersionsAtRefs } from '../../src/schemas/git-ref-schemas.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function git(cwd: string, ...args: string[]): string {
  const r = spawnSync('git', ['-c', 'core.hooksPath=/dev/null', '-c', 'commit.gpgsign=false', ...args], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, GIT_AUTHOR_NAME: 'test', GIT_AUTHOR_EMAIL: 'test@example.com', GIT_COMMITTER_NAME: 'test', GIT_COMMITTER_EMAIL: 'test@example.com' },
  });
  assert.equal(r.status, 0, `git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

const V1 = {
  type: 'record',
  name: 'Payment',
  namespace: 'com.acme',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'account', type: 'string' },
    { name: 'amount', type: 'double' },
    { name: 'at', type: { type: 'long', logicalType: 'timestamp-millis' } },
  ],
};

const TOPOLOGY = `
import { topology } from ${JSON.stringify(pathToFileURL(join(ROOT, 'src/dsl/index.js')).href)};
interface Payment { id: string; account: string; amount: number; at: number }
export default topology('payments', (t) => {
  const payments = t.source<Payment>('payments', { schema: '../schemas/payment.avsc', key: (p) => p.account, eventTime: (p) => p.at });
  const account = payments.groupBy('account', (p) => p.account);
  const features = payments.features('features', { amount_sum_1h: account.lookback('1h').sum((p) => p.amount) });
  return { features };
});
`;

/** A repository with the schema and a topology committed (tagged v1), cleaned up after the test. */
function repo(t: { after: (fn: () => void) => void }): { dir: string; schema: string; topology: string } {
  const dir = mkdtempSync(join(tmpdir(), 'skewless-schemas-git-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'schemas'));
  mkdirSync(join(dir, 'topologies'));
  const schema = join(dir, 'schemas', 'payment.avsc');
  const topology = join(dir, 'topologies', 'payments.ts');
  writeFileSync(schema, JSON.stringify(V1, null, 2));
  writeFileSync(topology, TOPOLOGY);
  git(dir, 'init', '-q');
  git(dir, 'add', '.');
  git(dir, 'commit', '-q', '-m', 'v1');
  git(dir, 'tag', 'v1');
  return { dir, schema, topology };
}

const writeSchema = (file: string, fields: unknown[]): void => writeFileSync(file, JSON.stringify({ ...V1, fields }, null, 2));
const brief = (fs: readonly SchemasCheckFinding[]): string[] => fs.map((f) => `${f.subject} ${versionLabel(f)}${f.kind === 'compatibility' ? ` ${f.direction}` : ''} ${f.path}: ${f.rule}`);

test('git refs: the file at HEAD, null for a file new since the ref, errors for unknown refs and outside git', (t) => {
  const { dir, schema } = repo(t);
  assert.equal(gitRepoRoot(schema), gitRepoRoot(dir));
  writeSchema(schema, [...V1.fields, { name: 'note', type: 'string' }]);
  assert.deepEqual(readSchemaAtRef(schema, 'HEAD'), V1, 'the committed version, not the working tree');
  const added = join(dir, 'schemas', 'refund.avsc');
  writeFileSync(added, JSON.stringify({ type: 'record', name: 'Refund', fields: [] }));
  assert.equal(readSchemaAtRef(added, 'HEAD'), null, 'a new schema file: nothing to compare');
  assert.deepEqual(schemaVersionsAtRefs(added, ['v1', 'HEAD']), []);
  assert.throws(() => resolveGitRef('no-such-branch', gitRepoRoot(dir)), /--against no-such-branch: unknown git ref/);
  const outside = mkdtempSync(join(tmpdir(), 'skewless-schemas-nogit-'));
  t.after(() => rmSync(outside, { recursive: true, force: true }));
  assert.throws(() => gitRepoRoot(outside), /not in a git repository/);

  // Compare the modified working tree with HEAD.
  const versions = schemaVersionsAtRefs(schema, ['HEAD']);
  assert.deepEqual(versions.map((v) => v.version), ['HEAD']);
  const ps = checkAgainstLevel(JSON.parse(readFileSync(schema, 'utf8')), versions, 'BACKWARD');
  assert.deepEqual(ps.map((p) => `${p.version} ${p.path}: ${p.rule}`), ['HEAD note: field-added-without-default']);
});

test('schemasCheck against HEAD: schema problems and topology field problems, all at once', async (t) => {
  const { dir, schema, topology } = repo(t);
  // Clean at first.
  const clean = await schemasCheck([topology], { offline: true }, dir);
  assert.deepEqual(clean.findings, []);
  assert.deepEqual(clean.subjects, [{ subject: 'payments-value', schema: join('schemas', 'payment.avsc'), versions: ['HEAD'] }]);
  assert.deepEqual(clean.topologies, ['payments']);

  // amount: double → string (not a promotion, and the topology sums it); account dropped (the topology
  // reads it); currency added without default.
  writeSchema(schema, [
    { name: 'id', type: 'string' },
    { name: 'amount', type: 'string' },
    { name: 'at', type: { type: 'long', logicalType: 'timestamp-millis' } },
    { name: 'currency', type: 'string' },
  ]);
  const r = await schemasCheck([topology], { offline: true, against: ['HEAD'], level: 'FULL' }, dir);
  assert.deepEqual(brief(r.findings), [
    'payments-value HEAD backward amount: type-changed',
    'payments-value HEAD backward currency: field-added-without-default',
    'payments-value HEAD forward account: field-removed-without-default',
    'payments-value HEAD forward amount: type-changed',
    'payments-value local payments.account: topology-field-missing',
    'payments-value local payments.amount: topology-field-not-numeric',
  ]);
  const line = formatFinding(r.findings[1]);
  assert.match(line, /^payments-value HEAD currency: field-added-without-default — .+; fix: add a default to "currency"/);
  assert.match(formatFinding(r.findings[4]), /^payments-value local payments\.account: topology-field-missing — topology payments: /);

  // NONE skips the compatibility check, never the topology check.
  const none = await schemasCheck([topology], { offline: true, level: 'none' }, dir);
  assert.deepEqual(brief(none.findings), ['payments-value local payments.account: topology-field-missing', 'payments-value local payments.amount: topology-field-not-numeric']);

  // Usage errors.
  await assert.rejects(schemasCheck([topology], {}, dir), /pass --offline/);
  await assert.rejects(schemasCheck([topology], { offline: true, level: 'SOMETIMES' }, dir), /unknown compatibility level/);
  await assert.rejects(schemasCheck([topology], { offline: true, against: ['nope'] }, dir), /unknown git ref/);
});

test('transitive levels across several refs: compatible with HEAD, not with the older tag', async (t) => {
  const { dir, schema, topology } = repo(t);
  // v2: adds `channel` with a default.
  writeSchema(schema, [...V1.fields, { name: 'channel', type: 'string', default: 'web' }]);
  git(dir, 'commit', '-q', '-am', 'v2');
  // Working tree: `channel` required. v2 data has it; v1 data does not.
  writeSchema(schema, [...V1.fields, { name: 'channel', type: 'string' }]);
  const latest = await schemasCheck([topology], { offline: true, against: ['v1', 'HEAD'], level: 'BACKWARD' }, dir);
  assert.deepEqual(latest.findings, []);
  const transitive = await schemasCheck([topology], { offline: true, against: ['v1', 'HEAD'], level: 'BACKWARD_TRANSITIVE' }, dir);
  assert.deepEqual(brief(transitive.findings), ['payments-value v1 backward channel: field-added-without-default']);
});

test('git refs are labelled as written (v1, release/one, never vv1), and a problem two topology files find is listed once', async (t) => {
  const { dir, schema, topology } = repo(t);
  git(dir, 'branch', 'release/one');
  // A variant of the topology under the same topology name reads the same source.
  const variant = join(dir, 'topologies', 'payments-variant.ts');
  writeFileSync(variant, TOPOLOGY);
  writeSchema(schema, [V1.fields[0], V1.fields[1], { name: 'amount', type: 'string' }, V1.fields[3]]);
  const r = await schemasCheck([topology, variant], { offline: true, against: ['v1', 'release/one'], level: 'BACKWARD_TRANSITIVE' }, dir);
  assert.deepEqual(r.topologies, ['payments', 'payments']);
  assert.deepEqual(brief(r.findings), [
    'payments-value v1 backward amount: type-changed',
    'payments-value release/one backward amount: type-changed',
    'payments-value local payments.amount: topology-field-not-numeric',
  ]);
  assert.match(formatFinding(r.findings[0]), /^payments-value v1 amount: type-changed — /);
  assert.match(formatFinding(r.findings[1]), /^payments-value release\/one amount: type-changed — /);
  // Registry versions keep their v prefix.
  assert.equal(formatFinding({ ...r.findings[0], version: '3', versionKind: 'registry' }).split(' ')[1], 'v3');
});

test('the command: one line per problem and exit 1; --json; exit 0 when clean; exit 2 on usage errors', (t) => {
  const { dir, schema } = repo(t);
  // The command as main.ts will register it, run in a child process from the repo (so `commander` resolves).
  const runner = `
    import { Command } from 'commander';
    import { registerSchemasCommand } from ${JSON.stringify(pathToFileURL(join(ROOT, 'src/cli/schemas-command.ts')).href)};
    const program = new Command().name('skewless').option('--verbose');
    registerSchemasCommand(program);
    process.chdir(process.env.SCHEMAS_CWD);
    try { await program.parseAsync(process.argv.slice(1), { from: 'user' }); }
    catch (e) { process.stderr.write('skewless: ' + e.message + '\\n'); process.exitCode = 2; }
  `;
  const run = (...args: string[]): { status: number | null; stdout: string; stderr: string } => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', runner, '--', ...args], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, SCHEMAS_CWD: dir },
      timeout: 60_000,
    });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  const ok = run('schemas', 'check', 'topologies/payments.ts', '--offline');
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(ok.stdout, '');
  assert.match(ok.stderr, /1 subject\(s\) of 1 topology, no problems/);

  writeSchema(schema, [...V1.fields.filter((f) => f.name !== 'account'), { name: 'currency', type: 'string' }]);
  const bad = run('schemas', 'check', 'topologies/payments.ts', '--offline', '--against', 'HEAD');
  assert.equal(bad.status, 1, bad.stderr);
  const lines = bad.stdout.trim().split('\n');
  assert.equal(lines.length, 2, bad.stdout);
  assert.match(lines[0], /^payments-value HEAD currency: field-added-without-default — .*; fix: /);
  assert.match(lines[1], /^payments-value local payments\.account: topology-field-missing — /);

  const json = run('schemas', 'check', 'topologies/payments.ts', '--offline', '--json', '--level', 'FULL');
  assert.equal(json.status, 1);
  const parsed = JSON.parse(json.stdout) as SchemasCheckFinding[];
  assert.deepEqual(
    parsed.map((f) => [f.subject, f.version, f.direction ?? null, f.path, f.rule]),
    [
      ['payments-value', 'HEAD', 'backward', 'currency', 'field-added-without-default'],
      ['payments-value', 'HEAD', 'forward', 'account', 'field-removed-without-default'],
      ['payments-value', 'local', null, 'payments.account', 'topology-field-missing'],
    ],
  );

  for (const args of [['schemas', 'check', '--offline'], ['schemas', 'check', 'topologies/payments.ts', '--level', 'FULL'], ['schemas', 'check', '--offline', '--level', 'SIDEWAYS'], ['schemas', 'check', '--offline', '--bogus'], ['schemas', 'check', '--offline', '--against', 'nope']]) {
    const r = run(...args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    const errLines = r.stderr.trim().split('\n');
    assert.equal(errLines.length, 1, r.stderr);
    assert.match(errLines[0], /^skewless: /);
  }
});

test('topology files are code: schemas check and register load only the files named, and name none by default', async (t) => {
  const { dir, topology } = repo(t);
  // Another file in topologies/ that does something when imported.
  const marker = join(dir, 'imported.txt');
  writeFileSync(join(dir, 'topologies', 'other.ts'), `import { writeFileSync } from 'node:fs';\nwriteFileSync(${JSON.stringify(marker)}, 'ran');\nexport default {};\n`);
  const r = await schemasCheck([topology], { offline: true }, dir);
  assert.deepEqual(r.topologies, ['payments']);
  const named = /name the topology files, e\.g\. `skewless schemas (check|register) topologies\/card-fraud\.ts`.*only the files named are loaded, since a topology file is code$/;
  await assert.rejects(schemasCheck([], { offline: true }, dir), named);
  await assert.rejects(registrySchemasCheck([], { registry: 'http://127.0.0.1:9' }, dir), named);
  await assert.rejects(schemasRegister([], { registry: 'http://127.0.0.1:9' }, dir), named);
  assert.equal(existsSync(marker), false, 'a topology file that was not named was loaded');
});
