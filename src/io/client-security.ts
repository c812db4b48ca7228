/**
 * How skewless authenticates to Kafka and the schema registry, once resolved from the config
 * file, the environment and the flags (client-config.ts). Plain data (PEM text, not paths), so
 * a replay coordinator can hand it to worker threads and nothing re-reads a key file later.
 */

export const SECURITY_PROTOCOLS = ['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'] as const;
export type SecurityProtocol = (typeof SECURITY_PROTOCOLS)[number];

export const SASL_MECHANISMS = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'] as const;
export type SaslMechanism = (typeof SASL_MECHANISMS)[number];

/** TLS material, as PEM text read from the configured files. */
export interface TlsSettings {
  /** CA certificates to trust instead of the system's. */
  readonly ca?: string;
  /** Client certificate and key (mTLS). */
  readonly cert?: string;
  readonly key?: string;
  /** Passphrase of an encrypted key. */
  readonly keyPassword?: string;
  /** False with ssl.endpoint.identification.algorithm=none: the chain is still verified, the host name is not. */
  readonly verifyHostname: boolean;
}

export interface SaslSettings {
  readonly mechanism: SaslMechanism;
  readonly username: string;
  readonly password: string;
  /** Where the credentials were configured, for error messages ("SKEWLESS_SASL_PASSWORD", "client.properties"). */
  readonly source: string;
}

export interface KafkaSecurity {
  readonly protocol: SecurityProtocol;
  /** Present for SSL and SASL_SSL. */
  readonly tls?: TlsSettings;
  /** Present for SASL_PLAINTEXT and SASL_SSL. */
  readonly sasl?: SaslSettings;
}

export interface BasicAuth {
  readonly username: string;
  readonly password: string;
  /** Where it was configured, for error messages. */
  readonly source: string;
}

export interface RegistrySecurity {
  readonly auth?: BasicAuth;
  /** For an https registry with its own CA or a client certificate. */
  readonly tls?: TlsSettings;
}

export interface ClientSecurity {
  readonly kafka: KafkaSecurity;
  readonly registry: RegistrySecurity;
}

/**
 * What a command that talks to Kafka and the registry connects with. `registryUrl` never
 * carries user-info (it is moved into `security.registry.auth`); without `security` the
 * connections are plaintext and unauthenticated.
 */
export interface ClientEndpoints {
  readonly brokers: readonly string[];
  readonly registryUrl: string;
  readonly security?: ClientSecurity;
}
