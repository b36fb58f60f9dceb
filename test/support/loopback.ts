/**
 * A test server on 127.0.0.1 that can be taken down and brought back on the same port (a receiver that is down
 * for a while: connections refused, then accepted again). Tracks sockets so `stop` is immediate.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface Switchable {
  readonly port: number;
  /** Listens again on the same port. */
  up(): Promise<void>;
  /** Stops listening and drops open connections (and the `hung` requests), so clients see refused connections. */
  down(): Promise<void>;
}

export async function switchable(server: Server, hung: { destroy(): void }[] = []): Promise<Switchable> {
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  await listen(0);
  const { port } = server.address() as AddressInfo;
  return {
    port,
    up: () => listen(port),
    down: () =>
      new Promise<void>((resolve) => {
        for (const r of hung.splice(0)) r.destroy();
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}

/**
 * An AWS-like test server on 127.0.0.1 and a free port: each request's whole body is given to `handle` as text; a
 * throw there is answered by `internal` (the service's own 500). Resolves once it listens.
 */
export async function startBodyServer(
  handle: (req: IncomingMessage, res: ServerResponse, body: string) => void,
  internal: (res: ServerResponse, err: unknown) => void,
): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        handle(req, res, Buffer.concat(chunks).toString('utf8'));
      } catch (err) {
        internal(res, err);
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}
