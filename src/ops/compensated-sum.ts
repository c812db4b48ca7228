/**
 * Neumaier-compensated running sum. The determinism contract fixes the summation algorithm so
 * that a sum is a function of the sequence of additions only; compensation keeps long windows
 * of decimal amounts accurate when values are also removed again.
 */
export class CompensatedSum {
  constructor(
    public sum = 0,
    public compensation = 0,
  ) {}

  add(x: number): void {
    const t = this.sum + x;
    if (Math.abs(this.sum) >= Math.abs(x)) this.compensation += this.sum - t + x;
    else this.compensation += x - t + this.sum;
    this.sum = t;
  }

  get value(): number {
    return this.sum + this.compensation;
  }

  reset(): void {
    this.sum = 0;
    this.compensation = 0;
  }
}
