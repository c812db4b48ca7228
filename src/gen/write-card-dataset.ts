/**
 * Writes a synthetic card dataset to `<outDir>/transactions.<ext>` and `<outDir>/chargebacks.<ext>`
 * in arrival order — what the two Kafka topics would contain — and the tables of the cards'
 * credit-limit versions and the merchants' risk-tier versions to `<outDir>/card_limits.<ext>` and
 * `<outDir>/merchant_tiers.<ext>` in validity order, as NDJSON or Avro object container files
 * (schemas/card_transaction.avsc, chargeback.avsc, card_limit.avsc, merchant_tier.avsc). Streams
 * records with back-pressure; output files are byte-identical for the same options (the Avro sync
 * markers are derived from the seed instead of being random).
 */
import { createWriteStream, mkdirSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import avro from 'avsc';
import { cardLimitVersions } from './card-limits.js';
import { merchantTierVersions } from './merchant-tiers.js';
import { cardEventStream, type CardGenOptions, type CardGenSummary } from './card-transactions.js';
import { readExampleSchema, type ExampleSchema } from './schemas.js';
import { SeededRandom } from './seeded-random.js';

export interface WriteCardDatasetOptions extends Omit<CardGenOptions, 'events' | 'seed'> {
  outDir: string;
  events: number;
  seed: number;
  format: 'ndjson' | 'avro';
  /** Avro block codec, default 'null' (uncompressed). */
  avroCodec?: 'null' | 'deflate';
  /** Called with the number of transactions written so far, every few thousand. */
  onProgress?: (transactions: number) => void;
}

export interface WriteCardDatasetResult extends CardGenSummary {
  transactionsPath: string;
  chargebacksPath: string;
  /** Number of transactions written. */
  events: number;
  /** Number of chargebacks written. */
  chargebacks: number;
  cardLimitsPath: string;
  /** Number of credit-limit versions written. */
  cardLimits: number;
  merchantTiersPath: string;
  /** Number of merchant risk-tier versions written. */
  merchantTiers: number;
}

interface RecordSink {
  /** Resolves immediately unless the sink asks to wait (back-pressure). */
  write(record: object): Promise<void> | undefined;
  close(): Promise<void>;
}

function ndjsonSink(path: string): RecordSink {
  const out = createWriteStream(path, { highWaterMark: 1 << 20 });
  const failed = new Promise<never>((_, reject) => out.once('error', reject));
  failed.catch(() => undefined);
  let chunk = '';
  const flush = (): Promise<void> | undefined => {
    const ok = out.write(chunk);
    chunk = '';
    return ok ? undefined : Promise.race([once(out, 'drain').then(() => undefined), failed]);
  };
  return {
    write(record) {
      chunk += JSON.stringify(record) + '\n';
      return chunk.length >= 1 << 18 ? flush() : undefined;
    },
    async close() {
      if (chunk.length > 0) await flush();
      out.end();
      await Promise.race([once(out, 'close'), failed]);
    },
  };
}

function avroSink(path: string, schemaName: ExampleSchema, syncMarker: Buffer, codec: string): RecordSink {
  // Same wiring as avsc's createFileEncoder (BlockEncoder piped into a file stream), but keeps
  // the pipeline promise so completion and errors of the file write can be awaited. The header
  // is written eagerly, so a sink without records (a tiny dataset without chargebacks) is still
  // a valid, empty container file.
  const encoder = new avro.streams.BlockEncoder(readExampleSchema(schemaName), { syncMarker, codec, blockSize: 1 << 18, writeHeader: 'always' });
  const done = pipeline(encoder, createWriteStream(path, { highWaterMark: 1 << 20 }));
  done.catch(() => undefined);
  return {
    write(record) {
      return encoder.write(record)
        ? undefined
        : Promise.race([once(encoder, 'drain').then(() => undefined), done]);
    },
    async close() {
      encoder.end();
      await done;
    },
  };
}

export async function writeCardDataset(opts: WriteCardDatasetOptions): Promise<WriteCardDatasetResult> {
  const { outDir, format, avroCodec, onProgress, ...genOpts } = opts;
  if (format !== 'ndjson' && format !== 'avro') throw new RangeError(`unknown format: ${String(format)}`);
  mkdirSync(outDir, { recursive: true });
  const ext = format === 'avro' ? 'avro' : 'ndjson';
  // Sync markers are drawn in the order the files are opened: a new file goes last, so the
  // markers, and with them the bytes, of the files before it stay as they were for a seed.
  const markers = new SeededRandom(opts.seed, 3);
  const open = (file: string, schema: ExampleSchema): { path: string; sink: RecordSink } => {
    const path = join(outDir, `${file}.${ext}`);
    const sink = format === 'avro' ? avroSink(path, schema, markers.bytes(16), avroCodec ?? 'null') : ndjsonSink(path);
    return { path, sink };
  };
  const tx = open('transactions', 'card_transaction');
  const cb = open('chargebacks', 'chargeback');
  const limits = open('card_limits', 'card_limit');
  const tiers = open('merchant_tiers', 'merchant_tier');

  const it = cardEventStream(genOpts);
  let summary: CardGenSummary;
  let transactions = 0;
  let cardLimits = 0;
  let merchantTiers = 0;
  try {
    for (;;) {
      const r = it.next();
      if (r.done) {
        summary = r.value;
        break;
      }
      const item = r.value;
      if (item.topic === 'transactions' && ++transactions % 4096 === 0) onProgress?.(transactions);
      const wait = item.topic === 'transactions' ? tx.sink.write(item.value) : cb.sink.write(item.value);
      if (wait) await wait;
    }
    const span = { seed: opts.seed, start: summary.start, end: summary.endTime };
    cardLimits = await writeAll(limits.sink, cardLimitVersions({ ...span, cards: summary.cards }));
    merchantTiers = await writeAll(tiers.sink, merchantTierVersions({ ...span, merchants: summary.merchants }));
  } finally {
    await Promise.all([tx.sink.close(), cb.sink.close(), limits.sink.close(), tiers.sink.close()]);
  }
  return {
    ...summary,
    transactionsPath: tx.path,
    chargebacksPath: cb.path,
    cardLimitsPath: limits.path,
    cardLimits,
    merchantTiersPath: tiers.path,
    merchantTiers,
  };
}

/** Writes every record, waiting whenever the sink asks to; returns how many. */
async function writeAll(sink: RecordSink, records: readonly object[]): Promise<number> {
  for (const record of records) {
    const wait = sink.write(record);
    if (wait) await wait;
  }
  return records.length;
}
