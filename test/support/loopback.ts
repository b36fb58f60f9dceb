/**
 * A test server on 127.0.0.1 that can be taken down and brought back on the same port (a receiver that is down
 * for a while: connections refused, then accepted again). Tracks sockets so `stop` is immediate.
 */
import type { Server } from 'node:http';
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
