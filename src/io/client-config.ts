/**
 * One connection configuration for every command that talks to Kafka or the schema registry
 * (README, "Production"). Sources, highest first: flags (--brokers, --registry), environment
 * (SKEWLESS_<KEY>, plus KAFKA_BROKERS and SCHEMA_REGISTRY_URL), a properties file (--config or
 * SKEWLESS_CONFIG), defaults. Keys are the librdkafka / Confluent client names Kafka users know.
 * Secrets come from the file or the environment only: a command line is visible to every user
 * of the machine.
 */
import { readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { SASL_MECHANISMS, SECURITY_PROTOCOLS, type BasicAuth, type ClientSecurity, type KafkaSecurity, type RegistrySecurity, type SaslSettings, type SecurityProtocol, type TlsSettings } from './client-security.js';
import { parseBrokers } from './kafka/kafka-connection.js';
import { parseProperties, type PropertyLine } from './properties-file.js';
import { registerSecret } from './secret-redaction.js';
import { splitUrlCredentials } from './url-credentials.js';

export const CLIENT_CONFIG_KEYS = [
  'bootstrap.servers',
  'security.protocol',
  'sasl.mechanism',
  'sasl.username',
  'sasl.password',
  'ssl.ca.location',
  'ssl.certificate.location',
  'ssl.key.location',
  'ssl.key.password',
  'ssl.endpoint.identification.algorithm',
  'schema.registry.url',
  'schema.registry.basic.auth.user.info',
  'schema.registry.ssl.ca.location',
  'schema.registry.ssl.certificate.location',
  'schema.registry.ssl.key.location',
] as const;

export type ClientConfigKey = (typeof CLIENT_CONFIG_KEYS)[number];

/** Keys whose values never come from a flag and never appear in a message. */
export const SECRET_KEYS: ReadonlySet<ClientConfigKey> = new Set(['sasl.password', 'ssl.key.password', 'schema.registry.basic.auth.user.info']);

/** `sasl.password` → `SKEWLESS_SASL_PASSWORD`. */
export const envName = (key: ClientConfigKey): string => `SKEWLESS_${key.toUpperCase().replace(/\./g, '_')}`;

/** The names these keys had before the config file, still read. */
const ENV_ALIASES: Partial<Record<ClientConfigKey, string>> = { 'bootstrap.servers': 'KAFKA_BROKERS', 'schema.registry.url': 'SCHEMA_REGISTRY_URL' };

const FLAGS: Partial<Record<ClientConfigKey, keyof ClientConfigFlags>> = { 'bootstrap.servers': 'brokers', 'schema.registry.url': 'registry' };

/** SKEWLESS_* variables under these prefixes are meant as settings: a typo is an error, not ignored. */
const ENV_PREFIXES = ['SKEWLESS_BOOTSTRAP_', 'SKEWLESS_SECURITY_', 'SKEWLESS_SASL_', 'SKEWLESS_SSL_', 'SKEWLESS_SCHEMA_REGISTRY_'];

export interface ClientConfigFlags {
  /** --config <file>; default $SKEWLESS_CONFIG. */
  readonly config?: string;
  /** --brokers host:port,... (optionally PROTOCOL://host:port,...). */
  readonly brokers?: string;
  /** --registry <url> (without credentials). */
  readonly registry?: string;
}

export interface ClientConfig {
  /** Undefined when no source names brokers (commands that need them say so). */
  readonly brokers?: readonly string[];
  /** Without user-info, which is in security.registry.auth. */
  readonly registryUrl?: string;
  readonly security: ClientSecurity;
  /** One-line warnings for stderr (a config file holding secrets readable by others). */
  readonly warnings: readonly string[];
}

interface Setting {
  readonly value: string;
  /** Where it was set, for messages: `--brokers`, `SKEWLESS_SASL_USERNAME`, `/etc/skewless/client.properties:3`. */
  readonly origin: string;
  /** The config file's folder, for relative paths in it. */
  readonly baseDir?: string;
  readonly fromFlag: boolean;
}

type Settings = ReadonlyMap<ClientConfigKey, Setting>;

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length];
}

function nearest(name: string, candidates: readonly string[]): string {
  return candidates.reduce((best, c) => (editDistance(name, c) < editDistance(name, best) ? c : best));
}

interface ConfigFile {
  readonly path: string;
  readonly lines: readonly PropertyLine[];
  readonly mode: number;
}

