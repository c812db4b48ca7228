import { writeCardDataset } from '../gen/write-card-dataset.js';
import { formatCount } from '../io/number-format.js';
import { positiveInt } from './cli-args.js';
import { Progress } from './progress.js';

export async function runGenerate(dataset: string, flags: { events: string; seed: string; out: string; format: 'ndjson' | 'avro'; json?: boolean }): Promise<void> {
  if (dataset !== 'card-transactions') throw new Error(`unknown data set ${dataset}; available: card-transactions`);
  const seed = Number(flags.seed);
  if (!Number.isInteger(seed)) throw new Error(`--seed ${flags.seed}: expected a whole number`);
  const events = positiveInt(flags.events, '--events');
  const progress = new Progress('generate', { unit: 'transactions', total: events, quiet: flags.json });
  const r = await progress.around(writeCardDataset({ outDir: flags.out, events, seed, format: flags.format, onProgress: (n) => progress.update(n) }), (d) => d.events);
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
    return;
  }
  process.stdout.write(
    `wrote ${formatCount(r.events)} transactions to ${r.transactionsPath}\n` +
      `wrote ${formatCount(r.chargebacks)} chargebacks to ${r.chargebacksPath}\n` +
      `wrote ${formatCount(r.cardLimits)} credit-limit versions to ${r.cardLimitsPath}\n` +
      `wrote ${formatCount(r.merchantTiers)} merchant risk-tier versions to ${r.merchantTiersPath}\n` +
      `${formatCount(r.cards)} cards, ${formatCount(r.merchants)} merchants, ${formatCount(r.fraudTransactions)} fraudulent transactions, data from ${new Date(r.start).toISOString()} to ${new Date(r.endTime).toISOString()}\n`,
  );
}
