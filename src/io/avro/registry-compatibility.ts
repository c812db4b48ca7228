/**
 * The registry half of `schemas check` / `schemas register`: a small typed client for the
 * Confluent compatibility API (Apicurio's ccompat layer in the local stack), on plain fetch.
 *
 * Apicurio quirks this client works around (see scripts/stack/README.md):
 * - `GET /config/{subject}` answers NONE for a subject without its own level, so we ask with
 *   `?defaultToGlobal=true`, and fall back to `GET /config` when the subject does not exist;
 * - `POST /compatibility/subjects/{s}/versions` checks *every* version whatever the level, so
 *   it is only right for the *_TRANSITIVE levels; the others go to `.../versions/latest`;
 * - `?verbose=true` is ignored: the registry only says yes or no, which is why the local
 *   avsc-based check lists the problems;
 * - `schemaType: "AVRO"` is always sent.
 */
// avsc's schema JSON type, which schemas/avro-model.ts also calls AvroSchemaJson.
import type { Schema as AvroSchemaJson } from 'avsc';
import { RegistryHttp, type RegistryEndpoint } from './registry-http.js';

/** The registry's compatibility levels; schemas/compatibility-level.ts says what each one checks. */
export const COMPATIBILITY_LEVELS = [
  'BACKWARD',
  'BACKWARD_TRANSITIVE',
  'FORWARD',
  'FORWARD_TRANSITIVE',
  'FULL',
  'FULL_TRANSITIVE',
  'NONE',
] as const;

export type CompatibilityLevel = (typeof COMPATIBILITY_LEVELS)[number];

const DEFAULT_TIMEOUT_MS = 15_000;
/** Confluent error code for "subject not found". */
const SUBJECT_NOT_FOUND = 40401;
/** Confluent error code for "schema not found" (under an existing subject). */
const SCHEMA_NOT_FOUND = 40403;

/** The registry answered, but not with what was asked for. */
export class RegistryHttpError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    readonly errorCode: number | undefined,
    registryMessage: string,
  ) {
    super(`schema registry: ${method} ${path} answered HTTP ${status}${errorCode === undefined ? '' : ` (error ${errorCode})`}: ${registryMessage}`);
    this.name = 'RegistryHttpError';
  }
}

/** A subject's compatibility level and where it comes from. */
export interface SubjectLevel {
  readonly level: CompatibilityLevel;
  /** 'subject': set on the subject (or the global default the registry resolved for it); 'global': the subject does not exist yet. */
  readonly from: 'subject' | 'global';
}

/** One registered version of a subject. */
export interface RegisteredVersion {
  readonly version: number;
  readonly id: number;
  readonly schema: AvroSchemaJson;
}

/** Which endpoint answered a compatibility question, so reports can say what was asked. */
export interface RegistryVerdict {
  readonly compatible: boolean;
  readonly against: 'all-versions' | 'latest';
}

export interface RegistryCompatibilityOptions {
  /** Per-request timeout (default 15 s). */
  readonly timeoutMs?: number;
}

interface JsonAnswer {
  readonly status: number;
  readonly body: unknown;
  readonly text: string;
}

function field(body: unknown, name: string): unknown {
  return body !== null && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>)[name] : undefined;
}

function levelOf(value: unknown, what: string): CompatibilityLevel {
  const found = COMPATIBILITY_LEVELS.find((l) => l === value);
  if (!found) throw new Error(`schema registry: ${what} answered an unknown compatibility level ${JSON.stringify(value)}`);
  return found;
}

export class RegistryCompatibilityClient {
  private readonly http: RegistryHttp;
  private readonly timeoutMs: number;

