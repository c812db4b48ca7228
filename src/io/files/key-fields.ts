import type { SourceValue } from '../../engine/input.js';

/**
 * The top-level fields a key function reads, found by running it on a value that records each
 * property asked of it (and holds none). A key that branches on a field reports the branch an
 * absent field takes, and one that throws reports what it read before throwing. Good enough for
 * what it serves, weighing a split file's partitions by reading only these columns: a key that
 * reads other fields for other rows only makes the weights worse, never an output different.
 */
export function fieldsReadBy(key: (value: SourceValue) => unknown): string[] {
  const read: string[] = [];
  const probe = new Proxy(
    {},
    {
      get(_target, property) {
        if (typeof property === 'string' && !read.includes(property)) read.push(property);
        return undefined;
      },
      has(_target, property) {
        if (typeof property === 'string' && !read.includes(property)) read.push(property);
        return false;
      },
    },
  );
  try {
    key(probe as SourceValue);
  } catch {
    // What it read before throwing still names the fields it needs.
  }
  return read;
}
