/** The example Avro schemas shipped in schemas/ (read from disk so the .avsc files stay the source). */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Schema } from 'avsc';

const SCHEMAS_DIR = new URL('../../schemas/', import.meta.url);

export function readExampleSchema(name: 'card_transaction' | 'chargeback' | 'flight'): Schema {
  return JSON.parse(readFileSync(new URL(`${name}.avsc`, SCHEMAS_DIR), 'utf8')) as Schema;
}

export function exampleSchemaPath(name: 'card_transaction' | 'chargeback' | 'flight'): string {
  return fileURLToPath(new URL(`${name}.avsc`, SCHEMAS_DIR));
}
