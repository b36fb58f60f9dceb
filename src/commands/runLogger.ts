/**
 * What `dasguard run` writes to stderr about itself, through the one logger (src/log/logger.ts): JSON log lines when
 * stderr is not a terminal; on a terminal, readable lines and a status line refreshed in place (records, events/s,
 * alerts, per-shard lag), erased before any other line (a log line, an alert on stdout: `wrap`) and drawn again
 * after it, so lines never run together.
 */
import type { Writable } from 'node:stream';
import type { ConsumerStats } from '../consumer/types.js';
import { openLog, type Log, type LogEntry, type LogLevel, type Logger } from '../log/logger.js';

export interface RunLogger {
  entry(e: LogEntry): void;
  /** The logger as a function of one entry (for the modules run hands it to). */
  log: Log;
  logger: Logger;
  status(stream: string, s: ConsumerStats, since: { at: number; events: number }): void;
  /** Erases the terminal status line, if one is shown. */
  clear(): void;
  /** Another writer on the terminal (alerts on stdout, a console sink on stderr): erases the status line first. */
  wrap<S extends Writable>(stream: S & { isTTY?: boolean }): S;
}

/** JSON log lines when stderr is not a terminal; readable lines and a refreshed status line when it is. */
export function runLogger(err: NodeJS.WriteStream, level?: LogLevel): RunLogger {
  const out = openLog(err, level !== undefined ? { level } : {});
  return {
    entry: out.log,
    log: out.log,
    logger: out.logger,
    status(stream, s, since) {
      const secs = Math.max(0.001, (Date.now() - since.at) / 1000);
      const c = s.pipeline;
      const rate = Math.round((c.events - since.events) / secs);
      const kms = s.keys?.backendCalls ?? 0;
      if (!out.terminal) {
        out.log({
          level: 'info',
          msg: 'status',
          stream,
          // Every counter of the pipeline's snapshot, under its name.
          ...c,
          eventsPerSec: rate,
          kmsCalls: kms,
          keyCacheHits: s.keys?.cacheHits ?? 0,
          shards: s.shards.map((x) => ({ shardId: x.shardId, state: x.state, lagMs: x.lagMs, sequenceNumber: x.sequenceNumber })),
        });
        return;
      }
      const lag = s.shards
        .filter((x) => x.state === 'reading')
        .map((x) => `${x.shardId.replace(/^shardId-0*(?=\d)/, '#')}:${x.lagMs === null ? '?' : formatLag(x.lagMs)}`)
        .join(' ');
      out.status(
        `${c.records.toLocaleString('en-US')} records, ${c.events.toLocaleString('en-US')} events (${rate.toLocaleString('en-US')}/s), ` +
          `${c.alerts} alerts, ${c.quarantined} quarantined, ${kms} KMS calls | lag ${lag || '-'}`,
      );
    },
    clear: out.clear,
    wrap: out.wrap,
  };
}

function formatLag(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  return `${Math.round(ms / 60_000)}m`;
}
