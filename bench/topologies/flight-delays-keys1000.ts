/**
 * flight-delays with entity keys a thousand times finer, for bench/replay-scaling.ts
 * (`--variants keys1000`): each origin airport split into a thousand sub-entities by the same
 * hash as flight-delays-keys10.ts. Over flights-3m that gives 172,769 source keys and 1,607,107
 * routes, most of them flown once or twice: a replay whose keys' state outgrows a thread's heap
 * unless it moves cold keys to the state store (`--cache-keys`, src/modes/heap-pressure.ts).
 */
import type { Flight } from '../../topologies/flight-delays.js';
import { finerFlightDelays, flightHash } from './flight-delays-keys10.js';

/** One of 1,000 buckets of a flight (flightHash). */
export function flightBucket1000(f: Flight): number {
  return flightHash(f) % 1000;
}

export default finerFlightDelays('flight-delays-keys1000', 'flight-delays with a thousand sub-entities per origin airport (bench/replay-scaling.ts).', (f) => `${f.origin}#${flightBucket1000(f)}`);
