/**
 * flight-delays (topologies/flight-delays.ts) with a second, mostly quiet input in the same task:
 * diversions, flights keyed by origin like the main input, counted per origin over a day. Live,
 * a flight waits in the canonical merge until the diversions input has a record or is judged
 * idle (DESIGN.md rule 3), which is what bench/live-side-input.ts times.
 */
import { topology } from '../../src/dsl/index.js';
import { flightDelayFeatures, flightDelayLabels } from './flight-delay-features.js';
import type { Flight } from '../../topologies/flight-delays.js';

export default topology(
  'flight-delays-side-input',
  (t) => {
    const flights = t.source<Flight>('flights', {
      schema: '../../schemas/flight.avsc', // relative to this file
      key: (f) => f.origin,
      eventTime: (f) => f.date,
      grace: '1h',
      late: 'sideOutput',
    });
    const diversions = t.source<Flight>('diversions', {
      schema: '../../schemas/flight.avsc',
      key: (f) => f.origin,
      eventTime: (f) => f.date,
      grace: '1h',
    });
    const origin = flights.groupBy('origin', (f) => f.origin);
    const route = flights.groupBy('route', (f) => `${f.origin}-${f.destination}`);
    const diverted = diversions.groupBy('diverted_origin', (f) => f.origin);

    const features = flights.features('flight_features', flightDelayFeatures(origin, route), flightDelayLabels);
    const diversionFeatures = diversions.features('diversion_features', { diversions_24h: diverted.lookback('24h').count() });
    return { features, diversionFeatures };
  },
  { description: 'flight-delays with a mostly quiet second input (bench/live-side-input.ts).' },
);
