/**
 * Kafka connections as configured: the kafkajs `ssl` / `sasl` options a resolved configuration
 * maps to, refused handshakes (SASL credentials, an untrusted certificate) never retried and
 * reported in one line, and real TLS handshakes of a kafkajs client through KafkaConnection
 * against a loopback TLS server (no Kafka behind it: only the handshake is under test).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { createServer, type TLSSocket } from 'node:tls';
import { KafkaConnection, KafkaRefusedError, KafkaUnreachableError, kafkajsSecurityOptions } from '../../src/io/kafka/kafka-connection.js';
import { connectionRefusal, isRetriableKafkaError, withKafkaRetry } from '../../src/io/kafka/kafka-retry.js';
import kafkajs from '../../src/io/kafka/kafkajs-runtime.js';
import { makeTestCerts, opensslAvailable } from '../helpers/test-certs.js';

const require = createRequire(import.meta.url);
const { createErrorFromCode } = require('kafkajs/src/protocol/error.js') as { createErrorFromCode: (code: number) => Error };
const { KafkaJSSASLAuthenticationError } = require('kafkajs/src/errors.js') as { KafkaJSSASLAuthenticationError: new (m: string) => Error };
const { KafkaJSConnectionError, KafkaJSNumberOfRetriesExceeded } = kafkajs;

test('kafkajs options: none for plaintext; TLS material, passphrase and the host name check; SASL mechanisms by kafkajs name', () => {
  assert.deepEqual(kafkajsSecurityOptions(undefined), {});
  assert.deepEqual(kafkajsSecurityOptions({ protocol: 'PLAINTEXT' }), {});
  const ssl = kafkajsSecurityOptions({ protocol: 'SSL', tls: { ca: 'CA', cert: 'CERT', key: 'KEY', keyPassword: 'PW', verifyHostname: true } });
  assert.deepEqual(ssl, { ssl: { rejectUnauthorized: true, ca: ['CA'], cert: 'CERT', key: 'KEY', passphrase: 'PW' } });
  const noHost = kafkajsSecurityOptions({ protocol: 'SSL', tls: { verifyHostname: false } }).ssl as { rejectUnauthorized: boolean; checkServerIdentity: () => unknown };
  assert.equal(noHost.rejectUnauthorized, true);
  assert.equal(noHost.checkServerIdentity(), undefined);
  for (const [mechanism, kafkajsName] of [['PLAIN', 'plain'], ['SCRAM-SHA-256', 'scram-sha-256'], ['SCRAM-SHA-512', 'scram-sha-512']] as const) {
    const o = kafkajsSecurityOptions({ protocol: 'SASL_SSL', tls: { verifyHostname: true }, sasl: { mechanism, username: 'u', password: 'p', source: 's' } });
    assert.deepEqual(o, { ssl: { rejectUnauthorized: true }, sasl: { mechanism: kafkajsName, username: 'u', password: 'p' } });
  }
  assert.deepEqual(kafkajsSecurityOptions({ protocol: 'SASL_PLAINTEXT', sasl: { mechanism: 'PLAIN', username: 'u', password: 'p', source: 's' } }), { sasl: { mechanism: 'plain', username: 'u', password: 'p' } });
});

test('refused handshakes are never retried: SASL credentials, a listener without the mechanism, certificate failures (even wrapped in a connection error)', async () => {
  const sasl = new KafkaJSSASLAuthenticationError('SASL SCRAM SHA512 authentication failed: invalid credentials');
  assert.deepEqual(connectionRefusal(sasl), { kind: 'sasl', message: 'SASL SCRAM SHA512 authentication failed: invalid credentials' });
  assert.equal(connectionRefusal(createErrorFromCode(58))?.kind, 'sasl');
  assert.equal(connectionRefusal(createErrorFromCode(33))?.kind, 'sasl-listener');
  assert.equal(connectionRefusal(createErrorFromCode(34))?.kind, 'sasl-listener');
  // kafkajs reports a TLS failure as a (transient) connection error carrying the socket's code.
  const untrusted = new KafkaJSConnectionError('Connection error: self-signed certificate in certificate chain', { broker: 'h:9093', code: 'SELF_SIGNED_CERT_IN_CHAIN' } as never);
  assert.deepEqual(connectionRefusal(untrusted), { kind: 'tls', message: 'Connection error: self-signed certificate in certificate chain', code: 'SELF_SIGNED_CERT_IN_CHAIN' });
  for (const e of [sasl, untrusted, new KafkaJSNumberOfRetriesExceeded(untrusted, { retryCount: 5, retryTime: 1000 }), createErrorFromCode(34)]) {
    assert.equal(isRetriableKafkaError(e), false, (e as Error).message);
  }
  // An mTLS listener refusing the client: OpenSSL's multi-line text becomes its reason, on one line.
  const badCert = new KafkaJSConnectionError(
    'Connection error: 80AC2A67697F0000:error:0A000412:SSL routines:ssl3_read_bytes:sslv3 alert bad certificate:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:1601:SSL alert number 42\n',
    { broker: 'h:9093', code: 'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE' } as never,
  );
  assert.equal(
    new KafkaRefusedError(['h:9093'], { protocol: 'SSL', tls: { verifyHostname: true } }, connectionRefusal(badCert)!).message,
    'TLS with Kafka at h:9093 failed (Connection error: sslv3 alert bad certificate): the server refused the client certificate: check ssl.certificate.location and ssl.key.location (a certificate its CA signed)',
  );
  assert.equal(
    new KafkaRefusedError(['h:9093'], { protocol: 'SASL_SSL', sasl: { mechanism: 'SCRAM-SHA-512', username: 'svc', password: 'x', source: '/etc/c.properties' } }, connectionRefusal(sasl)!).message,
    'Kafka at h:9093 refused SASL SCRAM-SHA-512 authentication of user "svc" (SASL SCRAM SHA512 authentication failed: invalid credentials): check sasl.username and sasl.password (from /etc/c.properties)',
  );
  // A reset socket is still transient.
  const reset = new KafkaJSConnectionError('Connection error: read ECONNRESET', { broker: 'h:9093', code: 'ECONNRESET' } as never);
  assert.equal(connectionRefusal(reset), undefined);
  assert.equal(isRetriableKafkaError(reset), true);
  let calls = 0;
  await assert.rejects(
    withKafkaRetry('connecting', async () => {
      calls++;
      throw untrusted;
    }),
    /self-signed certificate/,
  );
  assert.equal(calls, 1);
});

test('TLS through kafkajs: an untrusted server certificate is one line with the fix; the configured CA and client certificate complete an mTLS handshake', { skip: !opensslAvailable() && 'openssl not installed' }, async (t) => {
  const certs = makeTestCerts();
  t.after(() => certs.remove());
  const handshakes: Array<{ authorized: boolean; client: string | undefined }> = [];
  const server = createServer({ cert: certs.serverCert, key: certs.serverKey, ca: certs.ca, requestCert: true, rejectUnauthorized: true }, (socket: TLSSocket) => {
    handshakes.push({ authorized: socket.authorized, client: String(socket.getPeerCertificate().subject?.CN) });
    socket.destroy(); // no Kafka here: the client's first request finds the connection closed
  });
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const brokers = [`127.0.0.1:${(server.address() as AddressInfo).port}`];

  const started = Date.now();
  const wrongCa = await KafkaConnection.open({ brokers, security: { protocol: 'SSL', tls: { ca: certs.otherCa, verifyHostname: true } } }).then(
    () => assert.fail('connected with an untrusted certificate'),
    (e: unknown) => e,
  );
  assert.ok(wrongCa instanceof KafkaRefusedError, String(wrongCa));
  // Node words the failure by what the server sent (a chain ending in its CA, here); the fix is the same.
  assert.match(
    (wrongCa as Error).message,
    /^TLS with Kafka at 127\.0\.0\.1:\d+ failed \(Connection error: [^)]*certificate[^)]*\): the server's certificate is not signed by a trusted CA: set ssl\.ca\.location to the PEM file of the CA that signed it$/,
  );
  assert.ok(Date.now() - started < 3000, 'a refused handshake is not retried');

  const mtls = { protocol: 'SSL' as const, tls: { ca: certs.ca, cert: readFileSync(certs.clientCertFile, 'utf8'), key: readFileSync(certs.clientKeyFile, 'utf8'), keyPassword: certs.clientKeyPassword, verifyHostname: true } };
  const closed = await KafkaConnection.open({ brokers, security: mtls }).then(
    () => assert.fail('connected to a server that is no Kafka'),
    (e: unknown) => e,
  );
  assert.ok(closed instanceof KafkaUnreachableError, String(closed));
  assert.match((closed as Error).message, /^cannot reach Kafka at 127\.0\.0\.1:\d+ over SSL \(.+\): check that the cluster runs and that these are SSL listeners \(security\.protocol, --brokers\)$/);
  assert.deepEqual(handshakes[0], { authorized: true, client: 'skewless-client' });
});
