/**
 * Delay features per departure airport and per route, on the 3,000,000 US flights of 2001
 * (vega-datasets flights-3m.parquet). Input is partitioned by origin, so route state
 * (origin + destination) lives in the same task as its origin. The README shows the region
 * marked `readme` verbatim (test/unit/docs-snippets.test.ts checks it).
 */
// #region readme
import { label, topology, type RowOf } from '../src/dsl/index.js';

export interface Flight {
  /** Scheduled departure, epoch ms (local wall clock of 2001 read as UTC, as in the data set). */
  date: number;
  /** Departure delay in minutes (negative: early). */
  delay: number;
  distance: number;
  origin: string;
  destination: string;
}

const flightDelays = topology(
  'flight-delays',
  (t) => {
    const flights = t.source<Flight>('flights', {
      schema: '../schemas/flight.avsc', // relative to this file
      key: (f) => f.origin, // partition / entity key
      eventTime: (f) => f.date, // event time comes from the payload, never the broker
      grace: '1h', // accept events up to 1 h behind stream time
      late: 'sideOutput', // later ones go to the late records ('drop' only counts them)
    });
    const origin = flights.groupBy('origin', (f) => f.origin);
    // A refinement of the partition key (origin): each route lives in its origin's task.
    const route = flights.groupBy('route', (f) => `${f.origin}-${f.destination}`);

    const features = flights.features(
      'flight_features',
      {
        origin_flights_1h: origin.lookback('1h').count(),
        origin_delay_mean_1h: origin.lookback('1h').mean((f) => f.delay),
        origin_delay_mean_24h: origin.lookback('24h').mean((f) => f.delay),
        origin_delay_max_24h: origin.lookback('24h').max((f) => f.delay),
        origin_destinations_24h: origin.lookback('24h').countDistinct((f) => f.destination),
        origin_delay_std_7d: origin.lookback('7d').stddev((f) => f.delay),
        origin_minutes_since_prev: origin.timeSinceLast('minutes'),
        route_delay_mean_7d: route.lookback('7d').mean((f) => f.delay),
      },
      { labels: { is_delayed: label.boolean<Flight>((f) => f.delay > 15) } },
    );
    return { features };
  },
  { description: 'Departure-delay features per origin airport and route (US flights, 2001).' },
);

export default flightDelays;

/** One training row: what the model sees for one flight, plus its label. */
export type FlightRow = RowOf<typeof flightDelays, 'features'>;
// { origin_flights_1h: number; origin_delay_mean_1h: number | null; ...; is_delayed: boolean | null }
// #endregion readme

// Compile-time check that the row type follows the definition.
const _typecheck: FlightRow = {
  origin_flights_1h: 0,
  origin_delay_mean_1h: null,
  origin_delay_mean_24h: 1.5,
  origin_delay_max_24h: null,
  origin_destinations_24h: 0,
  origin_delay_std_7d: null,
  origin_minutes_since_prev: null,
  route_delay_mean_7d: null,
  is_delayed: true,
  // @ts-expect-error: a feature that is not declared is a type error
  not_a_feature: 1,
};
void _typecheck;
