/**
 * The four kinds of windows, over the flights of topologies/flight-delays.ts. The README shows
 * each region below verbatim (test/unit/docs-snippets.test.ts checks it, and tsc compiles this
 * file), so the examples there always type-check and run.
 *
 *   npx skewless backfill docs/examples/windows.ts \
 *       --input node_modules/vega-datasets/data/flights-3m.parquet --partitions 8 --out out/windows
 */
import { topology } from '../../src/dsl/index.js';
import type { Flight } from '../../topologies/flight-delays.js';

const flightWindows = topology(
  'flight-windows',
  (t) => {
    const flights = t.source<Flight>('flights', {
      schema: '../../schemas/flight.avsc',
      key: (f) => f.origin,
      eventTime: (f) => f.date,
      grace: '1h',
      late: 'sideOutput',
    });
    const origin = flights.groupBy('origin', (f) => f.origin);
    const route = flights.groupBy('route', (f) => `${f.origin}-${f.destination}`);

    // #region tumbling
    // Tumbling: back-to-back hours [00:00, 01:00), [01:00, 02:00) ... (UTC, aligned to the epoch).
    const hourly = origin.tumbling('1h').aggregate('origin_hourly', (w) => ({
      flights: w.count(),
      mean_delay: w.mean((f) => f.delay),
    }));
    // #endregion tumbling

    // #region hopping
    // Hopping: 3-hour windows starting every hour, so each flight is in three of them.
    // emit: 'update' writes a row each time a flight changes a window, not only when it closes.
    const rolling = origin.hopping('3h', '1h', { emit: 'update' }).aggregate('origin_3h_rolling', (w) => ({
      flights: w.count(),
      max_delay: w.max((f) => f.delay),
    }));
    // #endregion hopping

    // #region session
    // Session: a route's flights closer than 2 hours apart form one session; the session ends
    // 2 hours after its last flight. window_start is its first flight, window_end last + 2 h.
    const sessions = route.session('2h').aggregate('route_sessions', (w) => ({
      flights: w.count(),
      total_delay: w.sum((f) => f.delay),
    }));
    // #endregion session

    // #region calendar
    // Calendar: local days in a time zone (23 or 25 hours long on DST changes); also 'hour',
    // 'week' (Monday to Monday) and 'month'. This one waits 6 hours for stragglers before
    // its final row, instead of the source's 1 hour.
    const daily = origin.calendar('day', 'America/New_York', { grace: '6h' }).aggregate('origin_daily', (w) => ({
      flights: w.count(),
      mean_delay: w.mean((f) => f.delay),
      destinations: w.countDistinct((f) => f.destination),
    }));
    // #endregion calendar

    return { hourly, rolling, sessions, daily };
  },
  { description: 'Examples of tumbling, hopping, session and calendar windows over US flights.' },
);

export default flightWindows;