function readConfigFile(flags: ClientConfigFlags, env: NodeJS.ProcessEnv): ConfigFile | undefined {
  const given = flags.config ?? (env.SKEWLESS_CONFIG || undefined);
  if (given === undefined) return undefined;
  const how = flags.config !== undefined ? `--config ${given}` : `SKEWLESS_CONFIG=${given}`;
  const path = resolve(given);
  let text: string;
  let mode: number;
  try {
    mode = statSync(path).mode;
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`${how}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'a directory, not a properties file' : (e as Error).message}`);
  }
  const lines = parseProperties(text, path);
  for (const l of lines) {
    if (!(CLIENT_CONFIG_KEYS as readonly string[]).includes(l.key)) {
      throw new Error(`${path}:${l.line}: unknown key "${l.key}"; did you mean ${nearest(l.key, CLIENT_CONFIG_KEYS)}? (the keys are listed in the README, "Production")`);
    }
  }
  return { path, lines, mode };
}

function checkEnvNames(env: NodeJS.ProcessEnv): void {
  const known = CLIENT_CONFIG_KEYS.map(envName);
  for (const name of Object.keys(env).sort()) {
    if (ENV_PREFIXES.some((p) => name.startsWith(p)) && !known.includes(name)) {
      throw new Error(`unknown environment variable ${name}; did you mean ${nearest(name, known)}?`);
    }
  }
}

function envSetting(key: ClientConfigKey, env: NodeJS.ProcessEnv): Setting | undefined {
  const own = env[envName(key)] || undefined;
  const aliasName = ENV_ALIASES[key];
  const alias = aliasName === undefined ? undefined : env[aliasName] || undefined;
  if (own !== undefined && alias !== undefined && own !== alias) {
    throw new Error(`${aliasName} and ${envName(key)} are both set, to different values: unset one`);
  }
  if (own !== undefined) return { value: own, origin: envName(key), fromFlag: false };
  if (alias !== undefined) return { value: alias, origin: aliasName!, fromFlag: false };
  return undefined;
}

function collectSettings(flags: ClientConfigFlags, env: NodeJS.ProcessEnv, file: ConfigFile | undefined): Map<ClientConfigKey, Setting> {
  const settings = new Map<ClientConfigKey, Setting>();
  for (const key of CLIENT_CONFIG_KEYS) {
    const flag = FLAGS[key];
    const flagValue = flag === undefined ? undefined : flags[flag];
    const line = file?.lines.find((l) => l.key === key);
    const setting: Setting | undefined =
      flagValue !== undefined
        ? { value: flagValue, origin: `--${flag}`, fromFlag: true }
        : (envSetting(key, env) ?? (line && file ? { value: line.value, origin: `${file.path}:${line.line}`, baseDir: dirname(file.path), fromFlag: false } : undefined));
    if (setting !== undefined) settings.set(key, setting);
  }
  return settings;
}

function choice<T extends string>(s: Setting, key: ClientConfigKey, allowed: readonly T[]): T {
  const found = allowed.find((a) => a === s.value.toUpperCase());
  if (found === undefined) throw new Error(`${key}=${s.value} (${s.origin}): expected one of ${allowed.join(', ')}`);
  return found;
}

/** `SASL_SSL://h:9093,h2:9093` → the brokers and the protocol the prefix names. */
function brokerList(s: Setting): { brokers: string[]; protocol?: SecurityProtocol; protocolOrigin?: string } {
  let protocol: SecurityProtocol | undefined;
  const hosts: string[] = [];
  for (const entry of s.value.split(',').map((e) => e.trim()).filter((e) => e !== '')) {
    const m = /^([A-Za-z_]+):\/\/(.*)$/.exec(entry);
    if (m) {
      const p = choice({ ...s, value: m[1] }, 'security.protocol', SECURITY_PROTOCOLS);
      if (protocol !== undefined && p !== protocol) throw new Error(`${s.origin}: the brokers name two protocols, ${protocol} and ${p}: use one`);
      protocol = p;
    }
    hosts.push(m ? m[2] : entry);
  }
  try {
    return { brokers: parseBrokers(hosts.join(',')), ...(protocol === undefined ? {} : { protocol, protocolOrigin: s.origin }) };
  } catch (e) {
    throw new Error(`${s.origin}: ${(e as Error).message}`);
  }
}

function readPem(s: Setting, key: ClientConfigKey): string {
  const path = resolve(s.baseDir ?? '.', s.value);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`${key}=${s.value} (${s.origin}): ${code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  if (!text.includes('-----BEGIN ')) {
    throw new Error(`${key}=${s.value} (${s.origin}): not a PEM file (no "-----BEGIN" line); convert a JKS or PKCS#12 store to PEM with keytool or openssl`);
  }
  return text;
}

