import { writeCardDataset } from '../gen/write-card-dataset.js';
import { positiveInt } from './cli-args.js';

export async function runGenerate(dataset: string, flags: { events: string; seed: string; out: string; format: 'ndjson' | 'avro'; json?: boolean }): Promise<void> {
  if (dataset !== 'card-transactions') throw new Error(`unknown data set ${dataset}; available: card-transactions`);
  const seed = Number(flags.seed);
  if (!Number.isInteger(seed)) throw new Error(`--seed ${flags.seed}: expected a whole number`);
  const r = await writeCardDataset({ outDir: flags.out, events: positiveInt(flags.events, '--events'), seed, format: flags.format });
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
    return;
  }
  process.stdout.write(
    `wrote ${r.events.toLocaleString('en-US')} transactions to ${r.transactionsPath}\n` +
      `wrote ${r.chargebacks.toLocaleString('en-US')} chargebacks to ${r.chargebacksPath}\n` +
      `${r.cards.toLocaleString('en-US')} cards, ${r.fraudTransactions} fraudulent transactions, data from ${new Date(r.start).toISOString()} to ${new Date(r.endTime).toISOString()}\n`,
  );
}
