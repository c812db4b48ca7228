/**
 * flight-delays (topologies/flight-delays.ts) with entity keys ten times finer, for
 * bench/replay-scaling.ts: the same features under the same names, but each origin airport is
 * split into ten sub-entities `${origin}#${bucket}`, the bucket a hash of the departure minute
 * and the destination (see flightBucket). Over flights-3m that gives 2,279 source keys instead of
 * 229 and 33,566 routes instead of 3,399, each bucket holding between 9.96 % and 10.04 % of the flights.
 * Route stays a refinement of the (new) partition key, so it lives in its key's task.
 */
import { topology } from '../../src/dsl/index.js';
import { flightDelayFeatures, flightDelayLabels } from './flight-delay-features.js';
import type { Flight } from '../../topologies/flight-delays.js';

/**
 * A deterministic function of the payload: a multiplicative hash of the departure minute and
 * the destination, an unsigned 32-bit integer. Pure (the workers import this file, so the key
 * functions can call it; the plan's fingerprint sees only the call, not this body).
 */
export function flightHash(f: Flight): number {
  let h = Math.imul(Math.floor(f.date / 60_000) | 0, 0x9e3779b1);
  for (let i = 0; i < f.destination.length; i++) h = Math.imul(h ^ f.destination.charCodeAt(i), 0x01000193);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  return h >>> 0;
}

/** One of 10 buckets of a flight (flightHash). */
export function flightBucket(f: Flight): number {
  return flightHash(f) % 10;
}

/**
 * flight-delays over finer entities: `entity` gives a flight's source key, which is also its
 * origin group's key; its route is that entity and the destination (still a refinement of the
 * source key, so it lives in its key's task).
 */
export function finerFlightDelays(name: string, description: string, entity: (f: Flight) => string): ReturnType<typeof topology> {
  return topology(
    name,
    (t) => {
      const flights = t.source<Flight>('flights', {
        schema: '../../schemas/flight.avsc', // relative to this file
        key: entity,
        eventTime: (f) => f.date,
        grace: '1h',
        late: 'sideOutput',
      });
      const origin = flights.groupBy('origin', entity);
      const route = flights.groupBy('route', (f) => `${entity(f)}-${f.destination}`);

      const features = flights.features('flight_features', flightDelayFeatures(origin, route), flightDelayLabels);
      return { features };
    },
    { description },
  );
}

export default finerFlightDelays('flight-delays-keys10', 'flight-delays with ten sub-entities per origin airport (bench/replay-scaling.ts).', (f) => `${f.origin}#${flightBucket(f)}`);
