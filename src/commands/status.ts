/**
 * `dasguard status --cluster ID`: the activity stream (RDS), its Kinesis stream, how far the consumer got
 * (checkpoints), the last heartbeat seen and the loss windows still open (state dir). Human output or JSON.
 * IAM: rds:DescribeDBClusters, kinesis:DescribeStreamSummary.
 */
import { DescribeStreamSummaryCommand, KinesisClient } from '@aws-sdk/client-kinesis';
import type { RDSClient } from '@aws-sdk/client-rds';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { existsSync } from 'node:fs';
import { classifyAwsError } from '../aws/errors.js';
import { createRdsClient, describeActivityStream, type ActivityStreamInfo } from '../aws/rds.js';
import { FileCheckpointStore } from '../consumer/FileCheckpointStore.js';
import { ExitCode, errorMessage } from '../errors.js';
import { formatDuration, systemClock, type Clock } from '../health/healthAlert.js';
import { readLivenessState, type LivenessState } from '../health/HealthMonitor.js';
import { openWindows, type LossWindow } from '../health/lossWindows.js';
import { readRdsEventsState } from '../health/RdsEventsWatcher.js';
import type { Io } from './io.js';
import { terminalLines } from '../util/escape.js';

export interface StatusOptions {
  cluster: string;
  output: 'text' | 'json';
  stateDir: string;
  checkpointDir: string;
}

export interface StatusDeps {
  rds?: RDSClient;
  kinesis?: KinesisClient;
  clock?: Clock;
}

export interface StatusReport {
  cluster: string;
  resourceId: string;
  engine: string | null;
  clusterArn: string | null;
  activityStream: { status: string; mode: string | null; kmsKeyId: string | null; streamName: string | null };
  kinesis: { streamName: string; status: string | null; openShards: number | null; retentionHours: number | null; error?: string } | null;
  consumer: {
    checkpointDir: string;
    shards: { shardId: string; sequenceNumber: string | null; updatedAt: string | null; ageMs: number | null; finished: boolean }[];
  } | null;
  liveness: { updatedAt: string; thresholdMs: number; instances: LivenessState['instances'] } | null;
  rdsEvents: { lastPoll: string | null; cursor: string | null } | null;
  openLossWindows: (LossWindow & { openForMs: number })[];
  /** Findings worth a person's attention, in words. */
  problems: string[];
}

export async function statusCommand(opts: StatusOptions, io: Io, deps: StatusDeps = {}): Promise<number> {
  const rds = deps.rds ?? createRdsClient();
  const kinesis = deps.kinesis ?? new KinesisClient({ requestHandler: new NodeHttpHandler() });
  try {
    const report = await gatherStatus(opts, rds, kinesis, deps.clock ?? systemClock);
    io.stdout.write(opts.output === 'json' ? JSON.stringify(report, null, 2) + '\n' : terminalLines(formatStatus(report, (deps.clock ?? systemClock).now())));
    return ExitCode.ok;
  } finally {
    if (!deps.rds) rds.destroy();
    if (!deps.kinesis) kinesis.destroy();
  }
}

async function gatherStatus(opts: StatusOptions, rds: RDSClient, kinesis: KinesisClient, clock: Clock): Promise<StatusReport> {
  const now = clock.now();
  const info: ActivityStreamInfo = await describeActivityStream(rds, opts.cluster);
  const problems: string[] = [];
  if (info.status !== 'started') problems.push(`the activity stream is ${info.status}: database activity is not (fully) audited`);

  let kin: StatusReport['kinesis'] = null;
  if (info.streamName !== null) {
    try {
      const out = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: info.streamName }));
      const s = out.StreamDescriptionSummary;
      kin = { streamName: info.streamName, status: s?.StreamStatus ?? null, openShards: s?.OpenShardCount ?? null, retentionHours: s?.RetentionPeriodHours ?? null };
    } catch (err) {
      // status reports what it can: a missing kinesis permission must not hide the rest
      const e = classifyAwsError(err, `Kinesis DescribeStreamSummary for stream "${info.streamName}"`, { configHint: 'the kinesis:DescribeStreamSummary permission' });
      kin = { streamName: info.streamName, status: null, openShards: null, retentionHours: null, error: errorMessage(e) };
      problems.push(errorMessage(e));
    }
  }

  let consumer: StatusReport['consumer'] = null;
  if (info.streamName !== null && existsSync(opts.checkpointDir)) {
    const store = new FileCheckpointStore(opts.checkpointDir);
    const shards = await store.load(info.streamName);
    await store.close();
    const retentionMs = (kin?.retentionHours ?? 24) * 3600_000;
    consumer = {
      checkpointDir: opts.checkpointDir,
      shards: [...shards]
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([shardId, cp]) => {
          const t = cp.updatedAt !== undefined ? Date.parse(cp.updatedAt) : NaN;
          const ageMs = Number.isNaN(t) ? null : now - t;
          if (ageMs !== null && ageMs > retentionMs && cp.finished !== true) {
            problems.push(`the checkpoint of ${shardId} is ${formatDuration(ageMs)} old, beyond the stream's retention: records after it were trimmed unread`);
          }
          return { shardId, sequenceNumber: cp.sequenceNumber ?? null, updatedAt: cp.updatedAt ?? null, ageMs, finished: cp.finished === true };
        }),
    };
  }

  const live = await readLivenessState(opts.stateDir, opts.cluster);
  const liveness = live ? { updatedAt: live.updatedAt, thresholdMs: live.thresholdMs, instances: live.instances } : null;
  for (const i of live?.instances ?? []) {
    if (i.silentSince !== null) problems.push(`${i.instanceId ?? 'the cluster'} silent since ${i.silentSince} (no record, no heartbeat)`);
  }

  const ev = await readRdsEventsState(opts.stateDir, opts.cluster);
  const open = ev ? openWindows(ev.lossWindows).map((w) => ({ ...w, openForMs: now - Date.parse(w.start) })) : [];
  for (const w of open) problems.push(`loss window open since ${w.start} (${formatDuration(w.openForMs)}): activity records may be missing`);
  if (!ev) problems.push(`RDS events were never polled into ${opts.stateDir} (run 'dasguard watch' or 'dasguard run'): loss windows are unknown`);

  return {
    cluster: info.clusterIdentifier,
    resourceId: info.resourceId,
    engine: info.engine,
    clusterArn: info.clusterArn,
    activityStream: { status: info.status, mode: info.mode, kmsKeyId: info.kmsKeyId, streamName: info.streamName },
    kinesis: kin,
    consumer,
    liveness,
    rdsEvents: ev ? { lastPoll: ev.lastPoll, cursor: ev.cursor } : null,
    openLossWindows: open,
    problems,
  };
}

