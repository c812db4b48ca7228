/**
 * The README's commands create topics, consumer groups and registry subjects with fixed names
 * (`transactions`, `skewless-card-fraud`, ...) on whatever stack `npm run stack:up` found. This
 * module checks that none of them exists before the run (else the commands would mix their data
 * with someone else's), reads a group's committed offsets (a live worker's first commit), and
 * deletes what the run created afterwards, and nothing else: other clients of a shared stack keep
 * their topics.
 */
import { createRequire } from 'node:module';
import path from 'node:path';

/** Names the README's commands give what they create (card-fraud's sources, outputs, side, changelog and parity topics, and groups). */
export const README_NAMES = /^(transactions|chargebacks|merchant_tiers|card_features|card_daily_spend|card-fraud-.*|card-fraud|skewless-card-fraud.*)$/;

export class Cluster {
  /** @param {string} repo a checkout whose node_modules holds kafkajs @param {{ brokers: string, registryUrl: string }} endpoints */
  constructor(repo, endpoints) {
    const require = createRequire(path.join(repo, 'package.json'));
    const { Kafka, logLevel } = require('kafkajs');
    this.endpoints = endpoints;
    this.kafka = new Kafka({ clientId: 'readme-commands', brokers: endpoints.brokers.split(','), logLevel: logLevel.NOTHING });
  }

  async #admin(fn) {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      return await fn(admin);
    } finally {
      await admin.disconnect();
    }
  }

  /** Topics, groups and subjects of README names present now. */
  async readmeResidue() {
    const [topics, groups, subjects] = await Promise.all([
      this.#admin((a) => a.listTopics()),
      this.#admin((a) => a.listGroups()).then((g) => g.groups.map((x) => x.groupId)),
      this.#subjects(),
    ]);
    return {
      topics: topics.filter((t) => README_NAMES.test(t)).sort(),
      groups: groups.filter((g) => README_NAMES.test(g)).sort(),
      subjects: subjects.filter((s) => README_NAMES.test(s.replace(/-(value|key)$/, ''))).sort(),
    };
  }

  /** Sum of a group's committed offsets over its topics (0 before its first commit). */
  async committed(group) {
    return this.#admin(async (a) => {
      const byTopic = await a.fetchOffsets({ groupId: group });
      let sum = 0;
      for (const t of byTopic) for (const p of t.partitions) sum += Math.max(0, Number(p.offset));
      return sum;
    });
  }

  /**
   * Records of the group's topics it has not committed yet (its consumer lag); 0 when it has
   * caught up. A regrouped topology's worker also reads its own repartition and answers topics
   * (`<group>-<version>-regroup`, `-regroup-answers`), which it writes in transactions: each of
   * their partitions ends with a commit marker, which the group never commits past (it commits
   * the offset after the last record it read), so one offset of lag there is none.
   */
  async lag(group) {
    const internal = (topic) => topic.startsWith(`${group}-`) && /-regroup(-answers)?$/.test(topic);
    return this.#admin(async (a) => {
      let lag = 0;
      for (const t of await a.fetchOffsets({ groupId: group })) {
        const ends = new Map((await a.fetchTopicOffsets(t.topic)).map((p) => [p.partition, Number(p.high)]));
        const marker = internal(t.topic) ? 1 : 0;
        for (const p of t.partitions) lag += Math.max(0, (ends.get(p.partition) ?? 0) - Math.max(0, Number(p.offset)) - marker);
      }
      return lag;
    });
  }

  /** Deletes the README-named topics, groups and subjects that exist now; returns what it deleted. */
  async removeReadmeResidue() {
    const r = await this.readmeResidue();
    // A group whose coordinator is still loading (a broker restarted by another client of a shared
    // stack) refuses the deletion for a moment; a group left here makes the next run refuse to start.
    const deleteGroups = () => this.#admin((a) => a.deleteGroups(r.groups));
    if (r.groups.length > 0) await deleteGroups().catch(() => new Promise((resolve) => setTimeout(resolve, 5000)).then(deleteGroups)).catch(() => undefined);
    if (r.topics.length > 0) await this.#admin((a) => a.deleteTopics({ topics: r.topics, timeout: 30_000 }));
    for (const s of r.subjects) {
      const url = `${this.endpoints.registryUrl}/subjects/${encodeURIComponent(s)}`;
      await fetch(url, { method: 'DELETE' });
      await fetch(`${url}?permanent=true`, { method: 'DELETE' });
    }
    const groupsLeft = (await this.readmeResidue()).groups;
    return { ...r, groupsLeft };
  }

  async #subjects() {
    const res = await fetch(`${this.endpoints.registryUrl}/subjects`);
    if (!res.ok) throw new Error(`registry ${this.endpoints.registryUrl} answered ${res.status} to GET /subjects`);
    return /** @type {string[]} */ (await res.json());
  }
}
