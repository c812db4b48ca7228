import { resolveClientConfig, type ClientConfig, type ClientConfigFlags } from '../io/client-config.js';
import type { ClientEndpoints, ClientSecurity } from '../io/client-security.js';

/** --brokers, --registry and --config, as every command that talks to Kafka or the registry has them. */
export type KafkaEndpointFlags = ClientConfigFlags;

/** As the modes take them; resolved from a configuration, so the security settings are always there. */
export interface KafkaEndpoints extends ClientEndpoints {
  readonly security: ClientSecurity;
}

/** The registry half, for the commands that need no broker (schemas, deploy). */
export interface RegistryEndpoints {
  readonly registryUrl: string;
  readonly security: ClientSecurity;
}

/** Help text of --config (every command that talks to Kafka or the registry). */
export const CONFIG_HELP = 'Kafka and registry connection settings: a properties file (bootstrap.servers, security.protocol, sasl.*, ssl.*, schema.registry.*; see README "Production"); default $SKEWLESS_CONFIG';

const HOW = 'for a local Kafka and registry run `npm run stack:up`, then `export $(node scripts/stack/up.mjs)`';
const FILE = 'or set it in a config file (--config <file> or SKEWLESS_CONFIG)';

/** Warnings already printed: bootstrap resolves the configuration again for its live worker. */
const warned = new Set<string>();

function clientConfig(flags: KafkaEndpointFlags, env: NodeJS.ProcessEnv): ClientConfig {
  const config = resolveClientConfig(flags, env);
  for (const w of config.warnings) {
    if (warned.has(w)) continue;
    warned.add(w);
    process.stderr.write(`skewless: warning: ${w}\n`);
  }
  return config;
}

function registryUrlOf(config: ClientConfig, alternative = ''): string {
  if (config.registryUrl === undefined) throw new Error(`no schema registry configured: set SCHEMA_REGISTRY_URL or pass --registry <url>, ${FILE} as schema.registry.url${alternative} (${HOW})`);
  return config.registryUrl;
}

/** Brokers, registry URL and how to authenticate to both: flags, then environment, then config file (README, "Production"). */
export function kafkaEndpoints(flags: KafkaEndpointFlags, env: NodeJS.ProcessEnv = process.env): KafkaEndpoints {
  const config = clientConfig(flags, env);
  if (config.brokers === undefined) throw new Error(`no Kafka brokers configured: set KAFKA_BROKERS or pass --brokers host:port, ${FILE} as bootstrap.servers (${HOW})`);
  return { brokers: config.brokers, registryUrl: registryUrlOf(config), security: config.security };
}

/** The registry URL and its credentials, for commands that do not talk to Kafka; `alternative` ends the message when there is none. */
export function registryEndpoints(flags: KafkaEndpointFlags, env: NodeJS.ProcessEnv = process.env, alternative?: string): RegistryEndpoints {
  const config = clientConfig(flags, env);
  return { registryUrl: registryUrlOf(config, alternative), security: config.security };
}
