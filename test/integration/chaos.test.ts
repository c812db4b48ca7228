/**
 * The fault campaign (test/chaos/campaign.ts) in short: two live workers with separate state
 * roots (as on two hosts), eight SIGKILLs in two overlapping bursts while the producer is still
 * writing, then catch-up, SIGTERM, and the whole feature topic (read_committed) against the
 * offline replay per (partition, offset): nothing lost, nothing duplicated, nothing divergent; and
 * so for the daily spend windows (each closed day of each card, against the replay's).
 * No broker kill here: the suite shares one broker (`npm run chaos -- --broker-kill` on a stack
 * of your own does that). card-fraud serves its merchant features and risk tier through a
 * regrouping and reads the merchant_tiers table (produced in step with the transactions), so its
 * repartition and answers topics are under the kills too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatResult, runCampaign } from '../chaos/campaign.js';
import { stackForTests } from '../helpers/stack.js';

const stack = await stackForTests();

test('chaos: 2 workers, 8 SIGKILLs, 6,000 events: every input served exactly once, as replay computes it', { timeout: 200_000 }, async () => {
  const lines: string[] = [];
  const r = await runCampaign({
    kills: 8,
    burst: 4,
    killIntervalMs: 10_000,
    workers: 2,
    events: 6000,
    partitions: 4,
    seed: 20261203,
    brokerKill: false,
    registryPauseS: 0,
    wipeState: false,
    keep: false,
    catchUpTimeoutMs: 60_000,
    brokers: stack.brokers,
    registryUrl: stack.registryUrl,
    log: (l) => lines.push(l),
  });
  const report = `${formatResult(r)}\n--- progress ---\n${lines.join('\n')}`;
  assert.equal(r.kills, 8, report);
  assert.ok(r.replay.vectors > 5500, `replay computes the vectors: ${report}`);
  // The replay applies the merchants' tier versions besides the transactions: the campaign produced them.
  assert.ok(r.replay.processed > r.produced, `the tier versions were produced and read: ${report}`);
  assert.deepEqual(
    { lost: r.lost, duplicates: r.duplicates, divergent: r.divergent, unexpected: r.comparison.unexpected, misplaced: r.comparison.misplaced },
    { lost: 0, duplicates: 0, divergent: 0, unexpected: 0, misplaced: 0 },
    report,
  );
  assert.ok(r.caughtUp, report);
  // Its daily spend per card (a calendar window): every day the replay closed, served once, byte for byte.
  const daily = r.windows.card_daily_spend;
  assert.ok(daily !== undefined && daily.expected > 100, `the replay closes card days: ${report}`);
  assert.deepEqual({ lost: daily.lost, duplicates: daily.duplicates, divergent: daily.divergent, unexpected: daily.unexpected }, { lost: 0, duplicates: 0, divergent: 0, unexpected: 0 }, report);
});
