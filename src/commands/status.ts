/**
 * `dasguard status --cluster ID`: the activity stream (RDS), its Kinesis stream, how far the consumer got
 * (checkpoints), the last heartbeat seen and the loss windows still open (state dir). Human output or JSON.
 * With --lease-table (run --coordination dynamodb), the checkpoints are the lease table's, and every lease is listed:
 * shard, owner, counter, checkpoint.
 * IAM: rds:DescribeDBClusters, kinesis:DescribeStreamSummary (and dynamodb:Scan on the lease table).
 */
import { DescribeStreamSummaryCommand, KinesisClient } from '@aws-sdk/client-kinesis';
import type { RDSClient } from '@aws-sdk/client-rds';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { existsSync } from 'node:fs';
import { awsErrorInfo, classifyAwsError } from '../aws/errors.js';
import { createRdsClient, describeActivityStream, type ActivityStreamInfo } from '../aws/rds.js';
import { FileCheckpointStore } from '../consumer/FileCheckpointStore.js';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createDynamoDbClient } from '../aws/dynamodb.js';
import { LeaseTable, leaseCheckpoint } from '../consumer/dynamo/LeaseTable.js';
import type { ShardCheckpoint } from '../consumer/CheckpointStore.js';
import { UsageError, errorMessage, exitCodeOf } from '../errors.js';
import { formatDuration, systemClock, type Clock } from '../health/healthAlert.js';
import { readLivenessState, type LivenessState } from '../health/HealthMonitor.js';
import { openWindows, type LossWindow } from '../health/lossWindows.js';
import { readRdsEventsState } from '../health/RdsEventsWatcher.js';
import { StatusCode, statusFindings, verdictLine, verdictOf, type Finding, type StatusLimits, type Verdict } from '../health/statusFindings.js';
import { resourceIdFromStreamName } from '../sources/streamName.js';
import type { Io } from './io.js';
import { terminalLines } from '../util/escape.js';

export interface StatusOptions {
  /** DBClusterIdentifier: the activity stream is asked of RDS. One of cluster / stream. */
  cluster?: string;
  /** A DAS stream name (`aws-rds-das-cluster-…`), as `run --stream` takes it: RDS is not asked. */
  stream?: string;
  output: 'text' | 'json';
  stateDir: string;
  checkpointDir: string;
  /** The lease table of `run --coordination dynamodb`: checkpoints and owners from it instead of --checkpoint-dir. */
  leaseTable?: string;
  limits: StatusLimits;
}

export interface StatusDeps {
  rds?: RDSClient;
  kinesis?: KinesisClient;
  dynamodb?: DynamoDBClient;
  clock?: Clock;
}

export interface StatusReport {
  /** OK, WARNING, CRITICAL or UNKNOWN (could not check): the worst finding's. */
  verdict: Verdict;
  /** 0, 1, 2 or 3: the process's exit code. */
  exitCode: number;
  /** Everything worth a person's attention, each with its severity (none when OK). */
  findings: Finding[];
  cluster: string | null;
  resourceId: string | null;
  engine: string | null;
  clusterArn: string | null;
  /** null with --stream (RDS is not asked). */
  activityStream: { status: string; mode: string | null; kmsKeyId: string | null; streamName: string | null } | null;
  kinesis: { streamName: string; status: string | null; openShards: number | null; retentionHours: number | null; missing?: boolean; error?: string } | null;
  consumer: {
    checkpointDir: string;
    shards: { shardId: string; sequenceNumber: string | null; updatedAt: string | null; ageMs: number | null; finished: boolean }[];
  } | null;
  /** With --lease-table: who holds which shard. */
  leases: {
    table: string;
    shards: { shardId: string; owner: string | null; counter: number; checkpoint: string; parents: string[]; ownerSwitchesSinceCheckpoint: number; updatedAt: string | null }[];
  } | null;
  liveness: { updatedAt: string; thresholdMs: number; instances: LivenessState['instances'] } | null;
  /** null when never polled (or not checked, with --stream). */
  rdsEvents: { lastPoll: string | null; cursor: string | null } | null;
  openLossWindows: (LossWindow & { openForMs: number })[];
}