function formatStatus(r: StatusReport, now: number): string {
  const lines: string[] = [];
  const row = (label: string, value: string) => lines.push(`${label.padEnd(16)}${value}`);
  const ago = (iso: string | null) => (iso === null ? 'never' : `${iso} (${formatDuration(now - Date.parse(iso))} ago)`);
  row('Cluster', `${r.cluster} (${r.engine ?? 'unknown engine'}, ${r.resourceId})`);
  const s = r.activityStream;
  row('Activity stream', `${s.status}${s.mode ? `, ${s.mode} mode` : ''}`);
  row('KMS key', s.kmsKeyId ?? '-');
  if (r.kinesis === null) row('Kinesis stream', '-');
  else if (r.kinesis.error !== undefined) row('Kinesis stream', `${r.kinesis.streamName}: unavailable (${r.kinesis.error})`);
  else {
    row(
      'Kinesis stream',
      `${r.kinesis.streamName}: ${r.kinesis.status ?? '?'}, ${r.kinesis.openShards ?? '?'} open shard${r.kinesis.openShards === 1 ? '' : 's'}, retention ${r.kinesis.retentionHours ?? '?'} h`,
    );
  }
  if (r.consumer === null) {
    row('Consumer', s.streamName === null ? 'not checked (no stream name while the activity stream is not started)' : 'no checkpoints found (wrong --checkpoint-dir, or dasguard run never ran here)');
  }
  else {
    row('Consumer', `${r.consumer.shards.length} shard checkpoint${r.consumer.shards.length === 1 ? '' : 's'} in ${r.consumer.checkpointDir}`);
    for (const sh of r.consumer.shards) {
      const age = sh.ageMs === null ? 'age unknown' : `${formatDuration(sh.ageMs)} old`;
      lines.push(`${''.padEnd(18)}${sh.shardId}  ${sh.finished ? 'finished (closed shard read to its end)' : `checkpoint ${age}`}`);
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
  row('RDS events', r.rdsEvents === null ? 'never polled' : `last polled ${ago(r.rdsEvents.lastPoll)}`);
  if (r.openLossWindows.length === 0) row('Loss windows', r.rdsEvents === null ? 'unknown' : 'none open');
  else {
    let first = true;
    for (const w of r.openLossWindows) {
      row(first ? 'Loss windows' : '', `OPEN since ${w.start} (${formatDuration(w.openForMs)}): "${w.startMessage}"`);
      first = false;
    }
  }
  if (r.problems.length === 0) lines.push('', 'No problems found.');
  else {
    lines.push('', 'Problems:');
    for (const p of r.problems) lines.push(`  - ${p}`);
  }
  return lines.join('\n') + '\n';
}

// ---- The command-line declaration of `status` (src/cli.ts lists it; src/commands/command.ts).
// (what only the declaration needs is imported here, so this block stays apart from the command's code)
import { UsageError } from '../errors.js';
import { defineCommand } from './command.js';
import { DEFAULT_CHECKPOINT_DIR } from '../config/layers.js';
import { DEFAULT_STATE_DIR } from '../health/stateFile.js';
import { oneOf } from './options.js';

export const statusCli = defineCommand({
  name: 'status',
  usage: 'Usage: dasguard status --cluster ID [options]',
  description:
    "Shows the activity stream (status, mode, KMS key), its Kinesis stream (status, open shards, retention), the\n" +
    "consumer's checkpoints and their age, the last heartbeat per instance and the loss windows still open.",
  options: {
    cluster: { type: 'string', label: '--cluster ID', help: 'Aurora DB cluster identifier (required)' },
    output: { type: 'string', default: 'text', label: '--output text|json', help: 'For people (default) or one JSON document' },
    'state-dir': { type: 'string', default: DEFAULT_STATE_DIR, label: '--state-dir DIR', help: `Health state of 'run' / 'watch' (default ${DEFAULT_STATE_DIR})` },
    'checkpoint-dir': { type: 'string', default: DEFAULT_CHECKPOINT_DIR, label: '--checkpoint-dir DIR', help: `Checkpoints of 'run' (default ${DEFAULT_CHECKPOINT_DIR})` },
  },
  run(v, positionals, io) {
    if (positionals.length > 0) throw new UsageError(`status takes no positional arguments; got "${positionals[0]}"`);
    if (v.cluster === undefined) throw new UsageError('status needs --cluster ID');
    return statusCommand(
      { cluster: v.cluster, output: oneOf('output', v.output, ['text', 'json'] as const), stateDir: v['state-dir'], checkpointDir: v['checkpoint-dir'] },
      io,
    );
  },
});
