// Types for promises.mjs, so the unit test can import it.
export interface CommandPromise {
  readonly match: RegExp;
  readonly check?: (r: unknown) => string | undefined;
  readonly longRunning?: { ready: string[]; says: string };
}
export const PROMISES: ReadonlyArray<CommandPromise>;
export function promiseFor(command: string): CommandPromise | undefined;
