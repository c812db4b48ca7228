/**
 * What a test file's `after` hook removes from Kafka: its topics and consumer groups, best
 * effort. Clean-up never fails the suite, also when Kafka is gone by then (a stack stopped
 * early, a broker restarted by a test): it gives up within seconds and says so on stderr.
 */
import type { KafkaSecurity } from '../../src/io/client-security.js';
import { KafkaConnection } from '../../src/io/kafka/kafka-connection.js';
import { deleteGroup, deleteTopics } from '../../src/io/kafka/topic-admin.js';

export async function cleanUpKafka(brokers: readonly string[], topics: readonly string[], groups: readonly string[] = [], security?: KafkaSecurity): Promise<void> {
  const note = (what: string): void => void process.stderr.write(`test clean-up: ${what} left behind\n`);
  let conn: KafkaConnection;
  try {
    conn = await KafkaConnection.open({ brokers, security });
  } catch (e) {
    note(`${topics.length} topics and ${groups.length} groups (${e instanceof Error ? e.message.split(' (')[0] : String(e)})`);
    return;
  }
  try {
    if (!(await deleteTopics(conn, topics))) note(`topics ${topics.join(', ')}`);
    for (const g of groups) await deleteGroup(conn, g);
  } finally {
    await conn.close().catch(() => undefined);
  }
}