export async function statusCommand(opts: StatusOptions, io: Io, deps: StatusDeps = {}): Promise<number> {
  if ((opts.cluster === undefined) === (opts.stream === undefined)) {
    throw new UsageError('status needs exactly one of --cluster <DBClusterIdentifier> or --stream <stream name>');
  }
  const clock = deps.clock ?? systemClock;
  const rds = deps.rds ?? (opts.cluster !== undefined ? createRdsClient() : undefined);
  const kinesis = deps.kinesis ?? new KinesisClient({ requestHandler: new NodeHttpHandler() });
  const dynamodb = deps.dynamodb ?? (opts.leaseTable !== undefined ? createDynamoDbClient() : undefined);
  try {
    let report: StatusReport | undefined;
    try {
      report = await gatherStatus(opts, rds, kinesis, clock, dynamodb);
    } catch (err) {
      // The check itself could not be made (RDS unreachable, no such cluster, no permission, a damaged state file):
      // UNKNOWN, exit 3, as monitors expect. Anything else is a bug, and stays one (exit 70).
      if (exitCodeOf(err) === undefined) throw err;
      const subject = opts.cluster !== undefined ? `cluster ${opts.cluster}` : `stream ${opts.stream}`;
      const finding: Finding = { severity: 'unknown', check: 'status', summary: `could not check ${subject}: ${errorMessage(err)}`, message: errorMessage(err) };
      const unknown = { verdict: 'UNKNOWN' as const, exitCode: StatusCode.unknown, findings: [finding] };
      io.stdout.write(opts.output === 'json' ? JSON.stringify(unknown, null, 2) + '\n' : terminalLines(`${verdictLine([finding], '')}\n`));
      return StatusCode.unknown;
    }
    io.stdout.write(opts.output === 'json' ? JSON.stringify(report, null, 2) + '\n' : terminalLines(formatStatus(report, clock.now())));
    return report.exitCode;
  } finally {
    if (!deps.rds) rds?.destroy();
    if (!deps.kinesis) kinesis.destroy();
    if (!deps.dynamodb) dynamodb?.destroy();
  }
}

async function describeKinesis(kinesis: KinesisClient, streamName: string): Promise<NonNullable<StatusReport['kinesis']>> {
  try {
    const out = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: streamName }));
    const s = out.StreamDescriptionSummary;
    return { streamName, status: s?.StreamStatus ?? null, openShards: s?.OpenShardCount ?? null, retentionHours: s?.RetentionPeriodHours ?? null };
  } catch (err) {
    if (awsErrorInfo(err).name === 'ResourceNotFoundException') return { streamName, status: null, openShards: null, retentionHours: null, missing: true };
    // status reports what it can: a missing kinesis permission must not hide the rest
    const e = classifyAwsError(err, `Kinesis DescribeStreamSummary for stream "${streamName}"`, { configHint: 'the kinesis:DescribeStreamSummary permission' });
    return { streamName, status: null, openShards: null, retentionHours: null, error: errorMessage(e) };
  }
}

