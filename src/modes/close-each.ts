/**
 * Run every closer, in order, whatever the others do; the first error, or undefined. For the end
 * of a replay, where one file that cannot be flushed (a full disk) must not leave the files and
 * stores after it open: a state store left open holds its lock for the rest of the process.
 */
export async function closeEach(closers: ReadonlyArray<() => void | Promise<void>>): Promise<unknown> {
  let first: unknown;
  for (const close of closers) {
    try {
      await close();
    } catch (e) {
      first ??= e;
    }
  }
  return first;
}
