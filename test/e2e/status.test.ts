/**
 * `dasguard watch --once` and `dasguard status` through the CLI, against a loopback RDS cluster whose activity
 * stream is a kinesalite stream, with the consumer's checkpoints and the health state on disk.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileCheckpointStore } from '../../src/consumer/FileCheckpointStore.js';
import { HealthMonitor } from '../../src/health/HealthMonitor.js';
import type { StatusReport } from '../../src/commands/status.js';
import { jsonLines, runCli } from '../support/cli.js';
import { createStream, kinesisClient, loopbackEnv, startKinesalite } from '../support/kinesis.js';
import { clusterModel, startRdsServer } from '../support/rdsServer.js';
import { summarizeBatch } from '../../src/types.js';

const STREAM = 'aws-rds-das-cluster-STATUSTEST0000000000';

test('watch --once alerts on RDS events; status shows stream, shards, checkpoints, heartbeats and the open loss window', async (t) => {
  const kinesalite = await startKinesalite();
  const kinesis = kinesisClient(kinesalite.url);
  await createStream(kinesis, STREAM, 2);
  const rds = await startRdsServer({
    clusters: [
      clusterModel({ identifier: 'prod', resourceId: 'cluster-STATUSTEST0000000000', activityStream: { status: 'started', mode: 'async', streamName: STREAM } }),
      clusterModel({ identifier: 'idle' }),
    ],
  });
  const dir = await mkdtemp(join(tmpdir(), 'dasguard-status-'));
  const stateDir = join(dir, 'state');
  const checkpointDir = join(dir, 'checkpoints');
  const saved = { ...process.env };
  process.env = { ...loopbackEnv({ kinesis: kinesalite.url, rds: rds.url }), AWS_MAX_ATTEMPTS: '1' };
  t.after(async () => {
    process.env = saved;
    kinesis.destroy();
    await rds.close();
    await kinesalite.close();
    await rm(dir, { recursive: true, force: true });
  });

  const now = Date.now();
  rds.addEvent({ sourceIdentifier: 'prod', date: new Date(now - 3 * 3600_000), message: 'Activity stream records might be lost.' });
  rds.addEvent({ sourceIdentifier: 'prod', date: new Date(now - 2 * 3600_000), eventCategories: ['failover'], message: 'Completed failover to DB instance: prod-2.' });
  const watch = await runCli(['watch', '--cluster', 'prod', '--once', '--output', 'json', '--state-dir', stateDir]);
  assert.equal(watch.code, 0, watch.stderr);
  assert.deepEqual(jsonLines(watch.stdout).map((a) => [a.kind, a.ruleId, a.severity]), [
    ['health', 'das-loss-window', 'high'],
    ['rds-event', 'cluster-failover', 'medium'],
  ]);
  assert.match(watch.stderr, /watch prod: 2 events fetched, 2 new, 2 alerts; OPEN loss window since /);
  const again = await runCli(['watch', '--cluster', 'prod', '--once', '--state-dir', stateDir]);
  assert.equal(again.stdout, '', 'nothing twice');

  // what `run` leaves behind: liveness (HealthMonitor) and checkpoints (FileCheckpointStore)
  const monitor = new HealthMonitor({ clusterId: 'prod', stateDir, handoff: { handOff: async () => {}, close: async () => {} } });
  monitor.onBatch(summarizeBatch({ clusterId: 'cluster-STATUSTEST0000000000', instanceId: 'db-WRITER', version: '1.2', events: [], heartbeats: [{ clusterId: null, instanceId: 'db-WRITER', logTime: null, logTimeMs: null, raw: {} }], rejected: [], warnings: [], encrypted: true }));
  await monitor.stop();
  const store = new FileCheckpointStore(checkpointDir);
  await store.save(
    STREAM,
    new Map([
      ['shardId-000000000000', { sequenceNumber: '4960', updatedAt: new Date(now - 30_000).toISOString() }],
      ['shardId-000000000001', { sequenceNumber: '4961', updatedAt: new Date(now - 30 * 3600_000).toISOString() }],
    ]),
  );
  await store.close();

  const text = await runCli(['status', '--cluster', 'prod', '--state-dir', stateDir, '--checkpoint-dir', checkpointDir]);
  assert.equal(text.code, 2, text.stderr);
  const out = text.stdout;
  assert.match(out, /^CRITICAL: loss window open for 3h( \d+s)?; checkpoint of shardId-000000000001 is beyond the 24 h retention\n\n/);
  assert.match(out, /^Cluster +prod \(aurora-postgresql, cluster-STATUSTEST0000000000\)$/m);
  assert.match(out, /^Activity stream +started, async mode$/m);
  assert.match(out, /^KMS key +arn:aws:kms:/m);
  assert.match(out, new RegExp(`^Kinesis stream +${STREAM}: ACTIVE, 2 open shards, retention 24 h$`, 'm'));
  assert.match(out, /^Consumer +2 shard checkpoints in /m);
  assert.match(out, /shardId-000000000000 +checkpoint (\d+m )?\d+s old/);
  assert.match(out, /^Last heartbeat +db-WRITER: heartbeat \S+ \(\d+s ago\)/m);
  assert.match(out, /^Loss windows +OPEN since \S+ \(3h( \d+s)?\).*"Activity stream records might be lost\."/m);
  assert.match(out, /Findings:\n(?:.*\n)*  CRITICAL the checkpoint of shardId-000000000001 is 1d 6h( \d+s)? old, beyond the stream's retention/);

  const json = await runCli(['status', '--cluster', 'prod', '--output', 'json', '--state-dir', stateDir, '--checkpoint-dir', checkpointDir]);
  assert.equal(json.code, 2);
  const r = JSON.parse(json.stdout) as StatusReport;
  assert.deepEqual({ verdict: r.verdict, exitCode: r.exitCode }, { verdict: 'CRITICAL', exitCode: 2 });
  assert.deepEqual(r.findings.map((f) => [f.severity, f.check]), [
    ['critical', 'loss-window'],
    ['critical', 'checkpoint-trimmed'],
  ]);
  assert.deepEqual(r.activityStream?.status, 'started');
  assert.deepEqual({ shards: r.kinesis?.openShards, retention: r.kinesis?.retentionHours }, { shards: 2, retention: 24 });
  assert.deepEqual(r.consumer?.shards.map((s) => s.shardId), ['shardId-000000000000', 'shardId-000000000001']);
  assert.equal(r.openLossWindows.length, 1);
  assert.equal(r.liveness?.instances[0]?.instanceId, 'db-WRITER');

  // a cluster with no stream, never watched: says so
  const idle = await runCli(['status', '--cluster', 'idle', '--state-dir', stateDir, '--checkpoint-dir', checkpointDir]);
  assert.equal(idle.code, 2, idle.stderr);
  assert.match(idle.stdout, /^CRITICAL: activity stream of cluster idle is stopped; no consumer has run here \(\+1 more\)$/m);
  assert.match(idle.stdout, /^Activity stream +stopped$/m);
  assert.match(idle.stdout, /the activity stream is stopped: database activity is not \(fully\) audited/);
  assert.match(idle.stdout, /WARNING  RDS events were never polled/);
  // the check cannot be made: UNKNOWN (3), the verdict on stdout as always
  const missing = await runCli(['status', '--cluster', 'ghost']);
  assert.equal(missing.code, 3);
  assert.match(missing.stdout, /^UNKNOWN: could not check cluster ghost: .*RDS has no DB cluster "ghost"/);
});

/** What a healthy `run` leaves behind: fresh liveness (a heartbeat now) and fresh checkpoints; `watch` polled RDS events. */
async function healthyState(o: { cluster: string; stateKey?: string; stream: string; stateDir: string; checkpointDir: string; checkpointAgesMs?: number[]; livenessAgeMs?: number; poll?: boolean }): Promise<void> {
  const now = Date.now();
  const clock = { now: () => now - (o.livenessAgeMs ?? 0) };
  const monitor = new HealthMonitor({ clusterId: o.stateKey ?? o.cluster, stateDir: o.stateDir, clock, handoff: { handOff: async () => {}, close: async () => {} } });
  monitor.onBatch(summarizeBatch({ clusterId: null, instanceId: 'db-WRITER', version: '1.2', events: [], heartbeats: [{ clusterId: null, instanceId: 'db-WRITER', logTime: null, logTimeMs: null, raw: {} }], rejected: [], warnings: [], encrypted: true }));
  await monitor.stop();
  const store = new FileCheckpointStore(o.checkpointDir);
  const ages = o.checkpointAgesMs ?? [5_000, 5_000];
  await store.save(o.stream, new Map(ages.map((a, i) => [`shardId-00000000000${i}`, { sequenceNumber: `49${i}`, updatedAt: new Date(now - a).toISOString() }])));
  await store.close();
  if (o.poll !== false) {
    const w = await runCli(['watch', '--cluster', o.cluster, '--once', '--state-dir', o.stateDir]);
    assert.equal(w.code, 0, w.stderr);
  }
}

