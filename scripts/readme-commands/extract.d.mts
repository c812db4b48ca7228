// Types for extract.mjs, so the unit test can import it (the script stays plain Node ESM).
export interface ReadmeCommand {
  /** 1-based, in README order. */
  readonly index: number;
  /** The command as bash gets it: continuations joined, trailing comment dropped, whitespace collapsed. */
  readonly text: string;
  /** README line of its first line. */
  readonly line: number;
  /** Every README line it was taken from. */
  readonly lines: number[];
  readonly origin: 'block' | 'inline';
  /** The fence's language, 'untagged', or 'inline'. */
  readonly lang: string;
  /** Part n of m of an `a && b` line. */
  readonly chain?: { part: number; of: number };
  /** An inline command equal to an earlier one: its index (not run again). */
  readonly duplicateOf?: number;
  readonly skip?: { reason: string; heavy: boolean };
}
export const NOT_SHELL: Readonly<Record<string, string>>;
export const SKIPS: ReadonlyArray<{ match: RegExp; reason: string; heavy?: boolean }>;
export function extractCommands(markdown: string): ReadmeCommand[];
export function stripComment(line: string): string;
export function splitAnd(text: string): string[];
