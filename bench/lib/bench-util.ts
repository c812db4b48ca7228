/** Small helpers the benchmarks share: command-line numbers and flags, the stack's address, formatting, statistics. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseBrokers } from '../../src/io/kafka/kafka-connection.js';

/** bin/skewless.mjs, the command users run. */
export const SKEWLESS_BIN = fileURLToPath(new URL('../../bin/skewless.mjs', import.meta.url));

/**
 * The node flags of bin/skewless.mjs's shebang (`#!/usr/bin/env -S node <flags>`): a benchmark
 * that spawns `node bin/skewless.mjs` bypasses the shebang, and without its larger young
 * generation a parity check of 1M transactions took ~10 % longer than the command users run.
 */
export function skewlessArgs(...args: string[]): string[] {
  const shebang = readFileSync(SKEWLESS_BIN, 'utf8').split('\n', 1)[0];
  const flags = /^#!\S*env -S node(.*)$/.exec(shebang)?.[1].trim().split(/\s+/).filter((f) => f !== '') ?? [];
  return [...flags, SKEWLESS_BIN, ...args];
}

/** `--name N` from the command line, or `dflt` when absent. */
export function numberArg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : dflt;
  if (!Number.isFinite(v)) throw new Error(`--${name} ${process.argv[i + 1]}: expected a number`);
  return v;
}

export const flag = (name: string): boolean => process.argv.includes(`--${name}`);

export const say = (line: string): void => void process.stdout.write(`${line}\n`);
/** A whole number with thousands separators. */
export const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
/** Milliseconds as seconds with one decimal. */
export const secs = (ms: number): string => (ms / 1000).toFixed(1);
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The q-quantile of ascending values (nearest rank). */
export const quantile = (sorted: readonly number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The local stack's brokers and schema registry (KAFKA_BROKERS, SCHEMA_REGISTRY_URL); exits with a hint when they are not set. */
export function stackEnv(script: string): { readonly brokers: string[]; readonly registryUrl: string } {
  const brokers = process.env.KAFKA_BROKERS;
  const registryUrl = process.env.SCHEMA_REGISTRY_URL ?? '';
  if (!brokers || !registryUrl) {
    process.stderr.write(`${script} needs the stack: export $(node scripts/stack/up.mjs) (KAFKA_BROKERS, SCHEMA_REGISTRY_URL)\n`);
    process.exit(2);
  }
  return { brokers: parseBrokers(brokers), registryUrl };
}
