/**
 * Progress of a long command on stderr, drawn by cli-progress: done / total, percentage, rate
 * and ETA when the total is known, else done, rate and elapsed time. Drawn only on a terminal
 * and never with --json, so logs, pipes and CI stay clean (the command's own summary still
 * goes to stdout). The wall clock is read for display only, never for anything that shapes
 * an output.
 */
import cliProgress from 'cli-progress';
import { formatCount, formatPercent, formatSeconds } from '../io/number-format.js';

/** Where progress is drawn: process.stderr, or a stand-in terminal in tests. */
export interface ProgressStream {
  readonly isTTY?: boolean;
  readonly columns?: number;
  write(chunk: string): boolean;
}

export interface ProgressOptions {
  /** What is counted, plural (default "records"). */
  readonly unit?: string;
  /** The count already reached when the display starts (rates count from it). */
  readonly start?: number;
  /** Known total; can also be set later (setTotal), e.g. once a Kafka snapshot is taken. */
  readonly total?: number;
  /** Default process.stderr; nothing is drawn unless it is a terminal. */
  readonly stream?: ProgressStream;
  /** --json: draw nothing. */
  readonly quiet?: boolean;
  /** A status line: erased when the display ends, instead of staying on screen. */
  readonly transient?: boolean;
}

/** The rate is taken over the last few seconds, so a stall or a speed-up shows soon. */
const RATE_WINDOW_MS = 10_000;

export class Progress {
  /** True when a bar is drawn (a terminal, and not --json). */
  readonly drawn: boolean;
  private readonly stream: ProgressStream;
  private readonly unit: string;
  private readonly bars?: cliProgress.MultiBar;
  private readonly bar?: cliProgress.SingleBar;
  private total?: number;
  private count = 0;
  private note = '';
  private readonly started = Date.now();
  private readonly startCount: number;
  /** (time, count) every quarter second or so, over the rate window. */
  private readonly samples: Array<{ readonly at: number; readonly count: number }>;
  private finished = false;

  constructor(
    private readonly label: string,
    options: ProgressOptions = {},
  ) {
    this.stream = options.stream ?? process.stderr;
    this.unit = options.unit ?? 'records';
    this.total = options.total;
    this.count = this.startCount = options.start ?? 0;
    this.samples = [{ at: this.started, count: this.count }];
    this.drawn = options.quiet !== true && this.stream.isTTY === true;
    if (!this.drawn) return;
    // A MultiBar of one bar: its redraw keeps to the bar's own line.
    this.bars = new cliProgress.MultiBar({
      stream: this.stream as NodeJS.WritableStream,
      format: (opts, params) => this.line(opts, params.value),
      fps: 5,
      barsize: 20,
      barCompleteChar: '#',
      barIncompleteChar: '-',
      // Keep the terminal's own line wrapping (the line is cut to the width instead): a killed
      // process cannot leave wrapping switched off.
      linewrap: true,
      // Elapsed time and rate change even when the count does not.
      forceRedraw: true,
      clearOnComplete: options.transient === true,
    });
    this.bar = this.bars.create(this.total ?? 0, this.count) as cliProgress.SingleBar;
  }

  setTotal(total: number): void {
    this.total = total;
    this.bar?.setTotal(total);
  }

  /** `note`: shown after the numbers (e.g. a consumer lag). */
  update(done: number, note?: string): void {
    this.count = done;
    if (note !== undefined) this.note = note;
    const now = Date.now();
    const last = this.samples[this.samples.length - 1];
    if (last === undefined || now - last.at >= 250) this.samples.push({ at: now, count: done });
    while (this.samples.length > 2 && now - this.samples[1].at > RATE_WINDOW_MS) this.samples.shift();
    this.bar?.update(done);
  }

  /**
   * A log line: on a terminal it replaces the bar's line and the bar is drawn again below it at
   * the next redraw (cli-progress' own log buffer would lose lines written just before the end).
   */
  log(line: string): void {
    this.stream.write(this.drawn && !this.finished ? `\x1b[1G\x1b[2K${line}\n` : `${line}\n`);
  }

  /** The final state; the line stays on screen. A finished job is 100%, whatever the estimate was. */
  done(final: number = this.count): void {
    if (this.finished) return;
    if (this.total !== undefined) this.setTotal(final);
    this.update(final);
    this.finished = true;
    this.bars?.stop();
  }

  /** Progress of work whose total is known only as it goes (e.g. per replayed part). */
  updateOf(done: number, total: number): void {
    this.setTotal(total);
    this.update(done);
  }

  /** Ends the display with `work`: finished at `final(result)` (default the last count) when it succeeds, stopped where it stood when it fails. */
  async around<T>(work: Promise<T>, final?: (result: T) => number): Promise<T> {
    try {
      const result = await work;
      this.done(final === undefined ? this.count : final(result));
      return result;
    } catch (e) {
      this.stop();
      throw e;
    }
  }

  /** End the display as it stands (a command that failed): the line stays, the error follows on the next. */
  stop(): void {
    if (this.finished) return;
    this.finished = true;
    this.bars?.stop();
  }

  /** Events per second over the last RATE_WINDOW_MS (since the start at first). */
  private rate(now: number): number {
    const first = this.samples.find((s) => now - s.at <= RATE_WINDOW_MS) ?? this.samples[this.samples.length - 1];
    const seconds = (now - first.at) / 1000;
    return seconds > 0.05 ? (this.count - first.count) / seconds : 0;
  }

  private line(options: cliProgress.Options, done: number): string {
    const now = Date.now();
    const elapsed = (now - this.started) / 1000;
    // Finished: the average over the whole run, which is what the summary says too.
    const rate = this.finished ? (done - this.startCount) / Math.max(elapsed, 1e-3) : this.rate(now);
    const unit = this.unit;
    const note = this.note === '' ? '' : `, ${this.note}`;
    // The rate goes last: on a narrow terminal the line is cut from the right.
    const perSecond = `${formatCount(rate)}/s`;
    if (this.total === undefined) return `${this.label} ${formatCount(done)} ${unit}, ${perSecond}, ${formatSeconds(elapsed)}${note}`;
    const fraction = this.total > 0 ? Math.min(done / this.total, 1) : 1;
    const left = this.finished ? `in ${formatSeconds(elapsed)}` : `ETA ${formatSeconds(rate > 0 ? (this.total - done) / rate : NaN)}`;
    const bar = cliProgress.Format.BarFormat(fraction, options);
    return `${this.label} [${bar}] ${formatPercent(fraction)} ${formatCount(done)}/${formatCount(this.total)} ${unit}, ${left}, ${perSecond}${note}`;
  }
}
