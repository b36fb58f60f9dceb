/**
 * `dasguard run`: watches a cluster's Database Activity Stream continuously (the live consumer), alerts on
 * stdout, operations on stderr, checkpoints in files. Stops cleanly on SIGINT/SIGTERM (or `deps.signal`).
 */
import { KinesisClient } from '@aws-sdk/client-kinesis';
import type { RDSClient } from '@aws-sdk/client-rds';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { WorkersOption } from './options.js';
import { createRdsClient } from '../aws/rds.js';
import { ExitCode, UsageError, stopped } from '../errors.js';
import { consoleHandoff } from '../delivery/consoleDelivery.js';
import { deliveryConfigFor, openConfiguredDelivery, formatDeliverySummary, type DeliveryOptions } from './deliveryOptions.js';
import type { DeliveryHandoff } from '../delivery/DeliveryHandoff.js';
import { HealthMonitor } from '../health/HealthMonitor.js';
import { loadLossPatterns } from '../health/lossWindows.js';
import { streamNotStartedAlert } from '../health/startupChecks.js';
import type { Redaction } from '../pipeline/alert.js';
import type { OutputFormat } from '../pipeline/output.js';
import type { StreamObserver, TrimmedData } from '../pipeline/StreamObserver.js';
import type { BatchSummary } from '../types.js';
import { openCoordination, resolveCoordination, type CoordinationFlags } from './runCoordination.js';
import { KinesisConsumer, parseStartPosition } from '../consumer/KinesisConsumer.js';
import type { ConsumerLogEntry } from '../consumer/types.js';
import { keyProviderFor, loadRulesOrExit, openPool } from './common.js';
import { colorOutput, type Io } from './io.js';
import { runLogger } from './runLogger.js';
import { notStartedError, reportStaleCheckpoints, resolveStream } from './runStart.js';
import type { LogLevel } from '../log/logger.js';
import { sdkNodeNote } from '../aws/nodeSupport.js';
import { join } from 'node:path';
import { Correlator } from '../pipeline/Correlator.js';
import { LiveRuleSet } from '../rules/LiveRuleSet.js';
import { deliveryConfigFile } from '../config/layers.js';
import { openHotReload } from './ruleReload.js';
import { FileCorrelationStore } from '../pipeline/CorrelationStore.js';
import { DEFAULT_DELIVERY_STALL_MS, healthVerdict, shardStallFor } from '../metrics/health.js';
import { startMetricsServer, type MetricsServer } from '../metrics/MetricsServer.js';
import { runRegistry } from '../metrics/runMetrics.js';

/** Where --metrics-port listens without --metrics-host: this host only. */
export const DEFAULT_METRICS_HOST = '127.0.0.1';

export interface RunOptions {
  /** DBClusterIdentifier: the stream is looked up with DescribeDBClusters. One of cluster / stream. */
  cluster?: string;
  /** A DAS stream name (`aws-rds-das-cluster-…`). */
  stream?: string;
  /** Overrides the resource id taken from the cluster or the stream name. */
  resourceId?: string;
  rules?: string[];
  output: OutputFormat;
  /** Text alerts with the record's position and the runbook (--verbose). */
  verbose?: boolean;
  redaction: Redaction;
  /** `latest`, `trim-horizon` or an ISO 8601 time: where shards without a checkpoint start. */
  from: string;
  checkpointDir: string;
  keyFile?: string;
  pollIntervalMs: number;
  statusIntervalMs: number;
  discoveryIntervalMs: number;
  concurrency: number;
  /** Worker threads for decryption, decoding and the stateless rules (RecordPool); 0 or absent: on the main thread. */
  workers?: WorkersOption;
  /** Alert delivery (dasguard.yaml or the shortcuts); without any, alerts go to stdout. */
  delivery?: DeliveryOptions;
  /** Health state (RDS events cursor, loss windows, liveness): default .dasguard/state. */
  stateDir?: string;
  /** Alert when an instance sends neither records nor heartbeats for this long; 0 turns it off. Default 60 s. */
  silenceMs?: number;
  /** How often RDS events are polled (with --cluster). Default 60 s. */
  rdsEventsIntervalMs?: number;
  /** --watch-rules: reload when a rule file or the config file changes (SIGHUP always reloads: ruleReload.ts). */
  watchRules?: boolean;
  /** Serve /metrics and /healthz on this port (0: any free port; the `metrics` log line says which). Absent: no server. */
  metricsPort?: number;
  /** Default 127.0.0.1. */
  metricsHost?: string;
  /** /healthz: a shard without progress this long is not being read (default shardStallFor(pollIntervalMs)). */
  healthShardStallMs?: number;
  /** /healthz: a sink whose oldest pending alert waited this long is stuck (default DEFAULT_DELIVERY_STALL_MS). */
  healthDeliveryStallMs?: number;
  /** YAML file of the RDS event patterns that open and close loss windows (default: the built-in ones). */
  lossPatterns?: string;
  /** --log-level (or DASGUARD_LOG_LEVEL): the least level of the log lines on stderr (default info). */
  logLevel?: LogLevel;
  /** --coordination, --lease-table, --state-table...: over dasguard.yaml's `coordination:` (src/commands/runCoordination.ts). */
  coordination?: CoordinationFlags;
}

