/**
 * Features of both ends of a flight: its departure airport (the partition key) and its
 * arrival airport, reached through a regrouping by destination. Same input and schema as
 * flight-delays.ts (vega-datasets flights-3m.parquet), partitioned by origin.
 *
 * The destination's features are declared as of 5 minutes before departure: for a flight at
 * t they cover the flights to the same destination that departed in (t − 5 min − W, t − 5 min],
 * whichever origin partition they came from, so their values do not depend on the
 * partitioning (README, "Features across entities", shows the region marked `readme`).
 */
// #region readme
import { label, topology, type RowOf } from '../src/dsl/index.js';
import type { Flight } from './flight-delays.js';

const flightNetwork = topology(
  'flight-network',
  (t) => {
    const flights = t.source<Flight>('flights', {
      schema: '../schemas/flight.avsc',
      key: (f) => f.origin,
      eventTime: (f) => f.date,
      grace: '1h',
      late: 'sideOutput',
    });
    const origin = flights.groupBy('origin', (f) => f.origin);
    const dest = flights.regroupBy('dest', (f) => f.destination);

    const features = flights.features(
      'flight_features',
      {
        dest_flights_1h: dest.lookback('1h', { asOf: '5m' }).count(),
        dest_delay_mean_24h: dest.lookback('24h', { asOf: '5m' }).mean((f) => f.delay),
        origin_flights_1h: origin.lookback('1h').count(),
        origin_delay_mean_24h: origin.lookback('24h').mean((f) => f.delay),
      },
      {
        derive: {
          // How much worse flights into the destination did than flights out of here, over 24 h.
          dest_minus_origin_delay_24h: (v) => (v.dest_delay_mean_24h === null || v.origin_delay_mean_24h === null ? null : v.dest_delay_mean_24h - v.origin_delay_mean_24h),
        },
        labels: { is_delayed: label.boolean<Flight>((f) => f.delay > 15) },
      },
    );
    return { features };
  },
  { description: 'Delay features of the departure airport and, through a regrouping as of 5 minutes before, of the arrival airport (US flights, 2001).' },
);

export default flightNetwork;
// #endregion readme

/** One training row: both airports' features for one flight, plus its label. */
export type FlightNetworkRow = RowOf<typeof flightNetwork, 'features'>;
