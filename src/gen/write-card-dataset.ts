/**
 * Writes a synthetic card dataset to `<outDir>/transactions.<ext>` and `<outDir>/chargebacks.<ext>`
 * in arrival order — what the two Kafka topics would contain — and the table of the cards'
 * credit-limit versions to `<outDir>/card_limits.<ext>` in validity order, as NDJSON or Avro
 * object container files (schemas/card_transaction.avsc, chargeback.avsc, card_limit.avsc). Streams records
 * with back-pressure; output files are byte-identical for the same options (the Avro sync
 * markers are derived from the seed instead of being random).
 */
import { createWriteStream, mkdirSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import avro from 'avsc';
import { cardLimitVersions } from './card-limits.js';
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
  const transactionsPath = join(outDir, `transactions.${ext}`);
  const chargebacksPath = join(outDir, `chargebacks.${ext}`);
  const cardLimitsPath = join(outDir, `card_limits.${ext}`);
  let txSink: RecordSink;
  let cbSink: RecordSink;
  let limitSink: RecordSink;
  if (format === 'avro') {
    const markers = new SeededRandom(opts.seed, 3);
    const codec = avroCodec ?? 'null';
    txSink = avroSink(transactionsPath, 'card_transaction', markers.bytes(16), codec);
    cbSink = avroSink(chargebacksPath, 'chargeback', markers.bytes(16), codec);
    limitSink = avroSink(cardLimitsPath, 'card_limit', markers.bytes(16), codec);
  } else {
    txSink = ndjsonSink(transactionsPath);
    cbSink = ndjsonSink(chargebacksPath);
    limitSink = ndjsonSink(cardLimitsPath);
  }

  const it = cardEventStream(genOpts);
  let summary: CardGenSummary;
  let transactions = 0;
  let cardLimits = 0;
  try {
    for (;;) {
      const r = it.next();
      if (r.done) {
        summary = r.value;
        break;
      }
      const item = r.value;
      if (item.topic === 'transactions' && ++transactions % 4096 === 0) onProgress?.(transactions);
      const wait = item.topic === 'transactions' ? txSink.write(item.value) : cbSink.write(item.value);
      if (wait) await wait;
    }
    for (const v of cardLimitVersions({ seed: opts.seed, cards: summary.cards, start: summary.start, end: summary.endTime })) {
      cardLimits++;
      const wait = limitSink.write(v);
      if (wait) await wait;
    }
  } finally {
    await Promise.all([txSink.close(), cbSink.close(), limitSink.close()]);
  }
  return { ...summary, transactionsPath, chargebacksPath, cardLimitsPath, cardLimits };
}
