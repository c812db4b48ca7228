// The secured stack's certificates, made fresh at every start: a throw-away CA (its private key
// is never written, so nothing can be issued with it afterwards), a server certificate for the
// broker and the registry, and a client certificate for the mTLS listener.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { issueCertificate, newKeyPair } from './x509.mjs';

const DAYS = 30;

/**
 * Write the PEM files into `dir` (mode 0700, files 0600). The client key is encrypted with
 * `clientKeyPassword` (PKCS#8, AES-256), as `ssl.key.password` expects.
 * @param {string} dir
 * @param {{ hosts: string[], clientKeyPassword: string }} o
 */
export function writeTlsMaterial(dir, o) {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const ca = newKeyPair();
  const caName = `skewless local CA ${crypto.randomBytes(4).toString('hex')}`;
  const issuer = { name: caName, ...ca };
  const caPem = issueCertificate({ subject: caName, publicKey: ca.publicKey, issuer, ca: true, days: DAYS });
  const server = newKeyPair();
  const serverPem = issueCertificate({ subject: o.hosts[0], publicKey: server.publicKey, issuer, hosts: o.hosts, usage: ['serverAuth', 'clientAuth'], days: DAYS });
  const client = newKeyPair();
  const clientPem = issueCertificate({ subject: 'skewless-client', publicKey: client.publicKey, issuer, usage: ['clientAuth'], days: DAYS });

  const files = {
    ca: path.join(dir, 'ca.pem'),
    serverCert: path.join(dir, 'server.pem'),
    serverKey: path.join(dir, 'server.key'),
    /** Key and certificate chain in one file: Kafka's `ssl.keystore.type=PEM`. */
    serverKeystore: path.join(dir, 'server-keystore.pem'),
    clientCert: path.join(dir, 'client.pem'),
    clientKey: path.join(dir, 'client.key'),
  };
  const serverKeyPem = server.privateKey.export({ format: 'pem', type: 'pkcs8' });
  const write = (file, text) => fs.writeFileSync(file, text, { mode: 0o600 });
  write(files.ca, caPem);
  write(files.serverCert, serverPem + caPem);
  write(files.serverKey, serverKeyPem);
  write(files.serverKeystore, serverKeyPem + serverPem + caPem);
  write(files.clientCert, clientPem + caPem);
  write(files.clientKey, client.privateKey.export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: o.clientKeyPassword }));
  return files;
}