/** The TLS files under `prefix` ('ssl.' or 'schema.registry.ssl.'), read once. */
function tlsFiles(settings: Settings, prefix: 'ssl.' | 'schema.registry.ssl.'): { ca?: string; cert?: string; key?: string } {
  const get = (name: string): Setting | undefined => settings.get(`${prefix}${name}` as ClientConfigKey);
  const cert = get('certificate.location');
  const key = get('key.location');
  if ((cert === undefined) !== (key === undefined)) {
    const [has, lacks] = cert !== undefined ? [`${prefix}certificate.location`, `${prefix}key.location`] : [`${prefix}key.location`, `${prefix}certificate.location`];
    throw new Error(`${has} is set (${(cert ?? key)!.origin}) without ${lacks}: a client certificate needs both (PEM files)`);
  }
  const ca = get('ca.location');
  return {
    ...(ca ? { ca: readPem(ca, `${prefix}ca.location` as ClientConfigKey) } : {}),
    ...(cert ? { cert: readPem(cert, `${prefix}certificate.location` as ClientConfigKey) } : {}),
    ...(key ? { key: readPem(key, `${prefix}key.location` as ClientConfigKey) } : {}),
  };
}

const SASL_KEYS: readonly ClientConfigKey[] = ['sasl.mechanism', 'sasl.username', 'sasl.password'];
const SSL_KEYS: readonly ClientConfigKey[] = ['ssl.ca.location', 'ssl.certificate.location', 'ssl.key.location', 'ssl.key.password', 'ssl.endpoint.identification.algorithm'];

function kafkaSecurity(settings: Settings): { brokers?: string[]; kafka: KafkaSecurity } {
  const servers = settings.get('bootstrap.servers');
  const list = servers === undefined ? undefined : brokerList(servers);
  const configured = settings.get('security.protocol');
  const chosen = configured === undefined ? undefined : choice(configured, 'security.protocol', SECURITY_PROTOCOLS);
  if (chosen !== undefined && list?.protocol !== undefined && chosen !== list.protocol) {
    throw new Error(`${list.protocolOrigin} names ${list.protocol}, but security.protocol is ${chosen} (${configured!.origin}): make them agree`);
  }
  const protocol: SecurityProtocol = chosen ?? list?.protocol ?? 'PLAINTEXT';
  const protocolOrigin = configured?.origin ?? list?.protocolOrigin ?? 'the default';
  const misplaced = (keys: readonly ClientConfigKey[], wants: string): void => {
    const k = keys.find((key) => settings.has(key));
    if (k !== undefined) throw new Error(`${k} is set (${settings.get(k)!.origin}) but security.protocol is ${protocol} (${protocolOrigin}): set security.protocol=${wants}, or remove ${k}`);
  };

  let sasl: SaslSettings | undefined;
  if (protocol.startsWith('SASL_')) {
    const missing = SASL_KEYS.filter((k) => !settings.has(k));
    if (missing.length > 0) {
      throw new Error(
        `security.protocol ${protocol} (${protocolOrigin}) needs sasl.mechanism (${SASL_MECHANISMS.join(', ')}), sasl.username and sasl.password; missing: ` +
          `${missing.join(', ')} (set them in the config file or as ${missing.map(envName).join(', ')})`,
      );
    }
    const [mechanism, username, password] = SASL_KEYS.map((k) => settings.get(k)!);
    sasl = { mechanism: choice(mechanism, 'sasl.mechanism', SASL_MECHANISMS), username: username.value, password: password.value, source: originsOf([username, password]) };
  } else {
    misplaced(SASL_KEYS, protocol === 'SSL' ? 'SASL_SSL' : 'SASL_SSL (or SASL_PLAINTEXT)');
  }

  let tls: TlsSettings | undefined;
  if (protocol === 'SSL' || protocol === 'SASL_SSL') {
    const identification = settings.get('ssl.endpoint.identification.algorithm');
    const verify = identification === undefined ? 'HTTPS' : identification.value === '' ? 'NONE' : choice(identification, 'ssl.endpoint.identification.algorithm', ['HTTPS', 'NONE'] as const);
    const keyPassword = settings.get('ssl.key.password');
    const files = tlsFiles(settings, 'ssl.');
    if (keyPassword !== undefined && files.key === undefined) throw new Error(`ssl.key.password is set (${keyPassword.origin}) without ssl.key.location`);
    tls = { ...files, ...(keyPassword ? { keyPassword: keyPassword.value } : {}), verifyHostname: verify === 'HTTPS' };
  } else {
    misplaced(SSL_KEYS, protocol === 'SASL_PLAINTEXT' ? 'SASL_SSL' : 'SSL (or SASL_SSL)');
  }
  return { ...(list ? { brokers: list.brokers } : {}), kafka: { protocol, ...(tls ? { tls } : {}), ...(sasl ? { sasl } : {}) } };
}

/** `/etc/skewless/client.properties and SKEWLESS_SASL_PASSWORD`: where credentials came from, without file lines. */
function originsOf(settings: readonly Setting[]): string {
  return [...new Set(settings.map((s) => (s.baseDir === undefined ? s.origin : s.origin.replace(/:\d+$/, ''))))].join(' and ');
}

