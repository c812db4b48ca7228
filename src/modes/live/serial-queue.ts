/** Runs async work one piece at a time, in the order it was queued, whether earlier work succeeded or not. */
export class SerialQueue {
  private last: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.last.then(fn, fn);
    this.last = next.catch(() => undefined);
    return next;
  }
}
