/**
 * A loopback HTTP receiver standing in for Slack incoming webhooks and generic webhooks: records every POST
 * (path, headers, JSON body) and injects faults: status codes with headers (Slack's 429 + Retry-After), hangs,
 * and a refused port for a while (`down()` / `up()`).
 */
import { switchable } from './loopback.js';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

export interface Received {
  path: string;
  headers: IncomingMessage['headers'];
  body: unknown;
  raw: string;
}

export interface WebhookServer {
  readonly url: string;
  /** Accepted requests (faulted ones are not included). */
  readonly received: Received[];
  /** Every request, faulted ones included. */
  readonly attempts: number;
  failNext(n: number, status: number, headers?: Record<string, string>, body?: string): void;
  hangNext(n: number): void;
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

export async function startWebhookServer(): Promise<WebhookServer> {
  const received: Received[] = [];
  const faults: { remaining: number; status: number; headers: Record<string, string>; body: string }[] = [];
  let hang = 0;
  let attempts = 0;
  const hung: ServerResponse[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      attempts++;
      if (hang > 0) {
        hang--;
        hung.push(res);
        return;
      }
      const f = faults[0];
      if (f) {
        if (--f.remaining <= 0) faults.shift();
        res.writeHead(f.status, { 'content-type': 'text/plain', ...f.headers });
        res.end(f.body);
        return;
      }
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: unknown;
      try {
        body = JSON.parse(raw);
      } catch {
        res.writeHead(400, { 'content-type': 'text/plain' });
        res.end('invalid_payload');
        return;
      }
      received.push({ path: req.url ?? '/', headers: req.headers, body, raw });
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
    });
  });
  const { port, up, down } = await switchable(server, hung);
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    get attempts() {
      return attempts;
    },
    failNext(n, status, headers = {}, body = '') {
      if (n > 0) faults.push({ remaining: n, status, headers, body });
    },
    hangNext(n) {
      hang += n;
    },
    down,
    up,
    close: down,
  };
}