  /** A registry URL (credentials in it become basic auth) or an endpoint with its auth and TLS. */
  constructor(registry: RegistryEndpoint | string, opts: RegistryCompatibilityOptions = {}) {
    this.http = new RegistryHttp(registry);
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  /** The registry's URL as messages show it (a password masked). */
  get url(): string {
    return this.http.shown;
  }

  /** The registry and its credentials, for another client of the same registry. */
  get endpoint(): RegistryEndpoint {
    return this.http.endpoint;
  }

  private async call(method: string, path: string, body?: unknown): Promise<JsonAnswer> {
    const { status, text } = await this.http.request(method, path, body, this.timeoutMs);
    let parsed: unknown = undefined;
    try {
      parsed = text === '' ? undefined : (JSON.parse(text) as unknown);
    } catch {
      // Not JSON (a proxy's error page...): the raw text goes into the error below.
    }
    return { status, body: parsed, text };
  }

  private fail(method: string, path: string, a: JsonAnswer): never {
    const code = field(a.body, 'error_code');
    const message = field(a.body, 'message');
    throw new RegistryHttpError(
      method,
      path,
      a.status,
      typeof code === 'number' ? code : undefined,
      (typeof message === 'string' ? message : a.text.slice(0, 300)).replace(/\s+/g, ' '),
    );
  }

  private static notFound(a: JsonAnswer): boolean {
    return a.status === 404 && (field(a.body, 'error_code') === SUBJECT_NOT_FOUND || field(a.body, 'error_code') === undefined);
  }

  /** The global compatibility level (`GET /config`). */
  async globalLevel(): Promise<CompatibilityLevel> {
    const path = '/config';
    const a = await this.call('GET', path);
    if (a.status !== 200) this.fail('GET', path, a);
    return levelOf(field(a.body, 'compatibilityLevel') ?? field(a.body, 'compatibility'), `GET ${path}`);
  }

  /**
   * The level the registry applies to `subject`: its own, else the global one. Apicurio
   * answers NONE for a subject without its own level unless asked with defaultToGlobal, and
   * 404 for a subject that does not exist (then the global level is what it will get).
   */
  async subjectLevel(subject: string): Promise<SubjectLevel> {
    const path = `/config/${encodeURIComponent(subject)}?defaultToGlobal=true`;
    const a = await this.call('GET', path);
    if (a.status === 200) return { level: levelOf(field(a.body, 'compatibilityLevel') ?? field(a.body, 'compatibility'), `GET ${path}`), from: 'subject' };
    if (RegistryCompatibilityClient.notFound(a)) return { level: await this.globalLevel(), from: 'global' };
    return this.fail('GET', path, a);
  }

  /** Set a subject's own level (`PUT /config/{subject}`). */
  async setSubjectLevel(subject: string, level: CompatibilityLevel): Promise<void> {
    const path = `/config/${encodeURIComponent(subject)}`;
    const a = await this.call('PUT', path, { compatibility: level });
    if (a.status !== 200) this.fail('PUT', path, a);
  }

  /** The subject's version numbers in registration order; empty when the subject does not exist. */
  async versions(subject: string): Promise<number[]> {
    const path = `/subjects/${encodeURIComponent(subject)}/versions`;
    const a = await this.call('GET', path);
    if (RegistryCompatibilityClient.notFound(a)) return [];
    if (a.status !== 200 || !Array.isArray(a.body) || !a.body.every((v): v is number => typeof v === 'number')) this.fail('GET', path, a);
    return [...(a.body as number[])].sort((x, y) => x - y);
  }

  /** One registered version's Avro schema. */
  async version(subject: string, version: number): Promise<RegisteredVersion> {
    const path = `/subjects/${encodeURIComponent(subject)}/versions/${version}`;
    const a = await this.call('GET', path);
    if (a.status !== 200) this.fail('GET', path, a);
    const schemaType = field(a.body, 'schemaType');
    if (schemaType !== undefined && schemaType !== 'AVRO') {
      throw new Error(`subject ${subject} version ${version} is a ${String(schemaType)} schema, not Avro; skewless subjects hold Avro only`);
    }
    const schema = field(a.body, 'schema');
    const id = field(a.body, 'id');
    if (typeof schema !== 'string' || typeof id !== 'number') this.fail('GET', path, a);
    try {
      return { version, id: id as number, schema: JSON.parse(schema as string) as AvroSchemaJson };
    } catch (e) {
      throw new Error(`subject ${subject} version ${version}: the registered schema is not JSON (${(e as Error).message})`);
    }
  }

  /**
   * The version of `subject` that already holds `schema` (`POST /subjects/{subject}`, the
   * registry's own schema equality), or undefined when registering it would add a version.
   */
  async registeredVersion(subject: string, schema: AvroSchemaJson): Promise<number | undefined> {
    const path = `/subjects/${encodeURIComponent(subject)}`;
    const a = await this.call('POST', path, { schemaType: 'AVRO', schema: JSON.stringify(schema) });
    if (a.status === 404 && [SUBJECT_NOT_FOUND, SCHEMA_NOT_FOUND, undefined].includes(field(a.body, 'error_code') as number | undefined)) return undefined;
    const version = field(a.body, 'version');
    if (a.status !== 200 || typeof version !== 'number') this.fail('POST', path, a);
    return version as number;
  }

  /**
   * Whether the registry accepts `schema` as the next version of `subject` under `level`.
   * Transitive levels ask the all-versions endpoint; the others ask against the latest version
   * only, because Apicurio's all-versions endpoint checks every version whatever the level and
   * would reject changes a non-transitive level allows.
   */
  async isCompatible(subject: string, schema: AvroSchemaJson, level: CompatibilityLevel): Promise<RegistryVerdict> {
    const against = level.endsWith('_TRANSITIVE') ? 'all-versions' : 'latest';
    const path = `/compatibility/subjects/${encodeURIComponent(subject)}/versions${against === 'latest' ? '/latest' : ''}`;
    const a = await this.call('POST', path, { schemaType: 'AVRO', schema: JSON.stringify(schema) });
    const verdict = field(a.body, 'is_compatible');
    if (a.status !== 200 || typeof verdict !== 'boolean') this.fail('POST', path, a);
    return { compatible: verdict as boolean, against };
  }
}
