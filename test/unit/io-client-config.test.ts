/**
 * The connection configuration (src/io/client-config.ts): the properties file format, the
 * precedence of flags, environment and file, validation with one-line errors naming the
 * setting and where it was set, PEM files read once, registry credentials from URL user-info,
 * the permission warning, and secrets registered with the redactor. Expected values are
 * written out by hand from the spec (README, "Production").
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveClientConfig, type ClientConfigFlags } from '../../src/io/client-config.js';
import { parseProperties } from '../../src/io/properties-file.js';
import { redactSecrets } from '../../src/io/secret-redaction.js';

const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'skewless-config-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A config file with `lines`, mode 600 unless given. */
function configFile(dir: string, lines: readonly string[], mode = 0o600, name = 'client.properties'): string {
  const path = join(dir, name);
  writeFileSync(path, `${lines.join('\n')}\n`);
  chmodSync(path, mode);
  return path;
}

const resolve = (flags: ClientConfigFlags, env: NodeJS.ProcessEnv = {}) => resolveClientConfig(flags, env);

/** The message of what `fn` throws. */
function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return (e as Error).message;
  }
  assert.fail('expected an error');
}

test('properties files: comments, blank lines, whitespace around "=", values kept literally; errors name file:line, never the line', () => {
  const text = '# comment\r\n! also a comment\n\n  bootstrap.servers = a:1 , b:2  \nsasl.password=p=w#not-a-comment\nssl.ca.location=C:\\certs\\ca.pem\n';
  assert.deepEqual(parseProperties(text, 'f.properties'), [
    { key: 'bootstrap.servers', value: 'a:1 , b:2', line: 4 },
    { key: 'sasl.password', value: 'p=w#not-a-comment', line: 5 },
    { key: 'ssl.ca.location', value: 'C:\\certs\\ca.pem', line: 6 },
  ]);
  const noEquals = errorOf(() => parseProperties('security.protocol=SSL\nsasl.password hunter2\n', 'f.properties'));
  assert.equal(noEquals, 'f.properties:2: expected key=value (e.g. security.protocol=SASL_SSL)');
  assert.equal(errorOf(() => parseProperties('sasl.username=a\n\nsasl.username=b\n', 'f.properties')), 'f.properties:3: sasl.username is already set on line 1; keep one of the two');
});

test('an unknown key is an error naming file:line and the nearest known key', (t) => {
  const dir = tempDir(t);
  const file = configFile(dir, ['bootstrap.servers=h:1', 'sasl.pasword=x']);
  assert.equal(errorOf(() => resolve({ config: file })), `${file}:2: unknown key "sasl.pasword"; did you mean sasl.password? (the keys are listed in the README, "Production")`);
  const file2 = configFile(dir, ['schema.registry.basic.auth.userinfo=a:b'], 0o600, 'b.properties');
  assert.match(errorOf(() => resolve({ config: file2 })), /:1: unknown key "schema\.registry\.basic\.auth\.userinfo"; did you mean schema\.registry\.basic\.auth\.user\.info\?/);
  assert.equal(errorOf(() => resolve({ config: join(dir, 'missing.properties') })), `--config ${join(dir, 'missing.properties')}: no such file`);
  assert.equal(errorOf(() => resolve({}, { SKEWLESS_CONFIG: join(dir, 'nope') })), `SKEWLESS_CONFIG=${join(dir, 'nope')}: no such file`);
});

