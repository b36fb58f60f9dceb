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
  const watch = await runCli(['watch', '--cluster', 'prod', '--once', '--output', 'jsonl', '--state-dir', stateDir]);
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
  monitor.onBatch({ clusterId: 'cluster-STATUSTEST0000000000', instanceId: 'db-WRITER', version: '1.2', events: [], heartbeats: [{ clusterId: null, instanceId: 'db-WRITER', logTime: null, logTimeMs: null, raw: {} }], rejected: [], warnings: [], encrypted: true });
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
  assert.equal(text.code, 0, text.stderr);
  const out = text.stdout;
  assert.match(out, /^Cluster +prod \(aurora-postgresql, cluster-STATUSTEST0000000000\)$/m);
  assert.match(out, /^Activity stream +started, async mode$/m);
  assert.match(out, /^KMS key +arn:aws:kms:/m);
  assert.match(out, new RegExp(`^Kinesis stream +${STREAM}: ACTIVE, 2 open shards, retention 24 h$`, 'm'));
  assert.match(out, /^Consumer +2 shard checkpoints in /m);
  assert.match(out, /shardId-000000000000 +checkpoint (\d+m )?\d+s old/);
  assert.match(out, /^Last heartbeat +db-WRITER: heartbeat \S+ \(\d+s ago\)/m);
  assert.match(out, /^Loss windows +OPEN since \S+ \(3h( \d+s)?\).*"Activity stream records might be lost\."/m);
  assert.match(out, /Problems:\n(?:.*\n)*  - the checkpoint of shardId-000000000001 is 1d 6h( \d+s)? old, beyond the stream's retention/);

  const json = await runCli(['status', '--cluster', 'prod', '--output', 'json', '--state-dir', stateDir, '--checkpoint-dir', checkpointDir]);
  const r = JSON.parse(json.stdout) as StatusReport;
  assert.deepEqual(r.activityStream.status, 'started');
  assert.deepEqual({ shards: r.kinesis?.openShards, retention: r.kinesis?.retentionHours }, { shards: 2, retention: 24 });
  assert.deepEqual(r.consumer?.shards.map((s) => s.shardId), ['shardId-000000000000', 'shardId-000000000001']);
  assert.equal(r.openLossWindows.length, 1);
  assert.equal(r.liveness?.instances[0]?.instanceId, 'db-WRITER');

  // a cluster with no stream, never watched: says so
  const idle = await runCli(['status', '--cluster', 'idle', '--state-dir', stateDir, '--checkpoint-dir', checkpointDir]);
  assert.equal(idle.code, 0, idle.stderr);
  assert.match(idle.stdout, /^Activity stream +stopped$/m);
  assert.match(idle.stdout, /the activity stream is stopped: database activity is not \(fully\) audited/);
  assert.match(idle.stdout, /RDS events were never polled/);
  const missing = await runCli(['status', '--cluster', 'ghost']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /no DB cluster "ghost"/);
});
