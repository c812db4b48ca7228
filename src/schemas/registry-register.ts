/**
 * `schemas register`: put every subject's schema into the registry under its explicit subject,
 * all or nothing as far as the check can tell: the whole check runs first, and nothing is
 * registered when any subject has a problem (a half-registered topology would leave sources
 * and sinks at different versions).
 */
import { SchemaRegistryClient } from '../io/avro/registry-client.js';
import type { RegistryCompatibilityClient } from '../io/avro/registry-compatibility.js';
import { checkSubjects, type CheckSubjectOptions, type SubjectCheck } from './registry-check.js';
import type { TopologySubject } from './registry-subjects.js';

export interface RegisteredSubject {
  readonly subject: string;
  readonly id: number;
  /** False when the registry already held this exact schema (it returns the existing id). */
  readonly added: boolean;
}

export type RegisterOutcome =
  | { readonly refused: true; readonly checks: readonly SubjectCheck[] }
  | { readonly refused: false; readonly checks: readonly SubjectCheck[]; readonly registered: readonly RegisteredSubject[] };

/** Check all subjects, then register them in order unless any has a problem. */
export async function registerSubjects(client: RegistryCompatibilityClient, subjects: readonly TopologySubject[], opts: CheckSubjectOptions = {}): Promise<RegisterOutcome> {
  const checks = await checkSubjects(client, subjects, opts);
  if (checks.some((c) => c.problems.length > 0)) return { refused: true, checks };
  const registry = await SchemaRegistryClient.open(client.endpoint);
  const registered: RegisteredSubject[] = [];
  for (const s of subjects) {
    const before = checks.find((c) => c.subject === s.subject)?.versions.length ?? 0;
    const id = await registry.register(s.subject, s.schema as object);
    // Registering a schema the subject already has adds no version: count to tell the two apart.
    const after = (await client.versions(s.subject)).length;
    registered.push({ subject: s.subject, id, added: after > before });
  }
  return { refused: false, checks, registered };
}
