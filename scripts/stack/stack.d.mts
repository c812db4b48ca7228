// Types for stack.mjs, so TypeScript tests can import it (the scripts stay plain Node ESM).
export interface Stack {
  /** Comma-separated host:port list. */
  readonly brokers: string;
  /** Confluent-compatible API base URL (Apicurio ccompat v7). */
  readonly registryUrl: string;
  /** True when this call started Kafka or the registry (then stop() stops them). */
  readonly startedHere: boolean;
  stop(): Promise<void>;
}

export const ROOT: string;
export const STACK_DIR: string;
export const PORTS: { readonly kafka: number; readonly controller: number; readonly registry: number; readonly registryManagement: number };
export const BROKERS: string;
export const REGISTRY_URL: string;

export function probeKafka(hostPort: string, timeoutMs?: number): Promise<Array<{ nodeId: number; host: string; port: number }>>;
export function ensureStack(opts?: { log?: (msg: string) => void; timeoutMs?: number }): Promise<Stack>;
export function stopStack(opts?: { wipe?: boolean; log?: (msg: string) => void }): Promise<void>;
export function stackPid(name: 'kafka' | 'registry'): number | null;
export function restartKafka(opts?: { log?: (msg: string) => void; timeoutMs?: number }): Promise<number>;
