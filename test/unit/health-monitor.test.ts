/**
 * Silence, trimmed data, stale checkpoints, the startup check, and the HealthMonitor that `run` plugs in as its
 * StreamObserver (injected clock, observer calls: kinesalite cannot trim and tests do not wait for minutes).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HealthMonitor, readLivenessState } from '../../src/health/HealthMonitor.js';
import { SilenceDetector } from '../../src/health/SilenceDetector.js';
import { streamNotStartedAlert } from '../../src/health/startupChecks.js';
import { staleCheckpoints, trimmedAlert } from '../../src/health/trimmed.js';
import type { Alert } from '../../src/pipeline/alert.js';
import type { AlertHandoff } from '../../src/pipeline/AlertHandoff.js';
import { completeTestEvent, loadRules } from '../../src/rules/index.js';
import { CompiledRuleSet } from '../../src/rules/RuleSet.js';
import { summarizeBatch, type BatchSummary } from '../../src/types.js';

const T0 = Date.parse('2024-05-01T12:00:00.000Z');

function batch(instanceId: string, kind: 'record' | 'heartbeat'): BatchSummary {
  const hb = { clusterId: 'cluster-A', instanceId, logTime: null, logTimeMs: null, raw: {} };
  return summarizeBatch({
    clusterId: 'cluster-A',
    instanceId,
    version: '1.2',
    events: [],
    heartbeats: kind === 'heartbeat' ? [hb] : [],
    rejected: [],
    warnings: [],
    encrypted: true,
  });
}

test('silence: an instance with no record and no heartbeat for the threshold alerts once, and resolves when traffic resumes', () => {
  let now = T0;
  const d = new SilenceDetector({ clusterId: 'prod', thresholdMs: 60_000, clock: { now: () => now } });
  assert.deepEqual(d.observe(batch('db-1', 'heartbeat')), []);
  d.observe(batch('db-2', 'record'));
  now += 59_000;
  d.observe(batch('db-2', 'record'));
  assert.deepEqual(d.check(), [], 'not yet');
  now += 2_000; // db-1: 61 s of nothing; db-2: 2 s
  const alerts = d.check();
  assert.deepEqual(alerts.map((a) => [a.ruleId, a.instanceId, a.severity, a.event.state]), [['das-stream-silence', 'db-1', 'high', 'open']]);
  assert.match(alerts[0]?.message ?? '', /no record and no heartbeat from instance db-1 for 1m 1s/);
  now += 60_000; // db-2: 62 s
  assert.deepEqual(d.check().map((a) => a.instanceId), ['db-2'], 'db-1 is not alerted again; db-2 now is');
  now += 10_000;
  const resumed = d.observe(batch('db-1', 'heartbeat'));
  assert.deepEqual(resumed.map((a) => [a.instanceId, a.severity, a.event.state, a.event.durationMs]), [['db-1', 'info', 'resolved', 131_000]]);
  assert.notEqual(resumed[0]?.id, alerts[0]?.id);
  // the same episode always gets the same ids (a restarted run re-sending them is de-duplicated downstream)
  let now2 = T0;
  const d2 = new SilenceDetector({ clusterId: 'prod', thresholdMs: 60_000, clock: { now: () => now2 } });
  d2.observe(batch('db-1', 'heartbeat'));
  now2 += 61_000;
  assert.equal(d2.check()[0]?.id, alerts[0]?.id);
});

test('silence before any data: the cluster as a whole is watched', () => {
  let now = T0;
  const d = new SilenceDetector({ clusterId: 'prod', thresholdMs: 60_000, clock: { now: () => now } });
  now += 60_000;
  const a = d.check();
  assert.deepEqual(a.map((x) => [x.instanceId, x.event.state]), [[null, 'open']]);
  assert.match(a[0]?.message ?? '', /cluster prod \(no instance seen yet\)/);
  now += 5_000;
  assert.deepEqual(d.observe(batch('db-1', 'record')).map((x) => [x.instanceId, x.event.state]), [[null, 'resolved']]);
  assert.deepEqual(d.snapshot().map((s) => s.instanceId), ['db-1']);
});

test('silence: an instance silent for max(1 h, 10 x threshold) is forgotten with an info alert; its state goes too', async (t) => {
  const stateDir = await mkdtemp(join(tmpdir(), 'dasguard-forget-'));
  t.after(() => rm(stateDir, { recursive: true, force: true }));
  let now = T0;
  const got: Alert[] = [];
  const handoff: AlertHandoff = { handOff: async (a) => void got.push(...a), close: async () => undefined };
  const m = new HealthMonitor({ clusterId: 'prod', handoff, stateDir, silenceMs: 60_000, clock: { now: () => now } });
  m.onBatch(batch('db-old', 'heartbeat'));
  m.onBatch(batch('db-1', 'heartbeat'));
  // db-1 keeps sending; db-old left the cluster (a replaced reader)
  const advance = async (ms: number) => {
    now += ms;
    m.onBatch(batch('db-1', 'heartbeat'));
    await m.checkSilence();
  };
  await advance(61_000);
  assert.deepEqual(got.map((a) => [a.instanceId, a.event.state]), [['db-old', 'open']]);
  await advance(3_600_000 - 61_000 - 1_000); // 59 min 59 s of silence: still watched
  assert.equal(got.length, 1);
  assert.deepEqual((await readLivenessState(stateDir, 'prod'))?.instances.map((i) => i.instanceId).sort(), ['db-1', 'db-old']);
  await advance(1_000); // 1 h
  assert.deepEqual(got.slice(1).map((a) => [a.ruleId, a.instanceId, a.severity, a.event.state, a.event.forgetAfterMs]), [['das-stream-silence', 'db-old', 'info', 'forgotten', 3_600_000]]);
  assert.match(got[1]!.message, /instance db-old sent nothing for 1h since 2024-05-01T12:00:00.000Z: no longer watched \(it probably left the cluster;/);
  assert.deepEqual((await readLivenessState(stateDir, 'prod'))?.instances.map((i) => i.instanceId), ['db-1'], 'the persisted heartbeat state forgets it too');
  await advance(3_600_000);
  assert.equal(got.length, 2, 'nothing more about it');
  // if it comes back, it is watched again from scratch
  m.onBatch(batch('db-old', 'record'));
  await m.flush();
  assert.equal(got.length, 2);
  assert.deepEqual(m.liveness().map((l) => l.instanceId).sort(), ['db-1', 'db-old']);
  await m.stop();
});

test('silence: the forget time is 10 x a long threshold; when the last instance is forgotten the cluster as a whole is watched', () => {
  let now = T0;
  const d = new SilenceDetector({ clusterId: 'prod', thresholdMs: 600_000, clock: { now: () => now } });
  d.observe(batch('db-1', 'heartbeat'));
  now += 600_000;
  assert.deepEqual(d.check().map((a) => a.event.state), ['open']);
  now = T0 + 99 * 60_000;
  assert.deepEqual(d.check(), [], 'not at 99 min');
  now = T0 + 100 * 60_000;
  const forgotten = d.check();
  assert.deepEqual(forgotten.map((a) => [a.instanceId, a.event.state, a.event.forgetAfterMs]), [['db-1', 'forgotten', 6_000_000]]);
  assert.match(forgotten[0]!.message, /the cluster as a whole is watched/);
  // the cluster is still silent (no new alert), and traffic from any instance resolves it
  assert.deepEqual(d.snapshot().map((s) => [s.instanceId, s.silentSince]), [[null, T0]]);
  assert.deepEqual(d.check(), []);
  now += 5_000;
  assert.deepEqual(d.observe(batch('db-2', 'record')).map((a) => [a.instanceId, a.event.state]), [[null, 'resolved']]);
  assert.deepEqual(d.snapshot().map((s) => s.instanceId), ['db-2']);
});

test('trimmed data becomes a critical alert naming the time range; stale checkpoints are found at startup', () => {
  const gap = { streamName: 'aws-rds-das-cluster-A', shardId: 'shardId-000000000001', afterSequenceNumber: '4955', from: new Date(T0), to: new Date(T0 + 3_600_000), reason: 'GetRecords started past the trim horizon' };
  const a = trimmedAlert(gap, 'prod');
  assert.equal(a.severity, 'critical');
  assert.equal(a.kind, 'health');
  assert.equal(a.message, 'records between 2024-05-01T12:00:00.000Z and 2024-05-01T13:00:00.000Z were trimmed before they were read (stream aws-rds-das-cluster-A, shard shardId-000000000001 after sequence 4955): GetRecords started past the trim horizon');
  assert.equal(trimmedAlert(gap, 'prod').id, a.id);

  const now = T0 + 30 * 3_600_000;
  const stale = staleCheckpoints('s', [{ shardId: 'old', sequenceNumber: '1', time: new Date(T0) }, { shardId: 'fresh', time: new Date(now - 3_600_000) }], 24, now);
  assert.deepEqual(stale.map((g) => [g.shardId, g.afterSequenceNumber, g.to?.toISOString()]), [['old', '1', new Date(now - 24 * 3_600_000).toISOString()]]);
  assert.match(stale[0]?.reason ?? '', /1d 6h old, beyond the stream's 24 h retention/);
});

test('startup check: a stream that is not started is a health alert; a started one is not', () => {
  const info = { clusterIdentifier: 'prod', resourceId: 'cluster-A', streamName: null, status: 'stopped', mode: null, kmsKeyId: null, engine: 'aurora-postgresql', clusterArn: 'arn:aws:rds:us-east-1:1:cluster:prod' };
  const a = streamNotStartedAlert(info, T0);
  assert.equal(a?.severity, 'critical');
  assert.match(a?.message ?? '', /cluster prod is stopped: database activity is not being audited/);
  assert.equal(streamNotStartedAlert({ ...info, status: 'starting' }, T0)?.severity, 'medium');
  assert.equal(streamNotStartedAlert({ ...info, status: 'started' }, T0), null);
});

test('HealthMonitor as the StreamObserver: alerts in order through the handoff, liveness persisted, failures not swallowed', async (t) => {
  const stateDir = await mkdtemp(join(tmpdir(), 'dasguard-monitor-'));
  t.after(() => rm(stateDir, { recursive: true, force: true }));
  let now = T0;
  const got: Alert[] = [];
  let fail = false;
  const handoff: AlertHandoff = {
    async handOff(alerts) {
      if (fail) throw new Error('outbox full');
      got.push(...alerts);
    },
    async close() {},
  };
  const errors: unknown[] = [];
  const m = new HealthMonitor({ clusterId: 'prod', handoff, stateDir, silenceMs: 60_000, clock: { now: () => now }, onError: (e) => errors.push(e) });
  m.onBatch(batch('db-1', 'heartbeat'));
  now += 61_000;
  await m.checkSilence();
  m.onBatch(batch('db-1', 'record'));
  m.onTrimmed({ streamName: 's', shardId: 'shardId-0', reason: 'iterator past the trim horizon' });
  await m.flush();
  assert.deepEqual(got.map((a) => `${a.ruleId}:${String(a.event.state ?? '')}`), ['das-stream-silence:open', 'das-stream-silence:resolved', 'das-records-trimmed:']);
  await m.checkSilence();
  const live = await readLivenessState(stateDir, 'prod');
  assert.deepEqual(live?.instances.map((i) => [i.instanceId, i.lastHeartbeat, i.silentSince]), [['db-1', new Date(T0).toISOString(), null]]);

  fail = true;
  m.onTrimmed({ streamName: 's', shardId: 'shardId-1', reason: 'x' });
  await assert.rejects(m.stop(), /outbox full/);
  assert.equal(errors.length, 1);
});

test('the RDS-event rules of the pack agree with json-rules-engine', async () => {
  const { ruleSet } = await loadRules(['rules']);
  assert.ok(ruleSet instanceof CompiledRuleSet);
  const engine = ruleSet.referenceEngine('rds-event');
  const messages = [
    'Database Activity Streams is started on your database cluster.',
    'Database Activity Streams is stopped on your database cluster.',
    'The activity stream failed because the DB cluster cannot access the KMS key.',
    'Activity stream records might be lost.',
    'Completed failover to DB instance: prod-2.',
    'DB cluster is being rebooted.',
    'Backing up DB cluster.',
  ];
  const fired = new Set<string>();
  for (const message of messages) {
    for (const categories of [[], ['failover'], ['configuration change']]) {
      for (const eventId of ['', 'RDS-EVENT-0179', 'RDS-EVENT-0180', 'RDS-EVENT-0071']) {
        const event = completeTestEvent({ message, categories, eventId }, 'rds-event');
        const expected = (await engine.run(structuredClone(event))).events.map((e) => e.type as string).sort();
        const got = ruleSet.evaluate(event, 'rds-event').map((m) => m.rule.id).sort();
        assert.deepEqual(got, expected, JSON.stringify(event));
        for (const id of got) fired.add(id);
      }
    }
  }
  assert.deepEqual([...fired].sort(), ['cluster-failover', 'cluster-reboot', 'das-stream-failure', 'das-stream-started', 'das-stream-stopped']);
});
