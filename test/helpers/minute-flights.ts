import assert from 'node:assert/strict';

/** A generated flight: flight i of a test's list departs at a start time plus i minutes. */
export interface MinuteFlight {
  readonly date: number;
  readonly delay: number;
  readonly origin: string;
}

/**
 * flight-delays' origin_flights_1h and origin_delay_mean_1h of flight i, checked against a brute
 * force over the generated flights: its origin's earlier flights within the hour before (the
 * event excluded), their count and mean delay. Flights are one minute apart, so at most the 60
 * before can be in the hour.
 */
export function assertOriginHour(flight: (i: number) => MinuteFlight, i: number, row: { readonly origin_flights_1h: bigint | number; readonly origin_delay_mean_1h: number | null }): void {
  const f = flight(i);
  const earlier: number[] = [];
  for (let j = Math.max(0, i - 60); j < i; j++) {
    const e = flight(j);
    if (e.origin === f.origin && e.date > f.date - 3_600_000) earlier.push(e.delay);
  }
  assert.equal(Number(row.origin_flights_1h), earlier.length, `flight ${i}`);
  const mean = earlier.length === 0 ? null : earlier.reduce((a, b) => a + b, 0) / earlier.length;
  if (mean === null) assert.equal(row.origin_delay_mean_1h, null, `flight ${i}`);
  else assert.ok(Math.abs((row.origin_delay_mean_1h ?? NaN) - mean) < 1e-9, `flight ${i}: ${row.origin_delay_mean_1h} against ${mean}`);
}