async function gatherStatus(opts: StatusOptions, rds: RDSClient | undefined, kinesis: KinesisClient, clock: Clock, dynamodb: DynamoDBClient | undefined): Promise<StatusReport> {
  const now = clock.now();
  const info: ActivityStreamInfo | undefined = opts.cluster !== undefined ? await describeActivityStream(rds!, opts.cluster) : undefined;
  const streamName = info ? info.streamName : opts.stream!;
  const resourceId = info ? info.resourceId : (resourceIdFromStreamName(opts.stream!) ?? null);
  // the health state's key: what `run` names it by (the cluster identifier, or with --stream the resource id)
  const stateKey = info ? info.clusterIdentifier : (resourceId ?? opts.stream!);

  const kin = streamName !== null ? await describeKinesis(kinesis, streamName) : null;

  let consumer: StatusReport['consumer'] = null;
  let leases: StatusReport['leases'] = null;
  let shards = new Map<string, ShardCheckpoint>();
  const checkpointsIn = opts.leaseTable !== undefined ? `lease table ${opts.leaseTable}` : opts.checkpointDir;
  if (streamName !== null && opts.leaseTable !== undefined) {
    const items = (await new LeaseTable({ client: dynamodb!, tableName: opts.leaseTable }).scan()).filter((l) => l.streamName === undefined || l.streamName === streamName);
    items.sort((a, b) => (a.shardId < b.shardId ? -1 : 1));
    leases = {
      table: opts.leaseTable,
      shards: items.map((l) => ({ shardId: l.shardId, owner: l.owner, counter: l.counter, checkpoint: l.checkpoint, parents: l.parents, ownerSwitchesSinceCheckpoint: l.ownerSwitches, updatedAt: l.updatedAt ?? null })),
    };
    for (const l of items) {
      const { checkpoint } = leaseCheckpoint(l);
      if (checkpoint) shards.set(l.shardId, checkpoint);
    }
  } else if (streamName !== null && existsSync(opts.checkpointDir)) {
    const store = new FileCheckpointStore(opts.checkpointDir);
    shards = await store.load(streamName);
    await store.close();
  }
  if (shards.size > 0) {
    consumer = {
      checkpointDir: checkpointsIn,
      shards: [...shards]
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([shardId, cp]) => {
          const t = cp.updatedAt !== undefined ? Date.parse(cp.updatedAt) : NaN;
          return { shardId, sequenceNumber: cp.sequenceNumber ?? null, updatedAt: cp.updatedAt ?? null, ageMs: Number.isNaN(t) ? null : now - t, finished: cp.finished === true };
        }),
    };
  }

  const live = await readLivenessState(opts.stateDir, stateKey);
  const liveness = live ? { updatedAt: live.updatedAt, thresholdMs: live.thresholdMs, instances: live.instances } : null;
  const ev = info ? await readRdsEventsState(opts.stateDir, stateKey) : undefined;
  const open = ev ? openWindows(ev.lossWindows).map((w) => ({ ...w, openForMs: now - Date.parse(w.start) })) : [];

  const subject = info ? `cluster ${info.clusterIdentifier}` : `stream ${opts.stream}`;
  const findings = statusFindings(
    {
      subject,
      activityStatus: info ? info.status : null,
      kinesis: kin,
      checkpoints: consumer?.shards ?? [],
      checkpointDir: checkpointsIn,
      stateDir: opts.stateDir,
      liveness,
      rdsEvents: info ? (ev ? { polled: true, lastPoll: ev.lastPoll } : { polled: false }) : null,
      openLossWindows: open,
    },
    opts.limits,
    now,
  );
  return {
    ...verdictOf(findings),
    findings,
    cluster: info ? info.clusterIdentifier : null,
    resourceId,
    engine: info?.engine ?? null,
    clusterArn: info?.clusterArn ?? null,
    activityStream: info ? { status: info.status, mode: info.mode, kmsKeyId: info.kmsKeyId, streamName: info.streamName } : null,
    kinesis: kin,
    consumer,
    leases,
    liveness,
    rdsEvents: ev ? { lastPoll: ev.lastPoll, cursor: ev.cursor } : null,
    openLossWindows: open,
  };
}

/** The OK line: what was checked, in a few words. */
function okSummary(r: StatusReport, now: number): string {
  const parts = [r.cluster !== null ? `cluster ${r.cluster}` : `stream ${r.kinesis?.streamName ?? '?'}`];
  if (r.activityStream !== null) parts.push(`activity stream ${r.activityStream.status}`);
  const times = [...(r.consumer?.shards ?? []).map((s) => s.updatedAt), r.liveness?.updatedAt ?? null]
    .filter((t): t is string => t !== null)
    .map((t) => Date.parse(t));
  if (times.length > 0) parts.push(`consumer active ${formatDuration(now - Math.max(...times))} ago`);
  if (r.rdsEvents !== null) parts.push('no open loss window');
  return parts.join(', ');
}