export interface RunDeps {
  kinesis?: KinesisClient;
  rds?: RDSClient;
  /** Stops the run; without it SIGINT and SIGTERM do. */
  signal?: AbortSignal;
  observer?: StreamObserver;
}

export async function runCommand(opts: RunOptions, io: Io, deps: RunDeps = {}): Promise<number> {
  if ((opts.cluster === undefined) === (opts.stream === undefined)) {
    throw new UsageError('run needs exactly one of --cluster <DBClusterIdentifier> or --stream <stream name>');
  }
  const from = parseStartPosition(opts.from);
  const loaded = await loadRulesOrExit(opts.rules, io);
  // Hot reload (SIGHUP, --watch-rules) swaps the set between records: src/commands/ruleReload.ts.
  const ruleSet = new LiveRuleSet(loaded.ruleSet);
  const patterns = opts.lossPatterns !== undefined ? await loadLossPatterns(opts.lossPatterns) : undefined;
  const keys = await keyProviderFor(opts.keyFile);
  const log = runLogger(io.stderr, opts.logLevel);
  const note = sdkNodeNote();
  if (note) log.entry({ level: 'debug', msg: note });
  // Alerts (stdout, a console sink on stderr) and the log share the terminal: the status line is erased around them.
  const deliveryIo = { ...io, stdout: log.wrap(io.stdout), stderr: log.wrap(io.stderr) };
  const deliveryConfig = await deliveryConfigFor({ ...opts.delivery, stdoutFormat: opts.output }, deliveryIo, ruleSet.rules.map((r) => r.id));
  // One `run` per checkpoint directory (unless they share a lease table) and per outbox: each is locked before anything is
  // read or sent (a second `run` stops here with exit 2, naming the holder); a stale lock is taken over with a warning.
  const coordination = await openCoordination(resolveCoordination(opts.coordination ?? {}, deliveryConfig?.coordination, opts.checkpointDir), (e) => log.entry(e));
  let delivery: DeliveryHandoff | undefined;
  try {
    // Alerts are handed off (stdout, or the delivery outbox) before a record's checkpoint moves past it.
    // The suppression windows are persisted before each checkpoint write (they survive a crash).
    delivery = await openConfiguredDelivery(deliveryConfig, opts.delivery, deliveryIo, { persistSuppression: true, log: log.log });
  } catch (err) {
    await coordination.close();
    throw err;
  }
  const rds = deps.rds ?? (opts.cluster !== undefined ? createRdsClient() : undefined);
  const kinesis = deps.kinesis ?? new KinesisClient({ requestHandler: new NodeHttpHandler({ connectionTimeout: 5_000, requestTimeout: 30_000 }) });
  const stop = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    if (!stop.signal.aborted) log.entry({ level: 'info', msg: `${sig}: stopping (finishing records in flight, writing checkpoints)` });
    stop.abort();
  };
  const onOuterAbort = () => stop.abort();
  let hotReload: Awaited<ReturnType<typeof openHotReload>> | undefined;
  // SIGHUP reloads the rules (ruleReload.ts); taken from the start, so one sent while run starts does not end it.
  const onHup = () => {
    if (hotReload) void hotReload.reloader.request('SIGHUP');
    else log.entry({ level: 'warn', msg: 'SIGHUP while run is starting: not reloaded (send it again once run logs "watching")' });
  };
  if (deps.signal) {
    if (deps.signal.aborted) stop.abort();
    deps.signal.addEventListener('abort', onOuterAbort, { once: true });
  } else {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    process.on('SIGHUP', onHup);
  }
  const handoff: DeliveryHandoff = delivery ?? consoleHandoff(deliveryIo.stdout, opts.output, colorOutput(opts.output, io), opts.verbose);
  const pool = openPool(opts.workers);
  let statusTimer: NodeJS.Timeout | undefined;
  let health: HealthMonitor | undefined;
  let consumer: KinesisConsumer | undefined;
  let metrics: MetricsServer | undefined;
  try {
    if (opts.metricsPort !== undefined) {
      // Before anything is read: a port that cannot be bound stops run here (exit 2).
      metrics = await serveMetrics(opts, () => consumer, delivery, (e) => log.entry(e));
    }
    const { streamName, resourceId, info } = await resolveStream(opts, rds);
    if (info) {
      // Alerts name the cluster (activity events only carry its resource id).
      handoff.nameCluster(info.resourceId, info.clusterIdentifier);
      // A stream that is not started is itself a finding: alert, then refuse (below, as a ConfigError).
      const notStarted = streamNotStartedAlert(info, Date.now());
      if (notStarted) await handoff.handOff([notStarted]);
      if (info.status !== 'started' || info.streamName === null) throw notStartedError(opts.cluster!, info);
    }
    const clusterId = opts.cluster ?? resourceId ?? streamName;
    const { store, leases, where } = await coordination.forStream(streamName);
    health = new HealthMonitor({
      clusterId,
      handoff,
      ...(rds && opts.cluster !== undefined ? { rds } : {}),
      rules: ruleSet,
      ...(patterns ? { patterns } : {}),
      ...(opts.stateDir !== undefined ? { stateDir: opts.stateDir } : {}),
      ...(opts.silenceMs !== undefined && opts.silenceMs > 0 ? { silenceMs: opts.silenceMs } : {}),
      ...(opts.rdsEventsIntervalMs !== undefined ? { eventsIntervalMs: opts.rdsEventsIntervalMs } : {}),
      onError: (err) => log.entry({ level: 'warn', msg: `health check: ${err instanceof Error ? err.message : String(err)}` }),
    });
    await reportStaleCheckpoints(kinesis, store, streamName, health, (e) => log.entry(e));
    const observer = fanOut(health, deps.observer, opts.silenceMs === 0);
    // Correlation state: restored at start, persisted before every checkpoint write (a CheckpointedState).
    const correlationFile = join(opts.stateDir ?? DEFAULT_STATE_DIR, `correlation-${streamName.replace(/[^A-Za-z0-9_.-]/g, '_')}.json`);
    const shared = await coordination.sharedState((e) => log.entry(e));
    const correlator = await Correlator.open(ruleSet, { redaction: opts.redaction, store: new FileCorrelationStore(correlationFile), reloadable: true, ...(shared ? { shared } : {}) });
    if (correlator !== undefined && correlator.restarted.length > 0) {
      log.entry({ level: 'warn', msg: `${correlationFile}: ${correlator.restarted.length} correlation rule(s) changed since the state was saved, their state dropped: ${correlator.restarted.join(', ')}` });
    }
    consumer = new KinesisConsumer({
      client: kinesis,
      streamName,
      ...(resourceId !== undefined ? { resourceId } : {}),
      clusterId,
      deps: { keys, rules: ruleSet, redaction: opts.redaction, ...pool?.deps, ...(correlator ? { correlator } : {}) },
      handoff,
      checkpoints: store,
      ...(leases ? { leases } : {}),
      state: [...(delivery ? [delivery] : []), ...(correlator ? [correlator] : [])],
      from,
      observer,
      log: (e) => log.entry(e),
      pollIntervalMs: opts.pollIntervalMs,
      discoveryIntervalMs: opts.discoveryIntervalMs,
      concurrency: opts.concurrency,
    });
    hotReload = await openHotReload({
      paths: loaded.paths,
      live: ruleSet,
      correlator,
      configFile: deliveryConfigFile({ flag: opts.delivery?.configPath }, { implicit: true }),
      env: io.env,
      log: (e) => log.entry(e),
      watch: opts.watchRules === true,
    });
    log.entry({ level: 'info', msg: 'watching', stream: streamName, resourceId: resourceId ?? null, checkpoints: where, ...(leases ? { workerId: leases.workerId } : {}), rulesVersion: ruleSet.version ?? null });
    let last = { at: Date.now(), events: 0 };
    const reporting = consumer;
    const report = () => {
      const s = reporting.stats();
      log.status(streamName, s, last);
      last = { at: Date.now(), events: s.pipeline.events };
    };
    statusTimer = setInterval(report, opts.statusIntervalMs);
    health.start();
    try {
      await consumer.run(stop.signal);
    } finally {
      clearInterval(statusTimer);
      log.clear();
    }
    await health.stop();
    const s = consumer.stats();
    log.entry({ level: 'info', msg: 'stopped', stream: streamName, ...s.pipeline, kmsCalls: s.keys?.backendCalls ?? 0 });
    return ExitCode.ok;
  } catch (err) {
    if (health) {
      // The stream may be gone because it was stopped: one last look at RDS events, so that finding is reported.
      await health.pollEvents().catch(() => undefined);
      await health.stop().catch((e: unknown) => log.entry({ level: 'error', msg: `health check: ${e instanceof Error ? e.message : String(e)}` }));
    }
    throw stopped(err);
  } finally {
    hotReload?.close();
    if (deps.signal) deps.signal.removeEventListener('abort', onOuterAbort);
    else {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      process.off('SIGHUP', onHup);
    }
    await handoff.close();
    if (delivery) {
      const d = delivery.stats();
      log.entry({ level: 'info', msg: formatDeliverySummary(d, delivery.outboxDir).trim(), ...d });
      if (d.pending > 0) log.entry({ level: 'warn', msg: `${d.pending} alert deliveries still pending in ${delivery.outboxDir}: the next run resumes them` });
    }
    await metrics?.close();
    await coordination.close();
    await pool?.close();
    if (!deps.kinesis) kinesis.destroy();
    if (!deps.rds) rds?.destroy();
  }
}

