import { createRequire } from 'node:module';

let luxon: typeof import('luxon') | undefined;

/**
 * luxon, loaded at its first use: only event times given as strings and calendar windows need
 * it, and loading it up front cost the start of every replay thread about 12 ms.
 */
export function luxonLibrary(): typeof import('luxon') {
  return (luxon ??= createRequire(import.meta.url)('luxon') as typeof import('luxon'));
}
