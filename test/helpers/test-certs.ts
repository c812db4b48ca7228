/**
 * A throwaway CA with a server certificate for 127.0.0.1 and a client certificate (its key
 * encrypted), made with the openssl command line, for TLS tests against loopback servers.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCerts {
  readonly dir: string;
  /** File paths. */
  readonly caFile: string;
  readonly clientCertFile: string;
  /** Encrypted with clientKeyPassword. */
  readonly clientKeyFile: string;
  readonly clientPlainKeyFile: string;
  /** PEM text. */
  readonly ca: string;
  readonly serverCert: string;
  readonly serverKey: string;
  /** A second CA that signed nothing here: trusting it must fail. */
  readonly otherCa: string;
  readonly clientKeyPassword: string;
  remove(): void;
}

function openssl(dir: string, args: readonly string[]): void {
  const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
  if (r.error || r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.error?.message ?? r.stderr}`);
}

export const opensslAvailable = (): boolean => spawnSync('openssl', ['version']).status === 0;

export function makeTestCerts(): TestCerts {
  const dir = mkdtempSync(join(tmpdir(), 'skewless-certs-'));
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'];
  openssl(dir, ['req', '-x509', ...ec, '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=skewless test CA']);
  openssl(dir, ['req', '-x509', ...ec, '-nodes', '-keyout', 'other.key', '-out', 'other.pem', '-days', '2', '-subj', '/CN=skewless other CA']);
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1\n');
  openssl(dir, ['req', ...ec, '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1']);
  openssl(dir, ['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'server.ext']);
  openssl(dir, ['req', ...ec, '-nodes', '-keyout', 'client.plain.key', '-out', 'client.csr', '-subj', '/CN=skewless-client']);
  openssl(dir, ['x509', '-req', '-in', 'client.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'client.pem', '-days', '2']);
  const clientKeyPassword = 'k3y-Pass-for-tests';
  openssl(dir, ['pkcs8', '-topk8', '-in', 'client.plain.key', '-passout', `pass:${clientKeyPassword}`, '-out', 'client.key']);
  const read = (f: string): string => readFileSync(join(dir, f), 'utf8');
  return {
    dir,
    caFile: join(dir, 'ca.pem'),
    clientCertFile: join(dir, 'client.pem'),
    clientKeyFile: join(dir, 'client.key'),
    clientPlainKeyFile: join(dir, 'client.plain.key'),
    ca: read('ca.pem'),
    serverCert: read('server.pem'),
    serverKey: read('server.key'),
    otherCa: read('other.pem'),
    clientKeyPassword,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
