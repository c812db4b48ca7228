/** The example Avro schemas shipped in schemas/ (read from disk so the .avsc files stay the source). */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Schema } from 'avsc';

/** The .avsc files under schemas/ by name. */
export type ExampleSchema = 'card_transaction' | 'chargeback' | 'card_limit' | 'merchant_tier' | 'flight';

const SCHEMAS_DIR = new URL('../../schemas/', import.meta.url);

export function readExampleSchema(name: ExampleSchema): Schema {
  return JSON.parse(readFileSync(new URL(`${name}.avsc`, SCHEMAS_DIR), 'utf8')) as Schema;
}

export function exampleSchemaPath(name: ExampleSchema): string {
  return fileURLToPath(new URL(`${name}.avsc`, SCHEMAS_DIR));
}
