/**
 * What `dasguard run` writes to stderr about itself: JSON log lines when stderr is not a terminal; on a terminal,
 * readable lines and a status line refreshed in place (records, events/s, alerts, per-shard lag), erased before
 * any other line is written so lines never run together.
 */
import type { ConsumerLogEntry, ConsumerStats } from '../consumer/types.js';
import { jsonLine, terminalSafe } from '../util/escape.js';

export interface RunLogger {
  entry(e: ConsumerLogEntry): void;
  status(stream: string, s: ConsumerStats, since: { at: number; events: number }): void;
  /** Erases the terminal status line, if one is shown. */
  clear(): void;
}

/** JSON log lines when stderr is not a terminal; readable lines and a refreshed status line when it is. */
export function runLogger(err: NodeJS.WriteStream): RunLogger {
  const tty = Boolean(err.isTTY);
  let statusShown = false;
  const clear = () => {
    if (statusShown) err.write('\r\x1b[2K');
    statusShown = false;
  };
  return {
    entry(e) {
      if (!tty) {
        err.write(jsonLine({ time: new Date().toISOString(), ...e }) + '\n');
        return;
      }
      clear();
      const { level, msg, ...rest } = e;
      const fields = Object.entries(rest)
        .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
        .join(' ');
      err.write(`dasguard: ${level === 'info' ? '' : `${level}: `}${terminalSafe(`${msg}${fields ? `  ${fields}` : ''}`)}\n`);
    },
    status(stream, s, since) {
      const secs = Math.max(0.001, (Date.now() - since.at) / 1000);
      const c = s.pipeline;
      const rate = Math.round((c.events - since.events) / secs);
      const kms = s.keys?.backendCalls ?? 0;
      if (!tty) {
        err.write(
          jsonLine({
            time: new Date().toISOString(),
            level: 'info',
            msg: 'status',
            stream,
            // Every counter of the pipeline's snapshot, under its name.
            ...c,
            eventsPerSec: rate,
            kmsCalls: kms,
            keyCacheHits: s.keys?.cacheHits ?? 0,
            shards: s.shards.map((x) => ({ shardId: x.shardId, state: x.state, lagMs: x.lagMs, sequenceNumber: x.sequenceNumber })),
          }) + '\n',
        );
        return;
      }
      const lag = s.shards
        .filter((x) => x.state === 'reading')
        .map((x) => `${x.shardId.replace(/^shardId-0*(?=\d)/, '#')}:${x.lagMs === null ? '?' : formatLag(x.lagMs)}`)
        .join(' ');
      clear();
      err.write(
        `${c.records.toLocaleString('en-US')} records, ${c.events.toLocaleString('en-US')} events (${rate.toLocaleString('en-US')}/s), ` +
          `${c.alerts} alerts, ${c.quarantined} quarantined, ${kms} KMS calls | lag ${lag || '-'}`,
      );
      statusShown = true;
    },
    clear,
  };
}

/** stderr for other writers (delivery warnings): erases the terminal status line first, so lines never run together. */
export function clearingStream(err: NodeJS.WriteStream, clear: () => void): NodeJS.WriteStream {
  if (!err.isTTY) return err;
  const wrapped = Object.create(err) as NodeJS.WriteStream;
  wrapped.write = ((...args: Parameters<NodeJS.WriteStream['write']>) => {
    clear();
    return (err.write as (...a: unknown[]) => boolean)(...args);
  }) as NodeJS.WriteStream['write'];
  return wrapped;
}

function formatLag(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  return `${Math.round(ms / 60_000)}m`;
}
