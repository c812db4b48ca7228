/**
 * What the engine makes of what user functions return or throw, in one wording for every
 * kind of function (a source's key, a groupBy's, an asOf lookup's).
 */

/** A thrown value as message text. */
export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Why a key function's result cannot be an entity key ("returned null, not a string"), or undefined when String(k) is the key. */
export function keyRefusal(k: unknown): string | undefined {
  if (k === null || k === undefined || typeof k === 'object') return `returned ${k === null ? 'null' : typeof k === 'object' ? 'an object' : 'undefined'}, not a string`;
  return undefined;
}
