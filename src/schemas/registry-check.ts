/**
 * Check local schemas against a registry subject's registered versions, at the subject's own
 * compatibility level. Two independent verdicts per subject:
 * - the registry's (its compatibility endpoint): authoritative, but only yes or no;
 * - the local one (checkAgainstLevel over the registered versions' schemas): every problem
 *   with field path, rule and fix.
 * A registry "no" that the local rules cannot explain still becomes a problem, so the check
 * never passes what the registry would refuse at registration.
 */
import type { RegistryCompatibilityClient, RegisteredVersion } from '../io/avro/registry-compatibility.js';
import { checkAgainstLevel, pairsToCheck, type CompatibilityLevel, type Direction, type LevelProblem } from './compatibility-level.js';
import type { TopologySubject } from './registry-subjects.js';

export interface RegistryProblem {
  readonly subject: string;
  /** The registered version the problem is against ('all' / 'latest' for a registry-only verdict). */
  readonly version: string;
  readonly direction?: Direction;
  readonly path: string;
  readonly rule: string;
  readonly message: string;
  readonly fix: string;
  /** The .avsc file or output the schema comes from. */
  readonly schema: string;
}

export interface SubjectCheck {
  readonly subject: string;
  readonly role: 'source' | 'sink';
  readonly schema: string;
  readonly level: CompatibilityLevel;
  readonly levelFrom: 'subject' | 'global';
  /** Registered version numbers, oldest first; empty: a new subject, nothing to check. */
  readonly versions: readonly number[];
  /** The registry's verdict; undefined for a new subject or level NONE (nothing to ask). */
  readonly registryCompatible?: boolean;
  /** The version that already holds exactly this schema (registering it adds nothing); undefined when it would be new. */
  readonly registeredAs?: number;
  readonly problems: readonly RegistryProblem[];
}

/** The registered versions a level compares with: all of them for transitive levels, else the latest. */
async function versionsToFetch(client: RegistryCompatibilityClient, subject: string, versions: readonly number[], level: CompatibilityLevel): Promise<RegisteredVersion[]> {
  const needed = new Set(pairsToCheck(level, versions.map((v) => ({ version: v }))).map((p) => p.version as number));
  const out: RegisteredVersion[] = [];
  for (const v of versions) if (needed.has(v)) out.push(await client.version(subject, v));
  return out;
}

export interface CheckSubjectOptions {
  /** Also require equal decimal precision and scale (see CheckOptions of compatibility-rules.ts). */
  readonly strictDecimals?: boolean;
}

/** Check one subject: its level, its versions, the registry's verdict and the local problems. */
export async function checkSubject(client: RegistryCompatibilityClient, s: TopologySubject, opts: CheckSubjectOptions = {}): Promise<SubjectCheck> {
  const { level, from } = await client.subjectLevel(s.subject);
  const versions = await client.versions(s.subject);
  const registeredAs = versions.length === 0 ? undefined : await client.registeredVersion(s.subject, s.schema);
  const base = { subject: s.subject, role: s.role, schema: s.origin, level, levelFrom: from, versions, ...(registeredAs === undefined ? {} : { registeredAs }) };
  if (versions.length === 0 || level === 'NONE') return { ...base, problems: [] };

  const registered = await versionsToFetch(client, s.subject, versions, level);
  let local: LevelProblem[];
  try {
    local = checkAgainstLevel(s.schema, registered.map((r) => ({ version: r.version, schema: r.schema })), level, opts);
  } catch (e) {
    throw new Error(`subject ${s.subject} (${s.origin}): ${(e as Error).message}`);
  }
  const problems: RegistryProblem[] = local.map((p) => ({
    subject: s.subject,
    version: String(p.version),
    direction: p.direction,
    path: p.path,
    rule: p.rule,
    message: p.message,
    fix: p.fix,
    schema: s.origin,
  }));
  const verdict = await client.isCompatible(s.subject, s.schema, level);
  if (!verdict.compatible && problems.length === 0) {
    problems.push({
      subject: s.subject,
      version: verdict.against === 'latest' ? String(versions[versions.length - 1]) : 'all',
      path: '',
      rule: 'registry-incompatible',
      message: `the registry rejects the schema at level ${level} (against ${verdict.against === 'latest' ? 'the latest version' : 'all versions'}) but the local rules found no problem`,
      fix: `compare ${s.origin} with the registered versions (GET /subjects/${s.subject}/versions/<n>); the registry may apply a rule the local check does not know`,
      schema: s.origin,
    });
  }
  return { ...base, registryCompatible: verdict.compatible, problems };
}

/** Check every subject in order; registry errors (unreachable, HTTP) propagate. */
export async function checkSubjects(client: RegistryCompatibilityClient, subjects: readonly TopologySubject[], opts: CheckSubjectOptions = {}): Promise<SubjectCheck[]> {
  const out: SubjectCheck[] = [];
  for (const s of subjects) out.push(await checkSubject(client, s, opts));
  return out;
}
