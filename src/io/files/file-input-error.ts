/**
 * The one error type for "this input file cannot be read at all" (as opposed to a malformed
 * record inside it, which becomes an error record and is dead-lettered). The message is a
 * single line naming the file, the problem and the fix, because it is what a CLI user sees.
 */
export class FileInputError extends Error {
  readonly path: string;

  constructor(path: string, problem: string, fix: string) {
    super(`skewless: cannot read ${path}: ${oneLine(problem)}. ${oneLine(fix)}.`);
    this.name = 'FileInputError';
    this.path = path;
  }
}

/** Library messages sometimes span lines; a CLI error must not. */
export function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, ' ').replace(/\.+$/, '').trim();
}

/** Text of any thrown value, for embedding into an error record or message. */
export function describeError(err: unknown): string {
  return oneLine(err instanceof Error ? err.message : String(err));
}

/** Maps the fs errors a user can cause (wrong path, permissions) to a FileInputError. */
export function fileOpenError(path: string, err: unknown): Error {
  if (err instanceof FileInputError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return new FileInputError(path, 'no such file or directory', 'Check the path');
  if (code === 'EACCES' || code === 'EPERM') {
    return new FileInputError(path, 'permission denied', 'Check the file permissions');
  }
  if (code === 'EISDIR') return new FileInputError(path, 'is a directory', 'Pass a file, or a directory of partition files');
  return new FileInputError(path, describeError(err), 'Check the path');
}
