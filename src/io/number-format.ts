/**
 * Numbers in human output (summaries, progress lines, log lines), one style for every command:
 * counts with thousands separators, rates per second, elapsed times that stay readable past a
 * minute. `--json` output never goes through here: machines get plain numbers. It lives in io
 * because modes, parity and cli all print, and each may import io.
 */
const COUNT = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** A count: 1234567 → "1,234,567" (rounded to a whole number). */
export function formatCount(n: number): string {
  return Number.isFinite(n) ? COUNT.format(n) : String(n);
}

/** A rate: "12,407 events/s". */
export function formatRate(perSecond: number, unit: string): string {
  return `${formatCount(Number.isFinite(perSecond) ? perSecond : 0)} ${unit}/s`;
}

/** A share of a whole as a percentage with one decimal: 0.156 → "15.6%". */
export function formatPercent(fraction: number): string {
  return `${(fraction * 100).toFixed(1)}%`;
}

/**
 * Seconds of wall time: "0.4 s", "59.9 s", then "1m 05s", "2h 03m" (an ETA of hours in
 * seconds reads badly). Negative or non-finite inputs (an ETA before any rate is known) give "?".
 */
export function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  if (seconds < 59.95) return `${seconds.toFixed(1)} s`;
  const whole = Math.round(seconds);
  const two = (n: number): string => String(n).padStart(2, '0');
  if (whole < 3600) return `${Math.floor(whole / 60)}m ${two(whole % 60)}s`;
  return `${Math.floor(whole / 3600)}h ${two(Math.floor((whole % 3600) / 60))}m`;
}
