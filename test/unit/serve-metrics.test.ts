import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MetricsRegistry, serveMetrics } from '../../src/serve/metrics.js';

test('metrics: Prometheus text format over a real HTTP server on loopback', async () => {
  const m = new MetricsRegistry();
  m.inc('skewless_records_total', 'Records processed', 3, { partition: '1' });
  m.inc('skewless_records_total', 'Records processed', 2, { partition: '1' });
  m.inc('skewless_records_total', 'Records processed', 7, { partition: '0' });
  m.set('skewless_consumer_lag', 'gauge', 'Records behind the log end', 12, { topic: 'a"b' });
  const server = await serveMetrics(m, 0);
  try {
    const res = await fetch(`http://127.0.0.1:${server.port}/metrics`);
    assert.equal(res.status, 200);
    const text = await res.text();
    // Families sorted by name, series sorted by labels; counters accumulate (3 + 2 = 5).
    assert.equal(
      text,
      [
        '# HELP skewless_consumer_lag Records behind the log end',
        '# TYPE skewless_consumer_lag gauge',
        'skewless_consumer_lag{topic="a\\"b"} 12',
        '# HELP skewless_records_total Records processed',
        '# TYPE skewless_records_total counter',
        'skewless_records_total{partition="0"} 7',
        'skewless_records_total{partition="1"} 5',
        '',
      ].join('\n'),
    );
    assert.equal((await fetch(`http://127.0.0.1:${server.port}/nope`)).status, 404);
  } finally {
    await server.close();
  }
  assert.throws(() => m.set('skewless_records_total', 'gauge', 'x', 1), /is a counter/);
  assert.throws(() => m.inc('bad-name', 'x'), /not a valid Prometheus name/);
});
