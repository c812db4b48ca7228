/** The stored state is of an older encoding (or unreadable): it must be rebuilt, never read. */
export class StateFormatError extends Error {
  constructor(partition: number, detail: string) {
    super(`state of partition ${partition} cannot be read: ${detail}`);
    this.name = 'StateFormatError';
  }
}
