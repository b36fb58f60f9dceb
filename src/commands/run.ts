/**
 * `dasguard run`: watches a cluster's Database Activity Stream continuously (the live consumer), alerts on
 * stdout, operations on stderr, checkpoints in files. Stops cleanly on SIGINT/SIGTERM (or `deps.signal`).
 */
import { KinesisClient } from '@aws-sdk/client-kinesis';
import type { RDSClient } from '@aws-sdk/client-rds';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { describeActivityStream, createRdsClient } from '../aws/rds.js';
import { ConfigError, ExitCode, ExitError, TransientError, UsageError } from '../errors.js';
import { resourceIdFromStreamName } from '../keys/KeyProvider.js';
import { ConsoleHandoff } from '../pipeline/AlertHandoff.js';
import type { Redaction } from '../pipeline/alert.js';
import { withRetry } from '../pipeline/drive.js';
import type { OutputFormat } from '../pipeline/output.js';
import type { StreamObserver } from '../pipeline/StreamObserver.js';
import { FileCheckpointStore } from '../consumer/FileCheckpointStore.js';
import { KinesisConsumer, parseStartPosition, type ConsumerLogEntry, type ConsumerStats } from '../consumer/KinesisConsumer.js';
import { keyProviderFor, loadRulesOrExit, type Io } from './common.js';

export interface RunOptions {
  /** DBClusterIdentifier: the stream is looked up with DescribeDBClusters. One of cluster / stream. */
  cluster?: string;
  /** A DAS stream name (`aws-rds-das-cluster-…`). */
  stream?: string;
  /** Overrides the resource id taken from the cluster or the stream name. */
  resourceId?: string;
  rules?: string[];
  output: OutputFormat;
  redaction: Redaction;
  /** `latest`, `trim-horizon` or an ISO 8601 time: where shards without a checkpoint start. */
  from: string;
  checkpointDir: string;
  keyFile?: string;
  pollIntervalMs: number;
  statusIntervalMs: number;
  discoveryIntervalMs: number;
  concurrency: number;
}

export interface RunDeps {
  kinesis?: KinesisClient;
  rds?: RDSClient;
  /** Stops the run; without it SIGINT and SIGTERM do. */
  signal?: AbortSignal;
  observer?: StreamObserver;
}

/** `500ms`, `2s`, `1m`, or a bare number of seconds -> milliseconds. */
export function parseDuration(name: string, v: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(v.trim());
  if (!m) throw new UsageError(`--${name} must be a duration like 500ms, 2s or 1m; got "${v}"`);
  const n = Number(m[1]);
  const ms = m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1000;
  if (ms <= 0) throw new UsageError(`--${name} must be more than 0; got "${v}"`);
  return Math.round(ms);
}

