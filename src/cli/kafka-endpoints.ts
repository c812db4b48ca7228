import { parseBrokers } from '../io/kafka/kafka-connection.js';

export interface KafkaEndpointFlags {
  brokers?: string;
  registry?: string;
}

export interface KafkaEndpoints {
  readonly brokers: string[];
  readonly registryUrl: string;
}

const HOW = 'for a local Kafka and registry run `npm run stack:up`, then `export $(node scripts/stack/up.mjs)`';

/** Broker list and registry URL from the flags, else KAFKA_BROKERS / SCHEMA_REGISTRY_URL. */
export function kafkaEndpoints(flags: KafkaEndpointFlags, env: NodeJS.ProcessEnv = process.env): KafkaEndpoints {
  const brokers = flags.brokers ?? env.KAFKA_BROKERS;
  if (!brokers) throw new Error(`no Kafka brokers configured: set KAFKA_BROKERS or pass --brokers host:port (${HOW})`);
  const registryUrl = flags.registry ?? env.SCHEMA_REGISTRY_URL;
  if (!registryUrl) throw new Error(`no schema registry configured: set SCHEMA_REGISTRY_URL or pass --registry <url> (${HOW})`);
  if (!/^https?:\/\/\S+$/.test(registryUrl)) throw new Error(`bad schema registry URL "${registryUrl}": expected http(s)://host:port/path`);
  return { brokers: parseBrokers(brokers), registryUrl };
}
