/**
 * A one-line progress display on stderr: count, events/s and, when the total is known, a bar
 * and ETA. Silent when stderr is not a terminal, so logs and CI stay clean. Wall clock is
 * used for display only, never for anything that shapes an output.
 */
export class Progress {
  private readonly start = Date.now();
  private lastDraw = 0;
  private readonly enabled: boolean;

  constructor(
    private readonly label: string,
    private readonly total?: number,
    enabled = process.stderr.isTTY === true,
  ) {
    this.enabled = enabled;
  }

  update(done: number): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (now - this.lastDraw < 200) return;
    this.lastDraw = now;
    this.draw(done, now);
  }

  private draw(done: number, now: number): void {
    const secs = Math.max((now - this.start) / 1000, 1e-3);
    const rate = done / secs;
    let line = `${this.label} ${done.toLocaleString('en-US')}`;
    if (this.total) {
      const frac = Math.min(done / this.total, 1);
      const width = 24;
      const filled = Math.round(frac * width);
      const eta = rate > 0 ? (this.total - done) / rate : 0;
      line = `${this.label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${(frac * 100).toFixed(0)}% ${done.toLocaleString('en-US')}/${this.total.toLocaleString('en-US')}, ETA ${eta.toFixed(0)}s`;
    }
    line += `, ${Math.round(rate).toLocaleString('en-US')} events/s`;
    process.stderr.write(`\r${line}\x1b[K`);
  }

  done(final: number): void {
    if (!this.enabled) return;
    this.draw(final, Date.now());
    process.stderr.write('\n');
  }
}