/** The /metrics and /healthz server of `run`, reading the consumer (once it exists) and the outbox at each request. */
async function serveMetrics(
  opts: RunOptions,
  consumer: () => KinesisConsumer | undefined,
  delivery: DeliveryHandoff | undefined,
  log: (e: ConsumerLogEntry) => void,
): Promise<MetricsServer> {
  const sinks = () => delivery?.sinkStats() ?? [];
  const thresholds = {
    shardStallMs: opts.healthShardStallMs ?? shardStallFor(opts.pollIntervalMs),
    deliveryStallMs: opts.healthDeliveryStallMs ?? DEFAULT_DELIVERY_STALL_MS,
  };
  const server = await startMetricsServer({
    host: opts.metricsHost ?? DEFAULT_METRICS_HOST,
    port: opts.metricsPort!,
    registry: runRegistry({ consumer, sinks }),
    health: () => healthVerdict({ consumer: consumer()?.stats(), sinks: sinks() }, Date.now(), thresholds),
    onError: (err) => log({ level: 'error', msg: `metrics: ${err instanceof Error ? err.message : String(err)}` }),
  });
  log({ level: 'info', msg: 'metrics', url: `http://${server.host.includes(':') ? `[${server.host}]` : server.host}:${server.port}/metrics`, ...thresholds });
  return server;
}

