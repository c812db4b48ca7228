import type { ColumnType } from '../../ops/aggregation.js';
import type { OutputColumn } from '../../engine/outputs.js';

/** Lists are Avro arrays (never null inside: aggregations skip null values), histograms and bucketed aggregates Avro maps. */
const AVRO_TYPE: Readonly<Record<ColumnType, string | object>> = {
  int64: 'long',
  double: 'double',
  string: 'string',
  boolean: 'boolean',
  'list<double>': { type: 'array', items: 'double' },
  'list<string>': { type: 'array', items: 'string' },
  'map<int64>': { type: 'map', values: 'long' },
  // The mean of an empty bucket is null.
  'map<double>': { type: 'map', values: ['null', 'double'] },
};

function avroName(name: string): string {
  const cleaned = name.replace(/[^A-Za-z0-9_]/g, '_');
  return /^[A-Za-z_]/.test(cleaned) ? cleaned : `_${cleaned}`;
}

/**
 * The Avro schema of a live feature-vector record: where the vector came from (key, event
 * time, input partition and offset) and the served columns. Labels are training-only and are
 * not part of it. Column order is the output's canonical order.
 */
export function featureRecordSchema(output: string, columns: readonly OutputColumn[]): object {
  for (const c of columns) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(c.name)) throw new Error(`feature ${c.name} of output ${output} is not a valid Avro field name; use letters, digits and _`);
  }
  return {
    type: 'record',
    name: avroName(output),
    namespace: 'skewless.features',
    doc: `Feature vectors of output ${output}, one per source event.`,
    fields: [
      { name: 'key', type: 'string' },
      { name: 'event_time', type: { type: 'long', logicalType: 'timestamp-millis' } },
      { name: 'partition', type: 'int' },
      { name: 'offset', type: 'long' },
      ...columns.filter((c) => c.role !== 'label').map((c) => ({ name: c.name, type: ['null', AVRO_TYPE[c.type]], default: null })),
    ],
  };
}

/** The Avro schema of a window-aggregation record (tumbling, hopping, calendar, session). */
export function windowRecordSchema(output: string, columns: readonly OutputColumn[]): object {
  return {
    type: 'record',
    name: avroName(output),
    namespace: 'skewless.windows',
    doc: `Window aggregates of output ${output}.`,
    fields: [
      { name: 'key', type: 'string' },
      { name: 'window_start', type: { type: 'long', logicalType: 'timestamp-millis' } },
      { name: 'window_end', type: { type: 'long', logicalType: 'timestamp-millis' } },
      { name: 'partition', type: 'int' },
      { name: 'final', type: 'boolean' },
      ...columns.map((c) => ({ name: c.name, type: ['null', AVRO_TYPE[c.type]], default: null })),
    ],
  };
}
