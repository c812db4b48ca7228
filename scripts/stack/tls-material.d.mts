// Types for tls-material.mjs, so TypeScript tests can import it.
export interface TlsFiles {
  readonly ca: string;
  /** Server certificate followed by the CA's. */
  readonly serverCert: string;
  readonly serverKey: string;
  readonly serverKeystore: string;
  /** Client certificate followed by the CA's. */
  readonly clientCert: string;
  /** Encrypted PKCS#8 (the clientKeyPassword). */
  readonly clientKey: string;
}

export function writeTlsMaterial(dir: string, o: { hosts: string[]; clientKeyPassword: string }): TlsFiles;
