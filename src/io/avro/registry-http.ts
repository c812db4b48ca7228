/**
 * HTTP to the schema registry with the configured basic auth and TLS (a private CA, a client
 * certificate), for our own requests and for @kafkajs/confluent-schema-registry alike. On
 * node:http(s) rather than fetch: Node 20's fetch takes a custom CA or client certificate only
 * through an undici Agent, which is not a dependency.
 */
import http from 'node:http';
import https from 'node:https';
import type { BasicAuth, RegistrySecurity } from '../client-security.js';
import { tlsErrorText, tlsFailureHint } from '../tls-failure.js';
import { shownUrl, splitUrlCredentials } from '../url-credentials.js';

/** A registry and how to authenticate to it. */
export interface RegistryEndpoint extends RegistrySecurity {
  /** Without user-info. */
  readonly url: string;
}

/** The endpoint of a registry URL (credentials in it become basic auth unless `security` has some), trailing slashes dropped. */
export function registryEndpoint(registryUrl: string, security?: RegistrySecurity): RegistryEndpoint {
  const split = splitUrlCredentials(registryUrl);
  const fromUrl: BasicAuth | undefined = split.username === undefined ? undefined : { username: split.username, password: split.password ?? '', source: 'the registry URL' };
  const auth = security?.auth ?? fromUrl;
  return { url: split.url.replace(/\/+$/, ''), ...(auth ? { auth } : {}), ...(security?.tls ? { tls: security.tls } : {}) };
}

/** No registry answers at the URL: a configuration problem, reported as one line. */
export class RegistryUnreachableError extends Error {
  constructor(url: string, cause: string) {
    super(
      `cannot reach the schema registry at ${url} (${cause}): start the local stack with \`npm run stack:up\` ` +
        '(then `export $(node scripts/stack/up.mjs)`) or set SCHEMA_REGISTRY_URL / --registry',
    );
    this.name = 'RegistryUnreachableError';
  }
}

/** The registry refused our credentials (401) or their permissions (403). */
export class RegistryAuthError extends Error {
  constructor(url: string, request: string, status: number, auth: BasicAuth | undefined) {
    const fix = auth
      ? status === 401
        ? `check the user and password (from ${auth.source})`
        : `user "${auth.username}" (from ${auth.source}) may not do this: grant it, or use a user that may`
      : 'it needs credentials: set schema.registry.basic.auth.user.info=user:password in the config file (--config / SKEWLESS_CONFIG) or SKEWLESS_SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO';
    super(`schema registry ${url} answered ${request} with HTTP ${status} (${status === 401 ? 'unauthorized' : 'forbidden'}): ${fix}`);
    this.name = 'RegistryAuthError';
  }
}

export interface RegistryAnswer {
  readonly status: number;
  readonly text: string;
}

/** The arguments @kafkajs/confluent-schema-registry takes for the same registry. */
export interface RegistryLibraryArgs {
  readonly host: string;
  readonly auth?: { readonly username: string; readonly password: string };
  readonly agent: http.Agent;
}

const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';

/** The cause of a failed request, with the fix for a TLS failure. */
export function registryCauseText(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const code = (e as NodeJS.ErrnoException).code;
  const hint = tlsFailureHint(code, 'schema.registry.ssl.');
  const cause = (e as Error & { cause?: unknown }).cause;
  const text = tlsErrorText(cause instanceof Error ? `${e.message}: ${cause.message}` : e.message);
  return hint === undefined ? text : `${text}: ${hint}`;
}

export class RegistryHttp {
  readonly endpoint: RegistryEndpoint;
  /** The URL as messages show it: `https://alice:***@host/path` when authenticating. */
  readonly shown: string;
  private readonly agent: http.Agent;
  private readonly authorization?: string;

  constructor(registry: RegistryEndpoint | string) {
    this.endpoint = typeof registry === 'string' ? registryEndpoint(registry) : { ...registry, url: registry.url.replace(/\/+$/, '') };
    const { url, auth, tls } = this.endpoint;
    this.shown = shownUrl(url, auth?.username);
    this.agent = url.toLowerCase().startsWith('https:')
      ? new https.Agent({
          keepAlive: true,
          ...(tls?.ca === undefined ? {} : { ca: [tls.ca] }),
          ...(tls?.cert === undefined ? {} : { cert: tls.cert }),
          ...(tls?.key === undefined ? {} : { key: tls.key }),
        })
      : new http.Agent({ keepAlive: true });
    if (auth) this.authorization = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
  }

  libraryArgs(): RegistryLibraryArgs {
    const { url, auth } = this.endpoint;
    return { host: url, agent: this.agent, ...(auth ? { auth: { username: auth.username, password: auth.password } } : {}) };
  }

  /** RegistryAuthError for a 401 or 403 answer to `request` ("GET /subjects"), else undefined. */
  authError(request: string, status: number): RegistryAuthError | undefined {
    return status === 401 || status === 403 ? new RegistryAuthError(this.shown, request, status, this.endpoint.auth) : undefined;
  }

  /**
   * One request with a JSON body (when given). A registry that cannot be reached throws
   * RegistryUnreachableError, one that refuses the credentials RegistryAuthError; any other
   * answer is returned for the caller to judge.
   */
  request(method: string, path: string, body: unknown, timeoutMs: number): Promise<RegistryAnswer> {
    const target = new URL(`${this.endpoint.url}${path}`);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = { accept: CONTENT_TYPE };
    if (payload !== undefined) headers['content-type'] = CONTENT_TYPE;
    if (this.authorization !== undefined) headers.authorization = this.authorization;
    const request = `${method} ${path}`;
    return new Promise<RegistryAnswer>((resolve, reject) => {
      const req = (target.protocol === 'https:' ? https : http).request(target, { method, headers, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (e) => fail(e));
        res.on('end', () => {
          clearTimeout(timer);
          const status = res.statusCode ?? 0;
          const denied = this.authError(request, status);
          if (denied) reject(denied);
          else resolve({ status, text: Buffer.concat(chunks).toString('utf8') });
        });
      });
      const fail = (e: unknown): void => {
        clearTimeout(timer);
        reject(new RegistryUnreachableError(this.shown, `${request}: ${registryCauseText(e)}`));
      };
      const timer = setTimeout(() => req.destroy(new Error(`no answer within ${timeoutMs / 1000} s`)), timeoutMs);
      req.on('error', fail);
      req.end(payload);
    });
  }
}
