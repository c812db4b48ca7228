import { createHash } from 'node:crypto';
import { luxonLibrary } from './luxon-library.js';

/** The span whose rules a fingerprint covers: event times outside it are not expected in practice. */
const FROM = Date.UTC(1970, 0, 1);
const TO = Date.UTC(2100, 0, 1);
/** Sampling step: offsets are looked at weekly; each change found is located to the millisecond. */
const STEP = 7 * 86_400_000;

const fingerprints = new Map<string, string>();

/**
 * A fingerprint of a time zone's rules as this runtime knows them (Node's ICU tz data): every
 * change of its UTC offset from 1970 to 2100, to the millisecond. Calendar windows in the zone
 * move when those rules change (a Node upgrade with new tz data, a country that drops daylight
 * saving), so the fingerprint is part of the topology version: training data written under one
 * set of rules is never silently compared with vectors served under another, and a Node upgrade
 * that changes nothing for the zone leaves the version alone. Offsets are sampled weekly and
 * each change located by bisection, so a change and its reversal within one week would go
 * unseen (no zone of the tz database has one since 1970). About 50 ms per zone, once per process.
 */
export function zoneRulesFingerprint(timeZone: string): string {
  let fingerprint = fingerprints.get(timeZone);
  if (fingerprint === undefined) {
    const hash = createHash('sha256');
    for (const [t, offset] of zoneTransitions(timeZone, FROM, TO)) hash.update(`${t}:${offset};`);
    fingerprint = hash.digest('hex').slice(0, 16);
    fingerprints.set(timeZone, fingerprint);
  }
  return fingerprint;
}

/**
 * The zone's UTC offset (minutes) at `from`, then each instant in (from, to] where it changes
 * with the offset from there on, as [instant in ms, offset]. Offsets are sampled weekly and each
 * change located by bisection to the millisecond.
 */
export function zoneTransitions(timeZone: string, from: number, to: number): Array<readonly [number, number]> {
  const zone = luxonLibrary().IANAZone.create(timeZone);
  if (!zone.isValid) throw new Error(`unknown IANA time zone ${JSON.stringify(timeZone)}`);
  const offset = (t: number): number => zone.offset(t);
  let previous = offset(from);
  const out: Array<readonly [number, number]> = [[from, previous]];
  for (let t = from; t < to; ) {
    const next = Math.min(to, t + STEP);
    if (offset(next) === previous) {
      t = next;
      continue;
    }
    let lo = t;
    let hi = next;
    while (hi - lo > 1) {
      const mid = Math.floor(lo + (hi - lo) / 2);
      if (offset(mid) === previous) lo = mid;
      else hi = mid;
    }
    previous = offset(hi);
    out.push([hi, previous]);
    // Another change may follow within the same week.
    t = hi;
  }
  return out;
}