function userInfo(s: Setting): BasicAuth {
  const colon = s.value.indexOf(':');
  if (colon < 0) throw new Error(`schema.registry.basic.auth.user.info (${s.origin}): expected user:password`);
  return { username: s.value.slice(0, colon), password: s.value.slice(colon + 1), source: `schema.registry.basic.auth.user.info in ${originsOf([s])}` };
}

function registrySecurity(settings: Settings): { registryUrl?: string; registry: RegistrySecurity } {
  const urlSetting = settings.get('schema.registry.url');
  const split = urlSetting === undefined ? undefined : splitUrlCredentials(urlSetting.value.trim());
  if (urlSetting?.fromFlag && split?.username !== undefined) {
    throw new Error(
      `${urlSetting.origin}: the URL carries credentials, and a command line is visible to every user of the machine: ` +
        `put them in the config file (schema.registry.basic.auth.user.info=user:password) or ${envName('schema.registry.basic.auth.user.info')}`,
    );
  }
  const registryUrl = split?.url.replace(/\/+$/, '');
  if (registryUrl !== undefined && !/^https?:\/\/[^\s/?#]+\S*$/i.test(registryUrl)) {
    throw new Error(`bad schema registry URL "${registryUrl}" (${urlSetting!.origin}): expected http(s)://host:port/path`);
  }
  const fromUrl: BasicAuth | undefined =
    split?.username === undefined ? undefined : { username: split.username, password: split.password ?? '', source: `the user-info of the registry URL in ${originsOf([urlSetting!])}` };
  const infoSetting = settings.get('schema.registry.basic.auth.user.info');
  const fromInfo = infoSetting === undefined ? undefined : userInfo(infoSetting);
  if (fromUrl && fromInfo && (fromUrl.username !== fromInfo.username || fromUrl.password !== fromInfo.password)) {
    throw new Error(`${fromUrl.source} and ${fromInfo.source} name different credentials: keep one`);
  }
  const auth = fromInfo ?? fromUrl;
  const files = tlsFiles(settings, 'schema.registry.ssl.');
  if (Object.keys(files).length > 0 && registryUrl !== undefined && !registryUrl.toLowerCase().startsWith('https://')) {
    throw new Error(`schema.registry.ssl.* is set but the registry URL ${registryUrl} (${urlSetting!.origin}) is not https`);
  }
  const tls: TlsSettings | undefined = Object.keys(files).length > 0 ? { ...files, verifyHostname: true } : undefined;
  return { ...(registryUrl === undefined ? {} : { registryUrl }), registry: { ...(auth ? { auth } : {}), ...(tls ? { tls } : {}) } };
}

/** A file with secrets that group or others may read: the warning to print, if any. */
function permissionWarning(file: ConfigFile | undefined): string[] {
  if (file === undefined || process.platform === 'win32' || (file.mode & 0o077) === 0) return [];
  const secret = file.lines.filter((l) => SECRET_KEYS.has(l.key as ClientConfigKey) || (l.key === 'schema.registry.url' && splitUrlCredentials(l.value).password !== undefined)).map((l) => l.key);
  if (secret.length === 0) return [];
  const mode = (file.mode & 0o777).toString(8).padStart(3, '0');
  return [`${file.path} holds secrets (${secret.join(', ')}) and is readable by group or others (mode ${mode}): run chmod 600 ${file.path}`];
}

/**
 * The connection configuration from flags, environment and config file. Every secret it
 * resolves is registered with the redactor before any value is checked, and no message quotes one.
 * Errors are one line naming the setting and where it was set.
 */
export function resolveClientConfig(flags: ClientConfigFlags, env: NodeJS.ProcessEnv = process.env): ClientConfig {
  const file = readConfigFile(flags, env);
  checkEnvNames(env);
  const settings = collectSettings(flags, env, file);
  registerSecret(settings.get('sasl.password')?.value);
  registerSecret(settings.get('ssl.key.password')?.value);
  const info = settings.get('schema.registry.basic.auth.user.info')?.value;
  registerSecret(info === undefined || !info.includes(':') ? info : info.slice(info.indexOf(':') + 1));
  const url = settings.get('schema.registry.url')?.value;
  if (url !== undefined) registerSecret(splitUrlCredentials(url).password);

  const { brokers, kafka } = kafkaSecurity(settings);
  const { registryUrl, registry } = registrySecurity(settings);
  if (registry.auth) registerSecret(Buffer.from(`${registry.auth.username}:${registry.auth.password}`).toString('base64'));
  return {
    ...(brokers ? { brokers } : {}),
    ...(registryUrl ? { registryUrl } : {}),
    security: { kafka, registry },
    warnings: permissionWarning(file),
  };
}
