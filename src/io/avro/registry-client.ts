/**
 * Schema registry access (Confluent API; Apicurio's ccompat layer in the local stack).
 *
 * Lookups by id go through @kafkajs/confluent-schema-registry, which caches schemas and sends
 * one request per id however many records ask at once. Registration is a direct POST: the
 * library omits `schemaType` for Avro and first compares the subject's compatibility level
 * with its own default, and Apicurio reports NONE for a subject registered without an
 * explicit level, so the library would refuse every second registration. We always send
 * `schemaType: "AVRO"` and leave compatibility to the registry's configuration.
 */
import avsc from 'avsc';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { RegistryHttp, RegistryUnreachableError, registryCauseText, type RegistryAnswer, type RegistryEndpoint } from './registry-http.js';

export { RegistryUnreachableError } from './registry-http.js';

const TIMEOUT_MS = 15_000;

/** The writer schema behind an id, or why there is none. */
export type WriterSchema =
  | { readonly type: avsc.Type }
  | { readonly missing: true }
  | { readonly notAvro: string };

/** What the live path needs of a schema registry: the HTTP client, or an in-memory one for broker-free tests. */
export interface SchemaRegistryPort {
  /** Register a schema under a subject and return its id (the existing id when already registered). */
  register(subject: string, schema: object): Promise<number>;
  /** The writer schema behind an id. */
  writerSchema(id: number): Promise<WriterSchema>;
}

const ok = (a: RegistryAnswer): boolean => a.status >= 200 && a.status < 300;

export class SchemaRegistryClient implements SchemaRegistryPort {
  private readonly registry: SchemaRegistry;
  /** Ids the registry said it does not have, until when (wall clock ms) that answer is trusted. */
  private readonly missing = new Map<number, number>();

  private constructor(
    private readonly http: RegistryHttp,
    private readonly missingTtlMs: number,
  ) {
    this.registry = new SchemaRegistry({ ...http.libraryArgs(), clientId: 'skewless' });
  }

  /** The registry's URL as messages show it (a password masked). */
  get url(): string {
    return this.http.shown;
  }

  /**
   * A client for the registry, after checking that it answers. An id the registry does
   * not know is asked again after `missingTtlMs` (default 30 s): a follower that lagged behind a
   * registration must not dead-letter that id's records until a restart.
   */
  static async open(registry: RegistryEndpoint | string, options: { readonly missingTtlMs?: number } = {}): Promise<SchemaRegistryClient> {
    const client = new SchemaRegistryClient(new RegistryHttp(registry), options.missingTtlMs ?? 30_000);
    const res = await client.request('GET', '/subjects');
    if (!ok(res)) throw new RegistryUnreachableError(client.url, `GET /subjects answered HTTP ${res.status}`);
    return client;
  }

  private request(method: string, path: string, body?: unknown): Promise<RegistryAnswer> {
    return this.http.request(method, path, body, TIMEOUT_MS);
  }

  /**
   * Register an Avro schema under an explicit subject (`<topic>-value`) and return its id.
   * Registering a schema the subject already has returns the existing id.
   */
  async register(subject: string, schema: object): Promise<number> {
    const res = await this.request('POST', `/subjects/${encodeURIComponent(subject)}/versions`, { schemaType: 'AVRO', schema: JSON.stringify(schema) });
    const text = res.text;
    let parsed: { id?: unknown; message?: unknown } = {};
    try {
      parsed = JSON.parse(text) as typeof parsed;
    } catch {
      // Not JSON: the status line and raw text below say what happened.
    }
    if (!ok(res)) {
      const message = typeof parsed.message === 'string' ? parsed.message : text.slice(0, 300);
      const why = res.status === 409 ? 'it is incompatible with the versions already registered' : `HTTP ${res.status}`;
      throw new Error(`cannot register the schema under subject ${subject}: ${why} (${message.replace(/\s+/g, ' ')})`);
    }
    if (typeof parsed.id !== 'number') throw new Error(`registering under subject ${subject}: the registry answered without a schema id (${text.slice(0, 200)})`);
    return parsed.id;
  }

  /**
   * The writer schema registered under `id`. Unknown ids are remembered for a while (records of
   * a wiped registry come in runs), so a poisoned topic costs one request per id and TTL, not per record.
   * A registry that cannot be reached throws: that is an outage, not a bad record.
   */
  async writerSchema(id: number): Promise<WriterSchema> {
    const until = this.missing.get(id);
    if (until !== undefined && Date.now() < until) return { missing: true };
    let schema: unknown;
    try {
      schema = await this.registry.getSchema(id);
    } catch (e) {
      const status = (e as { status?: unknown }).status;
      const denied = typeof status === 'number' ? this.http.authError(`GET /schemas/ids/${id}`, status) : undefined;
      if (denied) throw denied;
      if (status === 404) {
        this.missing.set(id, Date.now() + this.missingTtlMs);
        return { missing: true };
      }
      if (typeof status === 'number' && status !== 400) throw new Error(`schema registry ${this.url}: looking up schema id ${id} failed: ${registryCauseText(e)}`);
      // mappersmith reports a failed connection as status 400 without a body.
      throw new RegistryUnreachableError(this.url, registryCauseText(e));
    }
    if (schema instanceof avsc.Type) return { type: schema };
    return { notAvro: typeof schema === 'object' && schema !== null ? schema.constructor.name.replace(/Schema$/, '') || 'non-Avro' : 'non-Avro' };
  }
}
