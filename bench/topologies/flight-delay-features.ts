/**
 * flight-delays' eight features and its label (topologies/flight-delays.ts, which the README
 * shows as written) for the benchmark variants that keep them as they are and change something
 * else: finer entity keys (flight-delays-keys10.ts, -keys1000.ts) or a second input
 * (flight-delays-side-input.ts).
 */
import { label, type Group } from '../../src/dsl/index.js';
import type { Flight } from '../../topologies/flight-delays.js';

export function flightDelayFeatures(origin: Group<Flight>, route: Group<Flight>) {
  return {
    origin_flights_1h: origin.lookback('1h').count(),
    origin_delay_mean_1h: origin.lookback('1h').mean((f) => f.delay),
    origin_delay_mean_24h: origin.lookback('24h').mean((f) => f.delay),
    origin_delay_max_24h: origin.lookback('24h').max((f) => f.delay),
    origin_destinations_24h: origin.lookback('24h').countDistinct((f) => f.destination),
    origin_delay_std_7d: origin.lookback('7d').stddev((f) => f.delay),
    origin_minutes_since_prev: origin.timeSinceLast('minutes'),
    route_delay_mean_7d: route.lookback('7d').mean((f) => f.delay),
  };
}

export const flightDelayLabels = { labels: { is_delayed: label.boolean<Flight>((f) => f.delay > 15) } };