test('precedence: flags over environment over the config file over defaults', (t) => {
  const dir = tempDir(t);
  const file = configFile(dir, ['bootstrap.servers=file:1', 'schema.registry.url=http://file:8081']);
  const env = { KAFKA_BROKERS: 'env:2', SCHEMA_REGISTRY_URL: 'http://env:8081', SKEWLESS_CONFIG: file };
  const flags = { brokers: 'flag:3', registry: 'http://flag:8081/' };
  assert.deepEqual([resolve(flags, env).brokers, resolve(flags, env).registryUrl], [['flag:3'], 'http://flag:8081']);
  assert.deepEqual([resolve({}, env).brokers, resolve({}, env).registryUrl], [['env:2'], 'http://env:8081']);
  assert.deepEqual([resolve({}, { SKEWLESS_CONFIG: file }).brokers, resolve({}, { SKEWLESS_CONFIG: file }).registryUrl], [['file:1'], 'http://file:8081']);
  // --config wins over SKEWLESS_CONFIG.
  const other = configFile(dir, ['bootstrap.servers=other:4'], 0o600, 'other.properties');
  assert.deepEqual(resolve({ config: other }, { SKEWLESS_CONFIG: file }).brokers, ['other:4']);
  // Defaults: nothing configured, plaintext, no registry auth.
  const none = resolve({});
  assert.equal(none.brokers, undefined);
  assert.equal(none.registryUrl, undefined);
  assert.deepEqual(none.security, { kafka: { protocol: 'PLAINTEXT' }, registry: {} });
  // Every key also from SKEWLESS_<KEY>; the old names agree with the new ones or it is an error.
  assert.deepEqual(resolve({}, { SKEWLESS_BOOTSTRAP_SERVERS: 'x:1', KAFKA_BROKERS: 'x:1' }).brokers, ['x:1']);
  assert.equal(errorOf(() => resolve({}, { SKEWLESS_BOOTSTRAP_SERVERS: 'x:1', KAFKA_BROKERS: 'y:1' })), 'KAFKA_BROKERS and SKEWLESS_BOOTSTRAP_SERVERS are both set, to different values: unset one');
  assert.equal(errorOf(() => resolve({}, { SKEWLESS_SASL_PASWORD: 'x' })), 'unknown environment variable SKEWLESS_SASL_PASWORD; did you mean SKEWLESS_SASL_PASSWORD?');
  // The environment overrides single keys of the file.
  const sasl = configFile(dir, ['security.protocol=SASL_PLAINTEXT', 'sasl.mechanism=PLAIN', 'sasl.username=alice', 'sasl.password=from-file-pw'], 0o600, 'sasl.properties');
  const fromEnv = resolve({ config: sasl }, { SKEWLESS_SASL_MECHANISM: 'scram-sha-256', SKEWLESS_SASL_PASSWORD: 'from-env-pw' }).security.kafka;
  assert.deepEqual(fromEnv, { protocol: 'SASL_PLAINTEXT', sasl: { mechanism: 'SCRAM-SHA-256', username: 'alice', password: 'from-env-pw', source: `${sasl} and SKEWLESS_SASL_PASSWORD` } });
});

test('--brokers PROTOCOL://host:port sets security.protocol unless it conflicts with the configured one', (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'ca.pem'), PEM);
  const sasl = ['sasl.mechanism=SCRAM-SHA-512', 'sasl.username=svc', 'sasl.password=pw-prefix-test', 'ssl.ca.location=ca.pem'];
  const file = configFile(dir, sasl);
  const c = resolve({ config: file, brokers: 'SASL_SSL://h1:9093, sasl_ssl://h2:9093' });
  assert.deepEqual(c.brokers, ['h1:9093', 'h2:9093']);
  assert.equal(c.security.kafka.protocol, 'SASL_SSL');
  assert.equal(c.security.kafka.tls?.ca, PEM);
  // Agreeing with the file is fine; disagreeing is one line naming both.
  const ssl = configFile(dir, ['security.protocol=SSL'], 0o600, 'ssl.properties');
  assert.equal(resolve({ config: ssl, brokers: 'SSL://h:1' }).security.kafka.protocol, 'SSL');
  assert.equal(errorOf(() => resolve({ config: ssl, brokers: 'SASL_SSL://h:1' })), `--brokers names SASL_SSL, but security.protocol is SSL (${ssl}:1): make them agree`);
  assert.equal(errorOf(() => resolve({ brokers: 'SSL://a:1,SASL_SSL://b:2' })), '--brokers: the brokers name two protocols, SSL and SASL_SSL: use one');
  assert.equal(errorOf(() => resolve({ brokers: 'TLS://a:1' })), 'security.protocol=TLS (--brokers): expected one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL');
  assert.equal(errorOf(() => resolve({}, { KAFKA_BROKERS: 'a:1,b' })), 'KAFKA_BROKERS: bad Kafka broker address "b": expected host:port (e.g. 127.0.0.1:19092)');
});

