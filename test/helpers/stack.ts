/**
 * Kafka + schema registry for tests. `.ci/run` (or `npm run stack:up` with its env exported)
 * starts the stack once for the whole suite; a test file run on its own starts it itself and
 * stops it when the file ends. Call at the top level of a test file.
 */
import { after } from 'node:test';
import { ensureStack, type Stack } from '../../scripts/stack/stack.mjs';

export interface TestStack {
  readonly brokers: string[];
  readonly registryUrl: string;
  /** For child processes (the CLI): KAFKA_BROKERS and SCHEMA_REGISTRY_URL set. */
  readonly env: NodeJS.ProcessEnv;
}

let pending: Promise<TestStack> | undefined;

export function stackForTests(): Promise<TestStack> {
  pending ??= (async () => {
    const stack: Stack = await ensureStack();
    // Only what this file started is stopped: a stack started by CI or a developer stays up.
    if (stack.startedHere) after(() => stack.stop());
    return {
      brokers: stack.brokers.split(','),
      registryUrl: stack.registryUrl,
      env: { ...process.env, KAFKA_BROKERS: stack.brokers, SCHEMA_REGISTRY_URL: stack.registryUrl },
    };
  })();
  return pending;
}