test('status is a health check: exit 0 healthy, 1 warning, 2 critical, 3 unknown, with the verdict line first', async (t) => {
  const kinesalite = await startKinesalite();
  const kinesis = kinesisClient(kinesalite.url);
  const streams = { ok: 'aws-rds-das-cluster-OKAY00000000000000', old: 'aws-rds-das-cluster-OLDCHECKPOINT000000', lost: 'aws-rds-das-cluster-LOSS00000000000000' };
  for (const name of Object.values(streams)) await createStream(kinesis, name, 2);
  const started = (identifier: string, streamName: string) =>
    clusterModel({ identifier, resourceId: streamName.slice('aws-rds-das-'.length), activityStream: { status: 'started', mode: 'async', streamName } });
  const rds = await startRdsServer({
    clusters: [started('ok', streams.ok), started('old', streams.old), started('lost', streams.lost), clusterModel({ identifier: 'stopped', resourceId: 'cluster-STOPPED0000000000' })],
  });
  const dir = await mkdtemp(join(tmpdir(), 'dasguard-status-codes-'));
  const saved = { ...process.env };
  process.env = { ...loopbackEnv({ kinesis: kinesalite.url, rds: rds.url }), AWS_MAX_ATTEMPTS: '1' };
  t.after(async () => {
    process.env = saved;
    kinesis.destroy();
    await rds.close();
    await kinesalite.close();
    await rm(dir, { recursive: true, force: true });
  });
  const dirs = (name: string) => ({ stateDir: join(dir, name, 'state'), checkpointDir: join(dir, name, 'checkpoints') });
  const status = (name: string, ...args: string[]) => {
    const d = dirs(name);
    return runCli(['status', ...args, '--state-dir', d.stateDir, '--checkpoint-dir', d.checkpointDir]);
  };

  await t.test('healthy: 0, OK', async () => {
    await healthyState({ cluster: 'ok', stream: streams.ok, ...dirs('ok') });
    const r = await status('ok', '--cluster', 'ok');
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^OK: cluster ok, activity stream started, consumer active \d+s ago, no open loss window\n/);
    assert.doesNotMatch(r.stdout, /Findings:/);
    // what a script does with it
    const json = JSON.parse((await status('ok', '--cluster', 'ok', '--output', 'json')).stdout) as StatusReport;
    assert.deepEqual({ verdict: json.verdict, exitCode: json.exitCode, findings: json.findings }, { verdict: 'OK', exitCode: 0, findings: [] });
  });

  await t.test('an old checkpoint: 1, WARNING', async () => {
    await healthyState({ cluster: 'old', stream: streams.old, ...dirs('old'), checkpointAgesMs: [5_000, 2 * 3600_000] });
    const r = await status('old', '--cluster', 'old');
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /^WARNING: checkpoint of shardId-000000000001 is 2h( \d+s)? old\n/);
    assert.match(r.stdout, /^ {2}WARNING  the checkpoint of shardId-000000000001 is 2h( \d+s)? old \(over --max-checkpoint-age 1h\)/m);
    // the threshold is the user's
    assert.equal((await status('old', '--cluster', 'old', '--max-checkpoint-age', '3h')).code, 0);
  });

  await t.test('an open loss window: 2, CRITICAL', async () => {
    rds.addEvent({ sourceIdentifier: 'lost', date: new Date(Date.now() - 20 * 60_000), message: 'Activity stream records might be lost.' });
    await healthyState({ cluster: 'lost', stream: streams.lost, ...dirs('lost') });
    const r = await status('lost', '--cluster', 'lost');
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stdout, /^CRITICAL: loss window open for 20m( \d+s)?\n/);
    const json = JSON.parse((await status('lost', '--cluster', 'lost', '--output', 'jsonl')).stdout) as StatusReport;
    assert.deepEqual(json.findings.map((f) => [f.severity, f.check]), [['critical', 'loss-window']]);
  });

  await t.test('the activity stream stopped, no consumer for 14 minutes: 2, CRITICAL', async () => {
    await healthyState({ cluster: 'stopped', stream: 'aws-rds-das-cluster-STOPPED0000000000', ...dirs('stopped'), checkpointAgesMs: [], livenessAgeMs: 14 * 60_000 });
    const r = await status('stopped', '--cluster', 'stopped');
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stdout, /^CRITICAL: activity stream of cluster stopped is stopped; no consumer for 14m( \d+s)? \(\+1 more\)\n/);
    assert.match(r.stdout, /^ {2}WARNING  no heartbeat from db-WRITER since /m);
    t.diagnostic(`dasguard status --cluster stopped (exit ${r.code}):\n${r.stdout}`);
  });

  await t.test('the check cannot be made (RDS failing): 3, UNKNOWN', async () => {
    rds.failNext(1, 'InternalFailure', 500, 'DescribeDBClusters');
    const r = await status('ok', '--cluster', 'ok');
    assert.equal(r.code, 3, r.stdout + r.stderr);
    assert.match(r.stdout, /^UNKNOWN: could not check cluster ok: .*InternalFailure/);
    rds.failNext(1, 'InternalFailure', 500, 'DescribeDBClusters');
    const json = JSON.parse((await status('ok', '--cluster', 'ok', '--output', 'json')).stdout) as StatusReport;
    assert.deepEqual([json.verdict, json.exitCode, json.findings[0]?.severity], ['UNKNOWN', 3, 'unknown']);
  });

  await t.test('--stream NAME, as run takes it: the Kinesis stream and what run left under its resource id', async () => {
    await healthyState({ cluster: 'ok', stateKey: 'cluster-OKAY00000000000000', stream: streams.ok, ...dirs('by-stream'), poll: false });
    const r = await status('by-stream', '--stream', streams.ok);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`^OK: stream ${streams.ok}, consumer active \\d+s ago\\n`));
    assert.match(r.stdout, /^Activity stream +not checked \(--stream/m);
    const gone = await status('by-stream', '--stream', 'aws-rds-das-cluster-GONE000000000000');
    assert.equal(gone.code, 2);
    assert.match(gone.stdout, /^CRITICAL: Kinesis stream aws-rds-das-cluster-GONE000000000000 does not exist; no consumer has run here\n/);
  });

  await t.test('usage errors stay exit 2, with nothing on stdout', async () => {
    const both = await runCli(['status', '--cluster', 'ok', '--stream', streams.ok]);
    assert.deepEqual([both.code, both.stdout], [2, '']);
    assert.match(both.stderr, /exactly one of --cluster/);
    const bad = await runCli(['status', '--cluster', 'ok', '--max-consumer-age', 'soon']);
    assert.deepEqual([bad.code, bad.stdout], [2, '']);
  });
});
