import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { redactSecrets } from '../io/secret-redaction.js';

export type MetricType = 'counter' | 'gauge';
export type Labels = Readonly<Record<string, string>>;

interface Family {
  readonly help: string;
  readonly type: MetricType;
  readonly series: Map<string, { labels: Labels; value: number }>;
}

function labelKey(labels: Labels): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join(',');
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

/**
 * Prometheus metrics in the text exposition format. Metrics are observations about the
 * process (rates, lag, counts); nothing here feeds back into processing, so the wall clock
 * may be used freely by callers.
 */
export class MetricsRegistry {
  private readonly families = new Map<string, Family>();

  private family(name: string, type: MetricType, help: string): Family {
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name)) throw new Error(`metric name ${name} is not a valid Prometheus name`);
    let f = this.families.get(name);
    if (!f) {
      f = { help, type, series: new Map() };
      this.families.set(name, f);
    } else if (f.type !== type) throw new Error(`metric ${name} is a ${f.type}, not a ${type}`);
    return f;
  }

  /** Set a gauge, or a counter to an absolute total kept elsewhere (e.g. task counters). */
  set(name: string, type: MetricType, help: string, value: number, labels: Labels = {}): void {
    this.family(name, type, help).series.set(labelKey(labels), { labels, value });
  }

  inc(name: string, help: string, by = 1, labels: Labels = {}): void {
    const f = this.family(name, 'counter', help);
    const k = labelKey(labels);
    const s = f.series.get(k);
    if (s) s.value += by;
    else f.series.set(k, { labels, value: by });
  }

  /** Drop one series (a gauge of something no longer held). */
  remove(name: string, labels: Labels = {}): void {
    this.families.get(name)?.series.delete(labelKey(labels));
  }

  get(name: string, labels: Labels = {}): number | undefined {
    return this.families.get(name)?.series.get(labelKey(labels))?.value;
  }

  /** The exposition text, families and series in sorted order. */
  render(): string {
    const lines: string[] = [];
    for (const name of [...this.families.keys()].sort()) {
      const f = this.families.get(name)!;
      lines.push(`# HELP ${name} ${f.help}`, `# TYPE ${name} ${f.type}`);
      for (const k of [...f.series.keys()].sort()) {
        const { labels, value } = f.series.get(k)!;
        const keys = Object.keys(labels).sort();
        const l = keys.length ? `{${keys.map((x) => `${x}="${escapeLabel(labels[x])}"`).join(',')}}` : '';
        const v = Number.isFinite(value) ? String(value) : value > 0 ? '+Inf' : value < 0 ? '-Inf' : 'NaN';
        lines.push(`${name}${l} ${v}`);
      }
    }
    return `${lines.join('\n')}\n`;
  }
}

const ALLOWED_METHODS = 'GET, HEAD';

/** The request path without its query string and one trailing slash: `/metrics/?x=1` → `/metrics`, as Prometheus exporters serve it. */
function route(url: string | undefined): string {
  const path = (url ?? '/').split(/[?#]/, 1)[0];
  return path.length > 1 ? path.replace(/\/$/, '') : path;
}

/** `http://[::1]:9464/metrics`: the address as a URL names it. */
export function metricsUrl(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}/metrics`;
}

/**
 * Serve /metrics (and /healthz) on `host` (default 127.0.0.1: binding other interfaces is the
 * caller's explicit choice); port 0 picks a free one. Only GET and HEAD are served (others get
 * 405 with Allow); the text goes through the secret redactor like every other output.
 */
export async function serveMetrics(registry: MetricsRegistry, port: number, host = '127.0.0.1'): Promise<{ port: number; close: () => Promise<void> }> {
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: ALLOWED_METHODS, 'content-type': 'text/plain' });
      res.end(`method ${req.method ?? ''} not allowed: use GET or HEAD\n`);
      return;
    }
    const path = route(req.url);
    if (path === '/metrics') {
      // HEAD: Node sends the headers and drops the body.
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
      res.end(redactSecrets(registry.render()));
    } else if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok\n');
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found: metrics are at /metrics\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        new Error(
          e.code === 'EADDRINUSE'
            ? `metrics port ${port} is in use on ${host}; pass another --metrics-port`
            : e.code === 'EADDRNOTAVAIL' || e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN'
              ? `--metrics-host ${host} is not an address of this machine; pass one of its addresses (default 127.0.0.1, 0.0.0.0 for every interface)`
              : `cannot serve metrics on ${host}:${port}: ${e.message}`,
        ),
      ),
    );
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