test('validation: SASL needs mechanism, user and password; SASL or SSL keys without the protocol are errors', (t) => {
  const dir = tempDir(t);
  const missing = configFile(dir, ['security.protocol=SASL_SSL', 'sasl.username=alice']);
  assert.equal(
    errorOf(() => resolve({ config: missing })),
    `security.protocol SASL_SSL (${missing}:1) needs sasl.mechanism (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512), sasl.username and sasl.password; missing: sasl.mechanism, sasl.password (set them in the config file or as SKEWLESS_SASL_MECHANISM, SKEWLESS_SASL_PASSWORD)`,
  );
  const forgot = configFile(dir, ['sasl.mechanism=PLAIN', 'sasl.username=alice', 'sasl.password=pw-forgot'], 0o600, 'forgot.properties');
  assert.equal(errorOf(() => resolve({ config: forgot })), `sasl.mechanism is set (${forgot}:1) but security.protocol is PLAINTEXT (the default): set security.protocol=SASL_SSL (or SASL_PLAINTEXT), or remove sasl.mechanism`);
  assert.equal(
    errorOf(() => resolve({}, { SKEWLESS_SECURITY_PROTOCOL: 'SASL_PLAINTEXT', SKEWLESS_SASL_MECHANISM: 'PLAIN', SKEWLESS_SASL_USERNAME: 'a', SKEWLESS_SASL_PASSWORD: 'b', SKEWLESS_SSL_CA_LOCATION: '/x.pem' })),
    'ssl.ca.location is set (SKEWLESS_SSL_CA_LOCATION) but security.protocol is SASL_PLAINTEXT (SKEWLESS_SECURITY_PROTOCOL): set security.protocol=SASL_SSL, or remove ssl.ca.location',
  );
  assert.equal(errorOf(() => resolve({}, { SKEWLESS_SECURITY_PROTOCOL: 'SASL_SSL', SKEWLESS_SASL_MECHANISM: 'GSSAPI', SKEWLESS_SASL_USERNAME: 'a', SKEWLESS_SASL_PASSWORD: 'b' })), 'sasl.mechanism=GSSAPI (SKEWLESS_SASL_MECHANISM): expected one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512');
});

