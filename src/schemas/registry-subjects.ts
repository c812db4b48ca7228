/**
 * The registry subjects a topology writes or reads, with the schema it would put under each:
 * sources (`<topic>-value`, the local .avsc) and sinks (the live output topics' record schemas,
 * built exactly as the live worker builds them, so the check covers what `run` will register).
 */
import { relative } from 'node:path';
import { buildProgram } from '../engine/program.js';
import { featureRecordSchema, windowRecordSchema } from '../io/avro/feature-record-schema.js';
import type { CompiledPlan } from '../plan/compile.js';
import type { AvroSchemaJson } from './avro-model.js';

export interface TopologySubject {
  /** `<topic>-value`: explicit subjects (TopicNameStrategy), as produce and run use. */
  readonly subject: string;
  readonly role: 'source' | 'sink';
  /** The source or output name in the topology. */
  readonly name: string;
  readonly topic: string;
  readonly schema: AvroSchemaJson;
  /** Where the schema comes from: the .avsc (relative to cwd) or `output <name>` for sinks. */
  readonly origin: string;
}

export const valueSubject = (topic: string): string => `${topic}-value`;

const byName = <T extends { readonly name: string }>(a: T, b: T): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** Every subject of one compiled topology: sources first, then feature and window outputs, each by name. */
export function topologySubjects(plan: CompiledPlan, cwd: string): TopologySubject[] {
  const out: TopologySubject[] = [];
  for (const source of [...plan.topology.sources].sort(byName)) {
    const loaded = plan.schemas.get(source.name);
    if (!loaded) continue;
    out.push({
      subject: valueSubject(source.topic),
      role: 'source',
      name: source.name,
      topic: source.topic,
      schema: loaded.json as AvroSchemaJson,
      origin: relative(cwd, loaded.path) || loaded.path,
    });
  }
  // The program holds the output columns in canonical order, which the record schemas follow.
  const program = buildProgram(plan);
  for (const o of program.outputs) {
    out.push({ subject: valueSubject(o.topic), role: 'sink', name: o.name, topic: o.topic, schema: featureRecordSchema(o.name, o.columns) as AvroSchemaJson, origin: `output ${o.name}` });
  }
  for (const w of program.windowOps) {
    out.push({ subject: valueSubject(w.node.topic), role: 'sink', name: w.name, topic: w.node.topic, schema: windowRecordSchema(w.name, w.columns) as AvroSchemaJson, origin: `window output ${w.name}` });
  }
  return out;
}

/**
 * The subjects of several topologies, each subject once. Two topologies that read one topic
 * share its subject; when they would put different schemas under it, that is an error, since
 * only one of them can be the subject's next version.
 */
export function uniqueSubjects(all: readonly TopologySubject[]): TopologySubject[] {
  const seen = new Map<string, TopologySubject>();
  for (const s of all) {
    const prior = seen.get(s.subject);
    if (!prior) {
      seen.set(s.subject, s);
      continue;
    }
    if (JSON.stringify(prior.schema) !== JSON.stringify(s.schema)) {
      throw new Error(`subject ${s.subject}: ${prior.origin} and ${s.origin} define different schemas for it; use one schema per topic`);
    }
  }
  return [...seen.values()];
}
