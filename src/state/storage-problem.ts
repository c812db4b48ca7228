/**
 * File-system errors that say something about the machine rather than about the data: a full
 * disk, a read-only mount, a missing permission, too many open files. Retrying or deleting
 * the data cannot fix them; the message says what can. Shared by the state stores and the
 * files replay writes.
 */
export interface StorageProblem {
  /** What is wrong, as the end of "…: <what>". */
  readonly what: string;
  /** What to do, as a clause. */
  readonly fix: string;
}

/** The problem an error's text shows, or undefined when it shows none of them. */
export function storageProblem(errorText: string): StorageProblem | undefined {
  if (/No space left on device|ENOSPC/i.test(errorText)) return { what: 'the disk is full', fix: 'free space on the disk that holds it' };
  if (/Disk quota exceeded|EDQUOT/i.test(errorText)) return { what: 'the disk quota is exceeded', fix: 'free space or raise the quota' };
  if (/Read-only file system|EROFS/i.test(errorText)) return { what: 'its file system is read-only', fix: 'mount it writable or use another directory' };
  if (/Permission denied|EACCES|EPERM/i.test(errorText)) return { what: 'permission is denied', fix: 'make the directory readable and writable by this user' };
  if (/Too many open files|EMFILE|ENFILE/i.test(errorText)) return { what: 'the process has too many files open', fix: 'raise the open-files limit (ulimit -n)' };
  return undefined;
}

/**
 * One line for a file that could not be written: the file (`target`, e.g. "training file
 * out/f/part-00003.parquet"), what went wrong and, when the machine is at fault, what to do,
 * followed by `next` (what to do after that).
 */
export function writeFailureText(target: string, err: unknown, next: string): string {
  const text = err instanceof Error ? err.message : String(err);
  const problem = storageProblem(text);
  if (problem === undefined) return `cannot write ${target}: ${text}`;
  return `cannot write ${target}: ${problem.what} (${text}). ${problem.fix.charAt(0).toUpperCase()}${problem.fix.slice(1)}, ${next}`;
}