test('TLS files: PEM read once, paths relative to the config file, client certificate and key together, host name check on unless "none"', (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'tls'));
  writeFileSync(join(dir, 'tls', 'ca.pem'), PEM);
  writeFileSync(join(dir, 'tls', 'client.pem'), PEM.replace('MIIB', 'CERT'));
  writeFileSync(join(dir, 'tls', 'client.key'), '-----BEGIN ENCRYPTED PRIVATE KEY-----\nKEY\n-----END ENCRYPTED PRIVATE KEY-----\n');
  writeFileSync(join(dir, 'tls', 'store.jks'), Buffer.from([0xfe, 0xed, 0xfe, 0xed, 0, 0, 0, 2]));
  const file = configFile(dir, ['security.protocol=SSL', 'ssl.ca.location=tls/ca.pem', 'ssl.certificate.location=tls/client.pem', 'ssl.key.location=tls/client.key', 'ssl.key.password=pw-tls-key', 'ssl.endpoint.identification.algorithm=none']);
  const c = resolve({ config: file }).security.kafka;
  assert.deepEqual(c, {
    protocol: 'SSL',
    tls: { ca: PEM, cert: PEM.replace('MIIB', 'CERT'), key: '-----BEGIN ENCRYPTED PRIVATE KEY-----\nKEY\n-----END ENCRYPTED PRIVATE KEY-----\n', keyPassword: 'pw-tls-key', verifyHostname: false },
  });
  assert.deepEqual(resolve({}, { SKEWLESS_SECURITY_PROTOCOL: 'SSL' }).security.kafka, { protocol: 'SSL', tls: { verifyHostname: true } });
  const half = configFile(dir, ['security.protocol=SSL', 'ssl.certificate.location=tls/client.pem'], 0o600, 'half.properties');
  assert.equal(errorOf(() => resolve({ config: half })), `ssl.certificate.location is set (${half}:2) without ssl.key.location: a client certificate needs both (PEM files)`);
  const jks = configFile(dir, ['security.protocol=SSL', 'ssl.ca.location=tls/store.jks'], 0o600, 'jks.properties');
  assert.equal(errorOf(() => resolve({ config: jks })), `ssl.ca.location=tls/store.jks (${jks}:2): not a PEM file (no "-----BEGIN" line); convert a JKS or PKCS#12 store to PEM with keytool or openssl`);
  assert.equal(errorOf(() => resolve({}, { SKEWLESS_SECURITY_PROTOCOL: 'SSL', SKEWLESS_SSL_CA_LOCATION: join(dir, 'none.pem') })), `ssl.ca.location=${join(dir, 'none.pem')} (SKEWLESS_SSL_CA_LOCATION): no such file`);
  const registry = configFile(dir, ['schema.registry.url=http://r:8081', 'schema.registry.ssl.ca.location=tls/ca.pem'], 0o600, 'reg.properties');
  assert.equal(errorOf(() => resolve({ config: registry })), `schema.registry.ssl.* is set but the registry URL http://r:8081 (${registry}:1) is not https`);
  const https = configFile(dir, ['schema.registry.url=https://r:8081/ccompat/', 'schema.registry.ssl.ca.location=tls/ca.pem'], 0o600, 'https.properties');
  assert.deepEqual(resolve({ config: https }).security.registry, { tls: { ca: PEM, verifyHostname: true } });
});

test('registry credentials: URL user-info becomes basic auth and leaves the URL; never from a flag; one source or the same credentials', (t) => {
  const dir = tempDir(t);
  const c = resolve({}, { SCHEMA_REGISTRY_URL: 'https://alice:s3cr%40t-url@registry.example:8081/apis/ccompat/v7/' });
  assert.equal(c.registryUrl, 'https://registry.example:8081/apis/ccompat/v7');
  assert.deepEqual(c.security.registry.auth, { username: 'alice', password: 's3cr@t-url', source: 'the user-info of the registry URL in SCHEMA_REGISTRY_URL' });
  const info = resolve({ registry: 'https://r:1' }, { SKEWLESS_SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO: 'bob:pw:with:colons' });
  assert.deepEqual(info.security.registry.auth, { username: 'bob', password: 'pw:with:colons', source: 'schema.registry.basic.auth.user.info in SKEWLESS_SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO' });

  const onFlag = errorOf(() => resolve({ registry: 'https://alice:flag-secret-1@r:1' }));
  assert.equal(
    onFlag,
    '--registry: the URL carries credentials, and a command line is visible to every user of the machine: put them in the config file (schema.registry.basic.auth.user.info=user:password) or SKEWLESS_SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO',
  );
  const file = configFile(dir, ['schema.registry.basic.auth.user.info=alice:other-pw'], 0o600);
  assert.match(errorOf(() => resolve({ config: file }, { SCHEMA_REGISTRY_URL: 'https://alice:url-pw@r:1' })), /^the user-info of the registry URL in SCHEMA_REGISTRY_URL and schema\.registry\.basic\.auth\.user\.info in .*client\.properties name different credentials: keep one$/);
  assert.equal(resolve({ config: file }, { SCHEMA_REGISTRY_URL: 'https://alice:other-pw@r:1' }).security.registry.auth?.password, 'other-pw');
  assert.equal(errorOf(() => resolve({}, { SKEWLESS_SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO: 'no-colon-secret' })), 'schema.registry.basic.auth.user.info (SKEWLESS_SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO): expected user:password');
  assert.equal(errorOf(() => resolve({}, { SCHEMA_REGISTRY_URL: 'ftp://r:1' })), 'bad schema registry URL "ftp://r:1" (SCHEMA_REGISTRY_URL): expected http(s)://host:port/path');
});

