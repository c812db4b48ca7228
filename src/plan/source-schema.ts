import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import avro from 'avsc';

export interface LoadedSchema {
  readonly path: string;
  readonly json: object;
  readonly type: avro.Type;
  /** SHA-256 of the Parsing Canonical Form: equal for schemas that differ only in docs or formatting. */
  readonly fingerprint: string;
}

/** Load an .avsc file; errors name the file and the problem. */
export function loadSchema(baseDir: string, file: string): LoadedSchema {
  const path = resolve(baseDir, file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new Error(`cannot read schema ${path}: file not found (schema paths are relative to the topology file)`);
  }
  let json: object;
  try {
    json = JSON.parse(text) as object;
  } catch (e) {
    throw new Error(`bad schema ${path}: invalid JSON (${(e as Error).message})`);
  }
  let type: avro.Type;
  try {
    type = avro.Type.forSchema(json as avro.Schema);
  } catch (e) {
    throw new Error(`bad schema ${path}: ${(e as Error).message}`);
  }
  return { path, json, type, fingerprint: type.fingerprint('sha256').toString('hex') };
}
