// Types for stack.mjs, so TypeScript tests can import it (the scripts stay plain Node ESM).
export interface Stack {
  /** Comma-separated host:port list. */
  readonly brokers: string;
  /** Confluent-compatible API base URL (Apicurio ccompat v7). */
  readonly registryUrl: string;
  /** Secured stack: its client configuration file (SASL_SSL, registry basic auth and CA), for SKEWLESS_CONFIG. */
  readonly config?: string;
  /** Secured stack run by this checkout: the client configuration of its mTLS listener (client certificate). */
  readonly mtlsConfig?: string;
  /** True when this call started Kafka or the registry (then stop() stops them). */
  readonly startedHere: boolean;
  stop(): Promise<void>;
}

export interface StackOptions {
  log?: (msg: string) => void;
  timeoutMs?: number;
  /** The secured stack (SASL_SSL, mTLS, registry with TLS and basic auth) instead of the plain one. */
  secure?: boolean;
  /** Where STACK_DIR and STACK_*_PORT are read from (default process.env). */
  env?: NodeJS.ProcessEnv;
}

export const ROOT: string;
export const STACK_DIR: string;
export const PORTS: { readonly kafka: number; readonly controller: number; readonly registry: number; readonly registryManagement: number };
export const BROKERS: string;
export const REGISTRY_URL: string;

export function probeKafka(hostPort: string, timeoutMs?: number): Promise<Array<{ nodeId: number; host: string; port: number }>>;
export function ensureStack(opts?: StackOptions): Promise<Stack>;
export function envLine(stack: Pick<Stack, 'brokers' | 'registryUrl' | 'config'>): Record<string, string>;
export function stopStack(opts?: { wipe?: boolean; log?: (msg: string) => void; secure?: boolean; env?: NodeJS.ProcessEnv }): Promise<void>;
export function stackPid(name: 'kafka' | 'registry'): number | null;
export function restartKafka(opts?: { log?: (msg: string) => void; timeoutMs?: number }): Promise<number>;
export function runKafkaTool(mainClass: string, args: readonly string[]): Promise<string>;
/** Where this stack's (plain) broker keeps its logs (log.dirs). */
export function kafkaDataDir(): string;
