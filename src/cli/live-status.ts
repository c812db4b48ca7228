/**
 * What `skewless run` shows on a terminal: while tasks restore their state from the changelog,
 * a bar of changelog offsets applied of those to apply; once running, one status line redrawn
 * in place (records applied since start, rate, consumer lag), erased when it ends. Worker log
 * lines print above it.
 * Off a terminal only the log lines are written, as they always were.
 */
import { formatCount } from '../io/number-format.js';
import { Progress, type ProgressStream } from './progress.js';

export class LiveStatus {
  private readonly restoring = new Map<number, { applied: number; total: number }>();
  private restoreBar?: Progress;
  private statusLine?: Progress;
  private running = false;
  private applied = 0;
  private readonly lag = new Map<string, number>();

  constructor(private readonly stream: ProgressStream = process.stderr) {}

  log(line: string): void {
    const shown = this.restoreBar ?? this.statusLine;
    if (shown !== undefined) shown.log(line);
    else this.stream.write(`${line}\n`);
  }

  /** A task's restore progress (live-worker onRestoreProgress). */
  restored(partition: number, applied: number, total: number): void {
    if (this.stream.isTTY !== true) return;
    this.restoring.set(partition, { applied, total });
    if (this.restoreBar === undefined) {
      this.statusLine?.stop();
      this.statusLine = undefined;
      this.restoreBar = new Progress('restore', { unit: 'changelog records', stream: this.stream });
    }
    let sumApplied = 0;
    let sumTotal = 0;
    for (const r of this.restoring.values()) {
      sumApplied += r.applied;
      sumTotal += r.total;
    }
    this.restoreBar.setTotal(sumTotal);
    this.restoreBar.update(sumApplied);
    if (sumApplied < sumTotal) return;
    this.restoreBar.done(sumTotal);
    this.restoreBar = undefined;
    this.restoring.clear();
    if (this.running) this.showStatus();
  }

  /** Start-up is over: show the status line (unless a restore is still drawn). */
  started(): void {
    this.running = true;
    if (this.restoreBar === undefined) this.showStatus();
  }

  /** A committed batch (live-worker onBatchTiming) and its partition's consumer lag. */
  batch(topic: string, partition: number, records: number, lag: number | undefined): void {
    this.applied += records;
    if (lag !== undefined) this.lag.set(`${topic}/${partition}`, lag);
    this.statusLine?.update(this.applied, this.lagNote());
  }

  close(): void {
    this.running = false;
    this.restoreBar?.stop();
    this.statusLine?.stop();
    this.restoreBar = this.statusLine = undefined;
  }

  private showStatus(): void {
    if (this.stream.isTTY !== true || this.statusLine !== undefined) return;
    this.statusLine = new Progress('live', { unit: 'records', stream: this.stream, start: this.applied, transient: true });
    this.statusLine.update(this.applied, this.lagNote());
  }

  private lagNote(): string {
    let sum = 0;
    for (const v of this.lag.values()) sum += v;
    return `consumer lag ${formatCount(sum)}`;
  }
}
