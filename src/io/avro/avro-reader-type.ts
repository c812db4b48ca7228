import avsc from 'avsc';

/**
 * The avsc type records are decoded into, for every reader of Avro data (archive files and
 * Kafka). One construction, with avsc's default options, so a record read live and the same
 * record read from an archive are the same JS value: longs as JS numbers (exact to 2^53),
 * logical types such as timestamp-millis as their underlying numbers, unions unwrapped.
 * Registering logical types here would turn timestamps into Dates in both places at once.
 */
export function avroReaderType(schema: object): avsc.Type {
  return avsc.Type.forSchema(schema as avsc.Schema);
}
