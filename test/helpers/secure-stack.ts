/**
 * The secured stack (`node scripts/stack/up.mjs --secure`) for tests: a file that needs it
 * starts it here and stops it when the file ends, unless it was already running or
 * SECURE_SKEWLESS_CONFIG names the client configuration of one started elsewhere. Call at the
 * top level of a test file.
 */
import { readFileSync } from 'node:fs';
import { after } from 'node:test';
import { ensureStack, envLine } from '../../scripts/stack/stack.mjs';
import { resolveClientConfig } from '../../src/io/client-config.js';
import type { KafkaSecurity } from '../../src/io/client-security.js';
import { KafkaConnection } from '../../src/io/kafka/kafka-connection.js';

export interface SecureTestStack {
  readonly brokers: string[];
  readonly registryUrl: string;
  /** The client configuration file (SASL_SSL, registry basic auth and CA): SKEWLESS_CONFIG. */
  readonly config: string;
  /** The mTLS listener's client configuration, when this checkout runs the stack. */
  readonly mtlsConfig?: string;
  readonly kafkaSecurity: KafkaSecurity;
  /** Every secret of the configuration files: none may appear in any output. */
  readonly secrets: readonly string[];
  /**
   * For child processes (the CLI): the stack's env line and nothing else that configures a
   * connection (no plain stack's KAFKA_BROKERS, no SKEWLESS_* of the developer's shell).
   */
  readonly env: NodeJS.ProcessEnv;
  connect(): Promise<KafkaConnection>;
}

const SECRET_KEYS = ['sasl.password', 'ssl.key.password', 'schema.registry.basic.auth.user.info'];

/** The secret values of a properties file (of user-info, the password). */
export function secretsOf(file: string): string[] {
  const out: string[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const i = line.indexOf('=');
    if (i < 0 || !SECRET_KEYS.includes(line.slice(0, i).trim())) continue;
    const value = line.slice(i + 1).trim();
    out.push(value.includes(':') ? value.slice(value.indexOf(':') + 1) : value);
  }
  return out;
}

/** process.env without anything that points a client somewhere or configures a stack. */
export function envWithoutConnections(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(KAFKA_|SCHEMA_REGISTRY_|SKEWLESS_|SECURE_|STACK_(DIR|.*_PORT)$)/.test(k)));
}

let pending: Promise<SecureTestStack> | undefined;

export function secureStackForTests(): Promise<SecureTestStack> {
  pending ??= (async () => {
    // Its own default ports and directory: STACK_* overrides in the environment are the plain stack's.
    const stack = await ensureStack({ secure: true, env: envWithoutConnections() });
    if (stack.startedHere) after(() => stack.stop());
    const config = stack.config!;
    const resolved = resolveClientConfig({ config }, {});
    const secrets = [...secretsOf(config), ...(stack.mtlsConfig ? secretsOf(stack.mtlsConfig) : [])];
    return {
      brokers: stack.brokers.split(','),
      registryUrl: stack.registryUrl,
      config,
      ...(stack.mtlsConfig ? { mtlsConfig: stack.mtlsConfig } : {}),
      kafkaSecurity: resolved.security.kafka,
      secrets: [...new Set(secrets)],
      env: { ...envWithoutConnections(), ...envLine(stack) },
      connect: () => KafkaConnection.open({ brokers: stack.brokers.split(','), security: resolved.security.kafka }),
    };
  })();
  return pending;
}