export async function runCommand(opts: RunOptions, io: Io, deps: RunDeps = {}): Promise<number> {
  if ((opts.cluster === undefined) === (opts.stream === undefined)) {
    throw new UsageError('run needs exactly one of --cluster <DBClusterIdentifier> or --stream <stream name>');
  }
  const from = parseStartPosition(opts.from);
  const { ruleSet } = await loadRulesOrExit(opts.rules, io);
  const keys = await keyProviderFor(opts.keyFile);
  const rds = deps.rds ?? (opts.cluster !== undefined ? createRdsClient() : undefined);
  const kinesis = deps.kinesis ?? new KinesisClient({ requestHandler: new NodeHttpHandler({ connectionTimeout: 5_000, requestTimeout: 30_000 }) });
  const log = logger(io.stderr);
  const stop = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    if (!stop.signal.aborted) log.entry({ level: 'info', msg: `${sig}: stopping (finishing records in flight, writing checkpoints)` });
    stop.abort();
  };
  const onOuterAbort = () => stop.abort();
  if (deps.signal) {
    if (deps.signal.aborted) stop.abort();
    deps.signal.addEventListener('abort', onOuterAbort, { once: true });
  } else {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  const handoff = new ConsoleHandoff(io.stdout as never, opts.output, opts.output === 'text' && Boolean(io.stdout.isTTY) && !io.env.NO_COLOR);
  const store = new FileCheckpointStore(opts.checkpointDir);
  let statusTimer: NodeJS.Timeout | undefined;
  try {
    const { streamName, resourceId } = await resolveStream(opts, rds);
    const consumer = new KinesisConsumer({
      client: kinesis,
      streamName,
      ...(resourceId !== undefined ? { resourceId } : {}),
      deps: { keys, rules: ruleSet, redaction: opts.redaction },
      handoff,
      checkpoints: store,
      from,
      ...(deps.observer ? { observer: deps.observer } : {}),
      log: (e) => log.entry(e),
      pollIntervalMs: opts.pollIntervalMs,
      discoveryIntervalMs: opts.discoveryIntervalMs,
      concurrency: opts.concurrency,
    });
    log.entry({ level: 'info', msg: 'watching', stream: streamName, resourceId: resourceId ?? null, checkpoints: store.fileFor(streamName) });
    let last = { at: Date.now(), events: 0 };
    const report = () => {
      const s = consumer.stats();
      log.status(streamName, s, last);
      last = { at: Date.now(), events: s.events };
    };
    statusTimer = setInterval(report, opts.statusIntervalMs);
    try {
      await consumer.run(stop.signal);
    } finally {
      clearInterval(statusTimer);
      log.clear();
    }
    const s = consumer.stats();
    log.entry({
      level: 'info',
      msg: 'stopped',
      stream: streamName,
      records: s.records,
      events: s.events,
      alerts: s.alerts,
      quarantined: s.quarantined,
      kmsCalls: s.keys?.backendCalls ?? 0,
    });
    return ExitCode.ok;
  } catch (err) {
    if (err instanceof ConfigError) throw new ExitError(ExitCode.usage, err.message);
    if (err instanceof TransientError) {
      throw new ExitError(ExitCode.unavailable, `stopped: ${err.message} (retries exhausted; nothing was skipped: re-run to continue)`);
    }
    throw err;
  } finally {
    if (deps.signal) deps.signal.removeEventListener('abort', onOuterAbort);
    else {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    await handoff.close();
    await store.close();
    if (!deps.kinesis) kinesis.destroy();
    if (!deps.rds) rds?.destroy();
  }
}

async function resolveStream(opts: RunOptions, rds: RDSClient | undefined): Promise<{ streamName: string; resourceId: string | undefined }> {
  if (opts.stream !== undefined) {
    const resourceId = opts.resourceId ?? resourceIdFromStreamName(opts.stream);
    if (resourceId === undefined && opts.keyFile === undefined) {
      throw new ConfigError(
        `cannot tell the DAS resource id from stream name "${opts.stream}" (expected aws-rds-das-cluster-… or aws-rds-das-db-…): pass --resource-id`,
      );
    }
    return { streamName: opts.stream, resourceId };
  }
  const cluster = opts.cluster!;
  const info = await withRetry(() => describeActivityStream(rds!, cluster), { attempts: 5 });
  if (info.status !== 'started' || info.streamName === null) {
    throw new ConfigError(
      `the activity stream of cluster "${cluster}" is ${info.status}${info.streamName === null ? ' (no stream)' : ''}, not started: ` +
        `start it (aws rds start-activity-stream --resource-arn ${info.clusterArn ?? '<cluster ARN>'} --mode async --kms-key-id <key>) and run again`,
    );
  }
  return { streamName: info.streamName, resourceId: opts.resourceId ?? info.resourceId };
}

interface Logger {
  entry(e: ConsumerLogEntry): void;
  status(stream: string, s: ConsumerStats, since: { at: number; events: number }): void;
  /** Erases the terminal status line, if one is shown. */
  clear(): void;
}

/** JSON log lines when stderr is not a terminal; readable lines and a refreshed status line when it is. */
function logger(err: NodeJS.WriteStream): Logger {
  const tty = Boolean(err.isTTY);
  let statusShown = false;
  const clear = () => {
    if (statusShown) err.write('\r\x1b[2K');
    statusShown = false;
  };
  return {
    entry(e) {
      if (!tty) {
        err.write(JSON.stringify({ time: new Date().toISOString(), ...e }) + '\n');
        return;
      }
      clear();
      const { level, msg, ...rest } = e;
      const fields = Object.entries(rest)
        .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
        .join(' ');
      err.write(`dasguard: ${level === 'info' ? '' : `${level}: `}${msg}${fields ? `  ${fields}` : ''}\n`);
    },
    status(stream, s, since) {
      const secs = Math.max(0.001, (Date.now() - since.at) / 1000);
      const rate = Math.round((s.events - since.events) / secs);
      const kms = s.keys?.backendCalls ?? 0;
      if (!tty) {
        err.write(
          JSON.stringify({
            time: new Date().toISOString(),
            level: 'info',
            msg: 'status',
            stream,
            records: s.records,
            events: s.events,
            eventsPerSec: rate,
            heartbeats: s.heartbeats,
            alerts: s.alerts,
            quarantined: s.quarantined,
            kmsCalls: kms,
            keyCacheHits: s.keys?.cacheHits ?? 0,
            shards: s.shards.map((x) => ({ shardId: x.shardId, state: x.state, lagMs: x.lagMs, sequenceNumber: x.sequenceNumber })),
          }) + '\n',
        );
        return;
      }
      const lag = s.shards
        .filter((x) => x.state === 'reading')
        .map((x) => `${x.shardId.replace(/^shardId-0*/, '#')}:${x.lagMs === null ? '?' : formatLag(x.lagMs)}`)
        .join(' ');
      clear();
      err.write(
        `${s.records.toLocaleString('en-US')} records, ${s.events.toLocaleString('en-US')} events (${rate.toLocaleString('en-US')}/s), ` +
          `${s.alerts} alerts, ${s.quarantined} quarantined, ${kms} KMS calls | lag ${lag || '-'}`,
      );
      statusShown = true;
    },
    clear,
  };
}

function formatLag(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  return `${Math.round(ms / 60_000)}m`;
}
