/**
 * `run --metrics-port`: a small node:http server on `host:port` (default 127.0.0.1) answering
 * - `GET /metrics`: the registry in the Prometheus text format (src/metrics/runMetrics.ts);
 * - `GET /healthz`: 200 `{"status":"ok",...}`, or 503 `{"status":"unhealthy","reasons":[...]}` (src/metrics/health.ts);
 * - anything else: 404 (a method other than GET/HEAD on those paths: 405).
 * A port that cannot be bound (in use, not allowed, an address not of this host) is a ConfigError naming it (exit 2),
 * before anything is read. `close()` ends open connections too, so no handle outlives `run`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { ConfigError, errorMessage } from '../errors.js';
import type { HealthVerdict } from './health.js';

export interface MetricsServerOptions {
  host: string;
  /** 0: any free port (`port` says which). */
  port: number;
  registry: Registry;
  health: () => HealthVerdict;
  /** A scrape that failed (a bug in a collector): said, and answered with 500. */
  onError?: (err: unknown) => void;
}

export interface MetricsServer {
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

export async function startMetricsServer(o: MetricsServerOptions): Promise<MetricsServer> {
  const server = createServer((req, res) => {
    handle(req, res, o).catch((err: unknown) => {
      o.onError?.(err);
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('internal error\n');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve();
    });
  }).catch((err: unknown) => {
    throw new ConfigError(`--metrics-port ${o.port} --metrics-host ${o.host}: cannot listen (${bindProblem(err)})`, { cause: err });
  });
  const { port } = server.address() as AddressInfo;
  return {
    host: o.host,
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

async function handle(req: IncomingMessage, res: ServerResponse, o: MetricsServerOptions): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (path !== '/metrics' && path !== '/healthz') return send(res, 404, 'text/plain; charset=utf-8', 'not found: try /metrics or /healthz\n');
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    return send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
  }
  if (path === '/metrics') return send(res, 200, o.registry.contentType, await o.registry.metrics(), req.method === 'HEAD');
  const verdict = o.health();
  const body = JSON.stringify({ status: verdict.status, reasons: verdict.reasons, time: new Date().toISOString() }) + '\n';
  return send(res, verdict.status === 'ok' ? 200 : 503, 'application/json', body, req.method === 'HEAD');
}

function send(res: ServerResponse, status: number, type: string, body: string, headOnly = false): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(headOnly ? undefined : body);
}

function bindProblem(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') return 'the port is in use by another process';
  if (code === 'EACCES') return 'not allowed: ports below 1024 need privileges';
  if (code === 'EADDRNOTAVAIL') return 'the address is not one of this host';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'the host name does not resolve';
  return errorMessage(err);
}
