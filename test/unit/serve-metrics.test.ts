import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { networkInterfaces } from 'node:os';
import { registerSecret } from '../../src/io/secret-redaction.js';
import { metricsUrl, MetricsRegistry, serveMetrics } from '../../src/serve/metrics.js';

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

test('metrics endpoint: GET and HEAD only (405 with Allow otherwise), /metrics/ and query strings as Prometheus exporters serve them, loopback by default, secrets masked', async () => {
  const m = new MetricsRegistry();
  registerSecret('Metric-Label-Secret-5e');
  m.inc('skewless_records_total', 'Records processed', 1, { topic: 'Metric-Label-Secret-5e' });
  const server = await serveMetrics(m, 0);
  const url = (path: string): string => `http://127.0.0.1:${server.port}${path}`;
  try {
    const body = '# HELP skewless_records_total Records processed\n# TYPE skewless_records_total counter\nskewless_records_total{topic="***"} 1\n';
    for (const path of ['/metrics', '/metrics/', '/metrics?name[]=skewless_records_total', '/metrics/?x=1#y']) {
      const res = await fetch(url(path));
      assert.equal(res.status, 200, path);
      assert.equal(await res.text(), body, path);
    }
    const head = await request('HEAD', server.port, '/metrics');
    assert.deepEqual([head.status, head.body, head.headers['content-type']], [200, '', 'text/plain; version=0.0.4; charset=utf-8']);
    for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS']) {
      const r = await request(method, server.port, '/metrics');
      assert.deepEqual([r.status, r.headers.allow], [405, 'GET, HEAD'], method);
    }
    assert.equal((await fetch(url('/metricsx'))).status, 404);
    assert.equal((await fetch(url('/healthz/'))).status, 200);
  } finally {
    await server.close();
  }
  // Not reachable on another interface of this machine unless asked for.
  assert.equal(metricsUrl('127.0.0.1', 9464), 'http://127.0.0.1:9464/metrics');
  assert.equal(metricsUrl('::1', 9464), 'http://[::1]:9464/metrics');
  const open = await serveMetrics(m, 0);
  try {
    const others = Object.values(networkInterfaces()).flat().filter((a) => a !== undefined && a.family === 'IPv4' && !a.internal);
    for (const a of others) await assert.rejects(fetch(`http://${a!.address}:${open.port}/metrics`, { signal: AbortSignal.timeout(2000) }), a!.address);
  } finally {
    await open.close();
  }
  await assert.rejects(serveMetrics(m, 0, '192.0.2.1'), /^Error: --metrics-host 192\.0\.2\.1 is not an address of this machine; pass one of its addresses/);
});

function request(method: string, port: number, path: string): Promise<{ status: number; body: string; headers: IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}