function formatStatus(r: StatusReport, now: number): string {
  const lines: string[] = [verdictLine(r.findings, okSummary(r, now)), ''];
  const row = (label: string, value: string) => lines.push(`${label.padEnd(16)}${value}`);
  const ago = (iso: string | null) => (iso === null ? 'never' : `${iso} (${formatDuration(now - Date.parse(iso))} ago)`);
  const s = r.activityStream;
  if (s === null) {
    row('Stream', `${r.kinesis?.streamName ?? '?'} (${r.resourceId ?? 'resource id unknown'})`);
    row('Activity stream', 'not checked (--stream: RDS is not asked; pass --cluster for it and the loss windows)');
  } else {
    row('Cluster', `${r.cluster} (${r.engine ?? 'unknown engine'}, ${r.resourceId})`);
    row('Activity stream', `${s.status}${s.mode ? `, ${s.mode} mode` : ''}`);
    row('KMS key', s.kmsKeyId ?? '-');
  }
  if (r.kinesis === null) row('Kinesis stream', '-');
  else if (r.kinesis.missing === true) row('Kinesis stream', `${r.kinesis.streamName}: does not exist`);
  else if (r.kinesis.error !== undefined) row('Kinesis stream', `${r.kinesis.streamName}: unavailable (${r.kinesis.error})`);
  else {
    row(
      'Kinesis stream',
      `${r.kinesis.streamName}: ${r.kinesis.status ?? '?'}, ${r.kinesis.openShards ?? '?'} open shard${r.kinesis.openShards === 1 ? '' : 's'}, retention ${r.kinesis.retentionHours ?? '?'} h`,
    );
  }
  if (r.consumer === null) {
    row('Consumer', r.kinesis === null ? 'not checked (no stream name while the activity stream is not started)' : 'no checkpoints found (wrong --checkpoint-dir, or dasguard run never ran here)');
  }
  else {
    row('Consumer', `${r.consumer.shards.length} shard checkpoint${r.consumer.shards.length === 1 ? '' : 's'} in ${r.consumer.checkpointDir}`);
    for (const sh of r.consumer.shards) {
      const age = sh.ageMs === null ? 'age unknown' : `${formatDuration(sh.ageMs)} old`;
      lines.push(`${''.padEnd(18)}${sh.shardId}  ${sh.finished ? 'finished (closed shard read to its end)' : `checkpoint ${age}`}`);
    }
  }
  if (r.leases !== null) {
    if (r.leases.shards.length === 0) row('Leases', `none in ${r.leases.table}`);
    else {
      row('Leases', `${r.leases.shards.length} in ${r.leases.table} (shard, owner, counter, checkpoint)`);
      const w = Math.max(...r.leases.shards.map((l) => (l.owner ?? '-').length));
      for (const l of r.leases.shards) {
        const cp = l.checkpoint === 'SHARD_END' ? 'SHARD_END (read to its end)' : l.checkpoint;
        lines.push(`${''.padEnd(18)}${l.shardId}  ${(l.owner ?? '-').padEnd(w)}  ${String(l.counter).padStart(6)}  ${cp}`);
      }
    }
  }
  if (r.liveness === null || r.liveness.instances.length === 0) row('Last heartbeat', 'unknown (no liveness state: is dasguard run running here?)');
  else {
    let first = true;
    for (const i of r.liveness.instances) {
      const who = i.instanceId ?? 'cluster';
      const hb = i.lastHeartbeat === null ? 'no heartbeat yet' : `heartbeat ${ago(i.lastHeartbeat)}`;
      const silent = i.silentSince !== null ? `, SILENT since ${i.silentSince}` : '';
      row(first ? 'Last heartbeat' : '', `${who}: ${hb}${silent}`);
      row('', `${''.padEnd(who.length)}  last record or heartbeat ${ago(i.lastSeen)}`);
      first = false;
    }
  }
  if (s === null) row('RDS events', 'not checked (--stream)');
  else row('RDS events', r.rdsEvents === null ? 'never polled' : `last polled ${ago(r.rdsEvents.lastPoll)}`);
  if (r.openLossWindows.length === 0) row('Loss windows', r.rdsEvents === null ? 'unknown' : 'none open');
  else {
    let first = true;
    for (const w of r.openLossWindows) {
      row(first ? 'Loss windows' : '', `OPEN since ${w.start} (${formatDuration(w.openForMs)}): "${w.startMessage}"`);
      first = false;
    }
  }
  if (r.findings.length > 0) {
    lines.push('', 'Findings:');
    for (const f of r.findings) lines.push(`  ${f.severity.toUpperCase().padEnd(9)}${f.message}`);
  }
  return lines.join('\n') + '\n';
}

// ---- The command-line declaration of `status` (src/cli.ts lists it; src/commands/command.ts).
// (what only the declaration needs is imported here, so this block stays apart from the command's code)
import { defineCommand } from './command.js';
import { DEFAULT_CHECKPOINT_DIR } from '../config/layers.js';
import { DEFAULT_STATE_DIR } from '../health/stateFile.js';
import { DOCUMENT_OUTPUT_OPTION, documentOutputOption, durationOption } from './options.js';