test('secrets are registered with the redactor, and no error message quotes one', (t) => {
  const dir = tempDir(t);
  const secrets = { sasl: 'Sasl-Secret-7f3a', key: 'Key-Secret-91bc', info: 'Info-Secret-2d4e', url: 'Url-Secret-c81f' };
  resolve({}, {
    SKEWLESS_SECURITY_PROTOCOL: 'SASL_SSL',
    SKEWLESS_SASL_MECHANISM: 'PLAIN',
    SKEWLESS_SASL_USERNAME: 'u',
    SKEWLESS_SASL_PASSWORD: secrets.sasl,
    SKEWLESS_SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO: `u:${secrets.info}`,
  });
  assert.throws(() => resolve({}, { SKEWLESS_SSL_KEY_PASSWORD: secrets.key, SCHEMA_REGISTRY_URL: `http://u:${secrets.url}@r:1` }), /ssl\.key\.password is set/);
  for (const s of Object.values(secrets)) assert.equal(redactSecrets(`before ${s} after`), 'before *** after', s);
  // The basic auth header value too, should a library ever print a request.
  assert.equal(redactSecrets(`Basic ${Buffer.from(`u:${secrets.info}`).toString('base64')}`), 'Basic ***');

  // Bad files and values around a secret: the messages name keys and places, never the value.
  const secret = 'Never-Printed-55aa';
  const cases: Array<[string[], NodeJS.ProcessEnv]> = [
    [[`sasl.password ${secret}`], {}],
    [[`sasl.pasword=${secret}`], {}],
    [[`schema.registry.basic.auth.user.info=${secret}`], {}],
    [[`sasl.password=${secret}`, `sasl.password=${secret}`], {}],
    [[`sasl.password=${secret}`], {}],
    [[`schema.registry.url=http://u:${secret}@r:1`], { SKEWLESS_SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO: 'u:other' }],
  ];
  for (const [i, [lines, env]] of cases.entries()) {
    const file = configFile(dir, lines, 0o600, `case-${i}.properties`);
    const message = errorOf(() => resolve({ config: file }, env));
    assert.ok(!message.includes(secret), `case ${i}: ${message}`);
  }
});

test('a config file holding secrets and readable by group or others gets a warning naming it and chmod 600', (t) => {
  const dir = tempDir(t);
  const open = configFile(dir, ['security.protocol=SASL_SSL', 'sasl.mechanism=PLAIN', 'sasl.username=a', 'sasl.password=pw-mode-test'], 0o640, 'open.properties');
  assert.deepEqual(resolve({ config: open }).warnings, [`${open} holds secrets (sasl.password) and is readable by group or others (mode 640): run chmod 600 ${open}`]);
  chmodSync(open, 0o600);
  assert.deepEqual(resolve({ config: open }).warnings, []);
  const url = configFile(dir, ['schema.registry.url=https://a:pw-in-url@r:1'], 0o604, 'url.properties');
  assert.deepEqual(resolve({ config: url }).warnings, [`${url} holds secrets (schema.registry.url) and is readable by group or others (mode 604): run chmod 600 ${url}`]);
  const plain = configFile(dir, ['bootstrap.servers=h:1', 'schema.registry.url=https://r:1'], 0o644, 'plain.properties');
  assert.deepEqual(resolve({ config: plain }).warnings, []);
});
