/**
 * flight-delays (topologies/flight-delays.ts) with every lookback window 30 days long, for
 * bench/replay-scaling.ts: the same keys and the same features under the same names (so
 * `origin_delay_mean_1h` is a 30-day mean here); timeSinceLast has no window and stays.
 */
import { label, topology } from '../../src/dsl/index.js';
import type { Flight } from '../../topologies/flight-delays.js';

export default topology(
  'flight-delays-30d',
  (t) => {
    const flights = t.source<Flight>('flights', {
      schema: '../../schemas/flight.avsc', // relative to this file
      key: (f) => f.origin,
      eventTime: (f) => f.date,
      grace: '1h',
      late: 'sideOutput',
    });
    const origin = flights.groupBy('origin', (f) => f.origin);
    const route = flights.groupBy('route', (f) => `${f.origin}-${f.destination}`);

    const features = flights.features(
      'flight_features',
      {
        origin_flights_1h: origin.lookback('30d').count(),
        origin_delay_mean_1h: origin.lookback('30d').mean((f) => f.delay),
        origin_delay_mean_24h: origin.lookback('30d').mean((f) => f.delay),
        origin_delay_max_24h: origin.lookback('30d').max((f) => f.delay),
        origin_destinations_24h: origin.lookback('30d').countDistinct((f) => f.destination),
        origin_delay_std_7d: origin.lookback('30d').stddev((f) => f.delay),
        origin_minutes_since_prev: origin.timeSinceLast('minutes'),
        route_delay_mean_7d: route.lookback('30d').mean((f) => f.delay),
      },
      { labels: { is_delayed: label.boolean<Flight>((f) => f.delay > 15) } },
    );
    return { features };
  },
  { description: 'flight-delays with 30-day lookback windows (bench/replay-scaling.ts).' },
);