export const statusCli = defineCommand({
  name: 'status',
  usage: 'Usage: dasguard status (--cluster ID | --stream NAME) [options]',
  description:
    "A health check for people, scripts and monitors. The first line is the verdict (OK, WARNING, CRITICAL or\n" +
    "UNKNOWN, with why); then the activity stream (status, mode, KMS key), its Kinesis stream (status, open shards,\n" +
    "retention), the consumer's checkpoints and their age, the last heartbeat per instance, the loss windows still\n" +
    'open, and every finding with its severity.',
  options: {
    cluster: { type: 'string', label: '--cluster ID', help: 'DBClusterIdentifier: the activity stream is asked of RDS (DescribeDBClusters)' },
    stream: { type: 'string', label: '--stream NAME', help: "The stream name (aws-rds-das-cluster-…) instead of --cluster, as 'run --stream' takes it:\nRDS is not asked (activity stream and loss windows not checked)" },
    output: DOCUMENT_OUTPUT_OPTION,
    'state-dir': { type: 'string', default: DEFAULT_STATE_DIR, label: '--state-dir DIR', help: `Health state of 'run' / 'watch' (default ${DEFAULT_STATE_DIR})` },
    'checkpoint-dir': { type: 'string', default: DEFAULT_CHECKPOINT_DIR, label: '--checkpoint-dir DIR', help: `Checkpoints of 'run' (default ${DEFAULT_CHECKPOINT_DIR})` },
    'lease-table': { type: 'string', label: '--lease-table NAME', help: "The lease table of 'run --coordination dynamodb': its checkpoints, and who holds which shard" },
    'max-consumer-age': {
      type: 'string',
      default: '10m',
      label: '--max-consumer-age D',
      help: "CRITICAL when no consumer activity (liveness state written, checkpoint moved) for longer\nthan D (default 10m; 0: not checked, e.g. for a Lambda consumer)",
    },
    'max-checkpoint-age': {
      type: 'string',
      default: '1h',
      label: '--max-checkpoint-age D',
      help: "WARNING when a shard's checkpoint is older than D (default 1h; 0: off); CRITICAL past the\nstream's retention",
    },
  },
  footer:
    '\nExit codes (the Nagios / Icinga plugin convention):\n' +
    '  0  OK        nothing wrong\n' +
    '  1  WARNING   an old checkpoint, a silent instance, late heartbeats, RDS events not polled lately\n' +
    '  2  CRITICAL  activity stream not started, Kinesis stream gone, a loss window open, a checkpoint past the\n' +
    '               retention (records trimmed unread), no consumer activity for longer than --max-consumer-age\n' +
    '  3  UNKNOWN   the check could not be made (RDS unreachable, no such cluster, no permission)\n' +
    '  A usage error (a wrong flag) is exit 2 too, with nothing on stdout: a verdict line is always printed otherwise.\n' +
    '  In a script:  if dasguard status --cluster prod > /dev/null; then echo healthy; fi\n' +
    '  Durations: 30s, 10m, 1h (a number and a unit).',
  run(v, positionals, io) {
    if (positionals.length > 0) throw new UsageError(`status takes no positional arguments; got "${positionals[0]}"`);
    if (v.cluster === undefined && v.stream === undefined) throw new UsageError('status needs --cluster ID or --stream NAME');
    return statusCommand(
      {
        ...(v.cluster !== undefined ? { cluster: v.cluster } : {}),
        ...(v.stream !== undefined ? { stream: v.stream } : {}),
        output: documentOutputOption(v.output),
        stateDir: v['state-dir'],
        checkpointDir: v['checkpoint-dir'],
        ...(v['lease-table'] !== undefined ? { leaseTable: v['lease-table'] } : {}),
        limits: {
          maxConsumerAgeMs: durationOption('max-consumer-age', v['max-consumer-age'], { offWithZero: true }),
          maxCheckpointAgeMs: durationOption('max-checkpoint-age', v['max-checkpoint-age'], { offWithZero: true }),
        },
      },
      io,
    );
  },
});