/** Health checks and the caller's observer both see every batch. */
function fanOut(health: HealthMonitor, other: StreamObserver | undefined, silenceOff: boolean): StreamObserver {
  return {
    onBatch(batch: BatchSummary, info: { shardId?: string; arrivalTime?: number }) {
      if (!silenceOff) health.onBatch(batch);
      other?.onBatch?.(batch, info);
    },
    onTrimmed(gap: TrimmedData) {
      health.onTrimmed(gap);
      other?.onTrimmed?.(gap);
    },
  };
}

// ---- The command-line declaration of `run` (src/cli.ts lists it; src/commands/command.ts).
// (what only the declaration needs is imported here, so this block stays apart from the command's code)
import { defineCommand } from './command.js';
import { DEFAULT_CHECKPOINT_DIR } from '../config/layers.js';
import { DEFAULT_STATE_DIR } from '../health/stateFile.js';
import { ALERT_OUTPUT_OPTION, VERBOSE_OPTION, DECODE_FLAGS, DELIVERY_OPTIONS, INPUT_OPTIONS, LOG_LEVEL_OPTION, LOSS_PATTERNS_OPTION, RULES_OPTION, alertOutputOption, decodeOptions, deliveryOptions, durationOption, logLevelOption, pickOptions } from './options.js';
import { DEFAULT_SHARD_STALL_MS } from '../metrics/health.js';
import { COORDINATION_OPTIONS, coordinationFlags } from './runCoordination.js';

