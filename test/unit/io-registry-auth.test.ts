/**
 * Registry authentication (src/io/avro/registry-http.ts) against small registries on
 * 127.0.0.1 that check what a real one checks: the basic auth header on every request (the
 * library's schema lookups and our own calls), and over https the server certificate's CA and
 * the client certificate. 401/403 are one line naming the URL (password masked) and where the
 * credentials came from.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { SchemaRegistryClient, RegistryUnreachableError } from '../../src/io/avro/registry-client.js';
import { RegistryCompatibilityClient } from '../../src/io/avro/registry-compatibility.js';
import { RegistryAuthError, registryEndpoint } from '../../src/io/avro/registry-http.js';
import { makeTestCerts, opensslAvailable } from '../helpers/test-certs.js';

const USER = 'alice';
const PASSWORD = 'Reg1stry-Pw:x';

interface Seen {
  readonly method: string;
  readonly path: string;
  readonly authorization?: string;
  readonly clientCert?: string;
}

/** A registry that answers only requests with the expected basic auth (or 403 when `forbid` says so). */
function registryHandler(seen: Seen[], state: { deny: boolean; forbid: boolean }) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const socket = req.socket as TLSSocket;
    const clientCert = typeof socket.getPeerCertificate === 'function' ? String(socket.getPeerCertificate().subject?.CN) : undefined;
    seen.push({ method: req.method ?? '', path: req.url ?? '', authorization: req.headers.authorization, ...(clientCert ? { clientCert } : {}) });
    req.resume();
    req.on('end', () => {
      const json = (status: number, body: unknown): void => {
        res.writeHead(status, { 'content-type': 'application/vnd.schemaregistry.v1+json' });
        res.end(JSON.stringify(body));
      };
      if (state.deny || req.headers.authorization !== `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`) return json(401, { error_code: 401, message: 'Unauthorized' });
      if (state.forbid) return json(403, { error_code: 40301, message: 'Forbidden' });
      if (req.url === '/subjects') return json(200, []);
      if (req.url === '/schemas/ids/1') return json(200, { schema: '"string"' });
      if (req.url === '/config') return json(200, { compatibilityLevel: 'FULL' });
      if (req.method === 'POST' && req.url === '/subjects/t-value/versions') return json(200, { id: 7 });
      return json(404, { error_code: 40401, message: 'not found' });
    });
  };
}

async function listen(server: http.Server, t: { after: (fn: () => Promise<void>) => void }): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as AddressInfo).port;
}

test('basic auth on every request: from the configured credentials or from URL user-info; the library lookups too', async (t) => {
  const seen: Seen[] = [];
  const state = { deny: false, forbid: false };
  const server = http.createServer(registryHandler(seen, state));
  server.keepAliveTimeout = 100;
  const port = await listen(server, t);
  const url = `http://127.0.0.1:${port}`;
  const expected = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;

  const client = await SchemaRegistryClient.open(registryEndpoint(url, { auth: { username: USER, password: PASSWORD, source: 'the test' } }));
  assert.equal(client.url, `http://alice:***@127.0.0.1:${port}`);
  const writer = await client.writerSchema(1);
  assert.ok('type' in writer && writer.type.typeName === 'string');
  assert.equal(await client.register('t-value', { type: 'string' }), 7);
  const fromUrl = new RegistryCompatibilityClient(`http://${USER}:${encodeURIComponent(PASSWORD)}@127.0.0.1:${port}/`);
  assert.equal(await fromUrl.globalLevel(), 'FULL');
  assert.deepEqual(
    seen.map((s) => `${s.method} ${s.path} ${s.authorization === expected}`),
    ['GET /subjects true', 'GET /schemas/ids/1 true', 'POST /subjects/t-value/versions true', 'GET /config true'],
  );

  // Refused: one line with the URL (password masked), the status and where the credentials came from.
  state.deny = true;
  await assert.rejects(
    client.writerSchema(2),
    (e: Error) => e instanceof RegistryAuthError && e.message === `schema registry http://alice:***@127.0.0.1:${port} answered GET /schemas/ids/2 with HTTP 401 (unauthorized): check the user and password (from the test)`,
  );
  await assert.rejects(
    fromUrl.globalLevel(),
    (e: Error) => e.message === `schema registry http://alice:***@127.0.0.1:${port} answered GET /config with HTTP 401 (unauthorized): check the user and password (from the registry URL)`,
  );
  await assert.rejects(
    SchemaRegistryClient.open(url),
    (e: Error) =>
      e.message ===
      `schema registry http://127.0.0.1:${port} answered GET /subjects with HTTP 401 (unauthorized): it needs credentials: set schema.registry.basic.auth.user.info=user:password in the config file (--config / SKEWLESS_CONFIG) or SKEWLESS_SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO`,
  );
  state.deny = false;
  state.forbid = true;
  await assert.rejects(
    fromUrl.globalLevel(),
    (e: Error) => e.message === `schema registry http://alice:***@127.0.0.1:${port} answered GET /config with HTTP 403 (forbidden): user "alice" (from the registry URL) may not do this: grant it, or use a user that may`,
  );
});

test('https: the configured CA and client certificate; an untrusted registry certificate says which setting fixes it', { skip: !opensslAvailable() && 'openssl not installed' }, async (t) => {
  const certs = makeTestCerts();
  t.after(() => certs.remove());
  const seen: Seen[] = [];
  const server = https.createServer({ cert: certs.serverCert, key: certs.serverKey, ca: certs.ca, requestCert: true, rejectUnauthorized: true }, registryHandler(seen, { deny: false, forbid: false }));
  server.keepAliveTimeout = 100;
  server.on('tlsClientError', () => {});
  const port = await listen(server, t);
  const url = `https://127.0.0.1:${port}`;
  const auth = { username: USER, password: PASSWORD, source: 'the test' };
  const tls = { ca: certs.ca, cert: readFileSync(certs.clientCertFile, 'utf8'), key: readFileSync(certs.clientPlainKeyFile, 'utf8'), verifyHostname: true };

  const client = await SchemaRegistryClient.open(registryEndpoint(url, { auth, tls }));
  const writer = await client.writerSchema(1);
  assert.ok('type' in writer);
  assert.equal(await new RegistryCompatibilityClient(registryEndpoint(url, { auth, tls })).globalLevel(), 'FULL');
  assert.deepEqual(
    seen.map((s) => `${s.method} ${s.path} ${s.clientCert}`),
    ['GET /subjects skewless-client', 'GET /schemas/ids/1 skewless-client', 'GET /config skewless-client'],
  );

  await assert.rejects(
    SchemaRegistryClient.open(registryEndpoint(url, { auth, tls: { ...tls, ca: certs.otherCa } })),
    (e: Error) =>
      e instanceof RegistryUnreachableError &&
      /^cannot reach the schema registry at https:\/\/alice:\*\*\*@127\.0\.0\.1:\d+ \(GET \/subjects: [^()]*certificate[^()]*: the server's certificate is not signed by a trusted CA: set schema\.registry\.ssl\.ca\.location to the PEM file of the CA that signed it\)/.test(e.message),
  );
});
