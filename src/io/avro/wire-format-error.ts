/**
 * The reasons a Kafka value cannot become a source value. They end up in dead letters, so
 * each names what was wrong in words an operator can act on, in a stable format that tests
 * and alerting can match.
 */

/** Not framed as Confluent wire format at all (e.g. plain JSON or another serializer). */
export const notWireFormat = (detail: string): string => `not Confluent wire format (${detail})`;

/** A null value: a tombstone or an unset value carries no record. */
export const emptyValue = (): string => 'empty record value (null, e.g. a tombstone)';

/** The schema id is not known to the registry (records from another registry, or a wiped one). */
export const unknownSchemaId = (id: number): string => `unknown schema id ${id}`;

/** The id names a JSON or Protobuf schema. */
export const notAvroSchema = (id: number, type: string): string => `schema id ${id} is a ${type} schema, not Avro`;

/** The writer schema cannot be read through the topology's reader schema by Avro's resolution rules. */
export const unresolvableSchema = (id: number, detail: string): string =>
  `schema id ${id} cannot be read with the topology's schema: ${detail}`;

/** The bytes after the header are not a valid encoding for the writer schema. */
export const undecodableAvro = (id: number, detail: string): string => `undecodable Avro for schema id ${id}: ${detail}`;
