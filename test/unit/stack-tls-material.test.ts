/**
 * The secured stack's certificates (scripts/stack/x509.mjs writes the DER by hand): read back
 * by OpenSSL through Node's X509Certificate, and used in real TLS handshakes, they must chain
 * to the CA, name 127.0.0.1 and localhost and nothing else, and authenticate a client (mTLS).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { writeTlsMaterial, type TlsFiles } from '../../scripts/stack/tls-material.mjs';

const KEY_PASSWORD = 'a key password';
const dir = mkdtempSync(join(tmpdir(), 'skewless-tls-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
const files: TlsFiles = writeTlsMaterial(join(dir, 'tls'), { hosts: ['127.0.0.1', 'localhost'], clientKeyPassword: KEY_PASSWORD });
const cert = (file: string): X509Certificate => new X509Certificate(readFileSync(file));

test('the CA signs the server and the client certificate; each names what it is for', () => {
  const ca = cert(files.ca);
  const server = cert(files.serverCert);
  const client = cert(files.clientCert);
  assert.equal(ca.ca, true);
  assert.ok(ca.checkIssued(ca) && ca.verify(ca.publicKey), 'the CA is self-signed');
  for (const [name, c] of [['server', server], ['client', client]] as const) {
    assert.equal(c.ca, false, `${name} is no CA`);
    assert.ok(c.checkIssued(ca) && c.verify(ca.publicKey), `${name} chains to the CA`);
    assert.ok(Date.parse(c.validFrom) < Date.now() && Date.now() < Date.parse(c.validTo), `${name} is valid now`);
  }
  assert.equal(server.checkIP('127.0.0.1'), '127.0.0.1');
  assert.equal(server.checkHost('localhost'), 'localhost');
  assert.equal(server.checkHost('example.com'), undefined);
  assert.equal(server.checkIP('127.0.0.2'), undefined);
  assert.ok(server.keyUsage.includes('1.3.6.1.5.5.7.3.1'), 'server: TLS server authentication');
  assert.deepEqual(client.keyUsage, ['1.3.6.1.5.5.7.3.2'], 'client: TLS client authentication only');
  // The keystore file holds the key and the chain, in that order (Kafka's ssl.keystore.type=PEM).
  const keystore = readFileSync(files.serverKeystore, 'utf8');
  assert.match(keystore, /^-----BEGIN PRIVATE KEY-----[^]*-----BEGIN CERTIFICATE-----[^]*-----BEGIN CERTIFICATE-----/);
});

test('secrets are readable by the owner only; the client key needs its password', () => {
  assert.equal(statSync(join(dir, 'tls')).mode & 0o777, 0o700);
  for (const f of Object.values(files)) assert.equal(statSync(f).mode & 0o777, 0o600, f);
  assert.throws(() => createPrivateKey({ key: readFileSync(files.clientKey), passphrase: 'wrong' }));
  assert.equal(createPrivateKey({ key: readFileSync(files.clientKey), passphrase: KEY_PASSWORD }).asymmetricKeyType, 'ec');
});

/** A TLS server with the server certificate that asks for a client certificate; resolves to what each side saw. */
async function handshake(client: tls.ConnectionOptions): Promise<{ clientError?: string; serverSawClient?: string }> {
  const ca = readFileSync(files.ca);
  const server = tls.createServer({ cert: readFileSync(files.serverCert), key: readFileSync(files.serverKey), ca, requestCert: true, rejectUnauthorized: false });
  let serverSawClient: string | undefined;
  server.on('secureConnection', (s) => {
    if (s.authorized) serverSawClient = String(s.getPeerCertificate().subject.CN);
    s.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  try {
    const clientError = await new Promise<string | undefined>((resolve) => {
      const s = tls.connect({ host: '127.0.0.1', port, ca, ...client }, () => {
        s.once('end', () => resolve(undefined));
        s.resume();
      });
      s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    });
    return { ...(clientError === undefined ? {} : { clientError }), ...(serverSawClient === undefined ? {} : { serverSawClient }) };
  } finally {
    server.close();
  }
}

test('TLS handshakes: the server is trusted for 127.0.0.1 and localhost, not for another name; the client certificate authenticates', async () => {
  assert.deepEqual(await handshake({}), {});
  assert.deepEqual(await handshake({ servername: 'localhost' }), {});
  assert.deepEqual(await handshake({ servername: 'example.com' }), { clientError: 'ERR_TLS_CERT_ALTNAME_INVALID' });
  assert.deepEqual(await handshake({ cert: readFileSync(files.clientCert), key: readFileSync(files.clientKey), passphrase: KEY_PASSWORD }), { serverSawClient: 'skewless-client' });
  // Another CA's certificates are not trusted.
  const other = writeTlsMaterial(join(dir, 'other'), { hosts: ['127.0.0.1'], clientKeyPassword: KEY_PASSWORD });
  assert.deepEqual(await handshake({ ca: readFileSync(other.ca) }), { clientError: 'SELF_SIGNED_CERT_IN_CHAIN' });
});