export const runCli = defineCommand({
  name: 'run',
  usage: 'Usage: dasguard run (--cluster ID | --stream NAME) [options]',
  description:
    'Watches a Database Activity Stream continuously: every shard in order, resharding followed, checkpoints kept, so\n' +
    'a restart resumes where the last run stopped (at-least-once). Alerts go to stdout; status and problems to stderr\n' +
    '(JSON lines, or a status line on a terminal). SIGINT/SIGTERM: finish records in flight, write checkpoints, exit 0.\n' +
    'SIGHUP (or a changed file, with --watch-rules): reload the rules; a set with any problem is refused, the old one runs on.',
  options: {
    cluster: { type: 'string', label: '--cluster ID', help: 'DBClusterIdentifier: the stream and resource id come from DescribeDBClusters' },
    stream: { type: 'string', label: '--stream NAME', help: 'The stream name (aws-rds-das-cluster-…) instead of --cluster' },
    from: { type: 'string', default: 'latest', label: '--from P', help: 'Where shards without a checkpoint start: latest (default), trim-horizon or an ISO 8601 time' },
    'checkpoint-dir': { type: 'string', default: DEFAULT_CHECKPOINT_DIR, label: '--checkpoint-dir DIR', help: `Checkpoint files, one per stream (default ${DEFAULT_CHECKPOINT_DIR})` },
    ...COORDINATION_OPTIONS,
    rules: RULES_OPTION,
    output: ALERT_OUTPUT_OPTION,
    verbose: VERBOSE_OPTION,
    'poll-interval': { type: 'string', default: '1s', label: '--poll-interval D', help: 'Wait between GetRecords calls once a shard is caught up (default 1s)' },
    'status-interval': { type: 'string', default: '10s', label: '--status-interval D', help: 'Status report on stderr every D (default 10s)' },
    'discovery-interval': { type: 'string', default: '30s', label: '--discovery-interval D', help: 'Look for new shards every D (default 30s)' },
    ...pickOptions(INPUT_OPTIONS, DECODE_FLAGS, {
      concurrency: { default: '8', help: 'Records of one shard decoded at once (default 8); alerts keep shard order' },
      // Off unless asked: a long-lived run passes auto's 1,000 records on any stream, a quiet one for no gain (README).
      workers: { default: '0', help: 'Decrypt, decode and run the stateless rules in N worker threads (default 0: on the main\nthread); auto: one per core, started once 1,000 encrypted records came. Alerts, ids and\ncheckpoints are unchanged' },
      'resource-id': { help: 'DAS resource id (cluster-… or db-…) for the KMS encryption context; by default from\nDescribeDBClusters (--cluster) or the stream name (--stream)' },
    }),
    silence: { type: 'string', default: '60s', label: '--silence D', help: 'Alert when an instance sends no record and no heartbeat for D (default 60s; 0: off)' },
    'rds-events-interval': { type: 'string', default: '60s', label: '--rds-events-interval D', help: 'With --cluster: poll RDS events (loss windows, stream stopped...) every D (default 60s)' },
    'state-dir': { type: 'string', label: '--state-dir DIR', help: `Health state: RDS events cursor, loss windows, liveness (default ${DEFAULT_STATE_DIR})` },
    'watch-rules': { type: 'boolean', label: '--watch-rules', help: 'Reload the rules when a rule file or the config file changes (SIGHUP always reloads them)' },
    'metrics-port': { type: 'string', label: '--metrics-port PORT', help: 'Serve Prometheus /metrics and /healthz on PORT (0: any free port, logged); off by default' },
    'metrics-host': { type: 'string', label: '--metrics-host HOST', help: `Address the metrics server listens on (default ${DEFAULT_METRICS_HOST}; 0.0.0.0: every interface)` },
    'health-read-stall': { type: 'string', label: '--health-read-stall D', help: `/healthz fails when a shard made no progress for D (default ${DEFAULT_SHARD_STALL_MS / 1000}s, or 3 poll intervals)` },
    'health-delivery-stall': { type: 'string', label: '--health-delivery-stall D', help: `/healthz fails when a sink's oldest pending alert waited D (default ${DEFAULT_DELIVERY_STALL_MS / 60_000}m)` },
    'loss-patterns': { ...LOSS_PATTERNS_OPTION, help: 'With --cluster: YAML patterns for the RDS events that open and close loss windows\n(see docs/health.md)' },
    'log-level': LOG_LEVEL_OPTION,
    ...DELIVERY_OPTIONS,
  },
  footer: '  Durations: 500ms, 1.5s, 30s, 10m, 1h (a number and a unit).',
  run(v, positionals, io) {
    if (positionals.length > 0) throw new UsageError(`run takes no PATH arguments; got "${positionals[0]}"`);
    if (v['loss-patterns'] !== undefined && v.cluster === undefined) throw new UsageError('--loss-patterns needs --cluster: RDS events (and so loss windows) are polled only with --cluster');
    return runCommand(
      {
        cluster: v.cluster,
        stream: v.stream,
        from: v.from,
        checkpointDir: v['checkpoint-dir'],
        rules: v.rules,
        output: alertOutputOption(v.output),
        verbose: v.verbose,
        pollIntervalMs: durationOption('poll-interval', v['poll-interval']),
        statusIntervalMs: durationOption('status-interval', v['status-interval']),
        discoveryIntervalMs: durationOption('discovery-interval', v['discovery-interval']),
        ...decodeOptions(v),
        ...(v['state-dir'] !== undefined ? { stateDir: v['state-dir'] } : {}),
        silenceMs: durationOption('silence', v.silence, { offWithZero: true }),
        rdsEventsIntervalMs: durationOption('rds-events-interval', v['rds-events-interval']),
        ...metricsOptions(v),
        ...(v['loss-patterns'] !== undefined ? { lossPatterns: v['loss-patterns'] } : {}),
        delivery: deliveryOptions(v),
        watchRules: v['watch-rules'] === true,
        logLevel: logLevelOption(v['log-level'], io.env),
        coordination: coordinationFlags(v),
      },
      io,
    );
  },
});

/** --metrics-port (a port number, 0 for any), --metrics-host and the /healthz thresholds; a stray one is a usage error. */
function metricsOptions(v: Record<string, string | boolean | string[] | undefined>): Pick<RunOptions, 'metricsPort' | 'metricsHost' | 'healthShardStallMs' | 'healthDeliveryStallMs'> {
  const port = v['metrics-port'];
  const out: ReturnType<typeof metricsOptions> = {};
  if (typeof port === 'string') {
    const n = Number(port);
    if (!/^\d+$/.test(port) || n > 65535) throw new UsageError(`--metrics-port must be a port number from 0 to 65535; got "${port}"`);
    out.metricsPort = n;
  }
  for (const [flag, key] of [['metrics-host', 'metricsHost'], ['health-read-stall', 'healthShardStallMs'], ['health-delivery-stall', 'healthDeliveryStallMs']] as const) {
    const value = v[flag];
    if (typeof value !== 'string') continue;
    if (out.metricsPort === undefined) throw new UsageError(`--${flag} needs --metrics-port`);
    if (key === 'metricsHost') out.metricsHost = value;
    else out[key] = durationOption(flag, value);
  }
  return out;
}

