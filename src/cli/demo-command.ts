import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeCardDataset } from '../gen/write-card-dataset.js';
import { formatCount } from '../io/number-format.js';
import { replayFiles } from '../modes/replay-files.js';
import { loadTopology } from '../plan/load-topology.js';
import { positiveInt } from './cli-args.js';
import { Progress } from './progress.js';
import { formatReplaySummary } from './replay-report.js';

const CARD_FRAUD = resolve(fileURLToPath(import.meta.url), '../../../topologies/card-fraud.ts');

/** `npm start`: the main job end to end on generated data, no servers needed. */
export async function runDemo(flags: { events: string; seed: string; out: string }): Promise<void> {
  const events = positiveInt(flags.events, '--events');
  const dataDir = join(flags.out, 'data');
  process.stdout.write(`1/2 generating ${formatCount(events)} card transactions (seed ${flags.seed}) into ${dataDir}\n`);
  const generating = new Progress('    generate', { unit: 'transactions', total: events });
  const data = await generating.around(writeCardDataset({ outDir: dataDir, events, seed: Number(flags.seed), format: 'avro', onProgress: (n) => generating.update(n) }), (d) => d.events);
  process.stdout.write(`    ${formatCount(data.cards)} cards, ${formatCount(data.fraudTransactions)} fraudulent transactions, ${formatCount(data.chargebacks)} chargebacks\n`);

  const plan = await loadTopology(CARD_FRAUD);
  const out = join(flags.out, 'training');
  process.stdout.write(`2/2 backfilling topologies/card-fraud.ts (version ${plan.version}) over 8 partitions into ${out}\n`);
  const progress = new Progress('    backfill', { total: data.events });
  const started = Date.now();
  const summary = await progress.around(
    replayFiles({
      plan,
      inputs: { transactions: data.transactionsPath, chargebacks: data.chargebacksPath, merchant_tiers: data.merchantTiersPath },
      out,
      partitions: 8,
      onProgress: (n) => progress.update(n),
    }),
    (s) => s.counters.processed,
  );
  process.stdout.write(`${formatReplaySummary(summary, (Date.now() - started) / 1000).replace(/^/gm, '    ')}\n`);
  process.stdout.write(`\nRead it with pandas:  python3 -c "import pandas as pd; print(pd.read_parquet('${out}/card_features').describe().T)"\n`);
}
