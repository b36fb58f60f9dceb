/** The status policy (src/health/statusFindings.ts): which facts are critical, which only warnings, and the verdict. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statusFindings, verdictLine, verdictOf, type StatusFacts } from '../../src/health/statusFindings.js';

const NOW = Date.parse('2026-12-02T12:00:00Z');
const ago = (ms: number) => new Date(NOW - ms).toISOString();
const LIMITS = { maxConsumerAgeMs: 10 * 60_000, maxCheckpointAgeMs: 3600_000 };

function healthy(over: Partial<StatusFacts> = {}): StatusFacts {
  return {
    subject: 'cluster prod',
    activityStatus: 'started',
    kinesis: { streamName: 'aws-rds-das-cluster-X', status: 'ACTIVE', retentionHours: 24 },
    checkpoints: [{ shardId: 'shardId-0', ageMs: 5_000, finished: false }],
    checkpointDir: 'cp',
    stateDir: 'st',
    liveness: { updatedAt: ago(2_000), thresholdMs: 60_000, instances: [{ instanceId: 'db-W', lastSeen: ago(1_000), lastHeartbeat: ago(1_000), silentSince: null }] },
    rdsEvents: { polled: true, lastPoll: ago(30_000) },
    openLossWindows: [],
    ...over,
  };
}

const checks = (f: StatusFacts, limits = LIMITS) => statusFindings(f, limits, NOW).map((x) => `${x.severity} ${x.check}`);

test('healthy facts: no finding, OK, exit 0', () => {
  assert.deepEqual(checks(healthy()), []);
  assert.deepEqual(verdictOf([]), { verdict: 'OK', exitCode: 0 });
  assert.equal(verdictLine([], 'cluster prod'), 'OK: cluster prod');
});

test('checkpoint age: a warning past --max-checkpoint-age, critical past the retention, finished shards never', () => {
  const cp = (ageMs: number, finished = false) => healthy({ checkpoints: [{ shardId: 'shardId-0', ageMs, finished }, { shardId: 'shardId-1', ageMs: 1_000, finished: false }] });
  assert.deepEqual(checks(cp(2 * 3600_000)), ['warning checkpoint-old']);
  assert.deepEqual(checks(cp(25 * 3600_000)), ['critical checkpoint-trimmed']);
  assert.deepEqual(checks(cp(25 * 3600_000, true)), []);
  assert.deepEqual(checks(cp(2 * 3600_000), { ...LIMITS, maxCheckpointAgeMs: 0 }), []);
});

test('consumer age: the newest of liveness and checkpoints; none at all is critical; 0 turns the check off', () => {
  const stale = healthy({ checkpoints: [{ shardId: 'shardId-0', ageMs: 20 * 60_000, finished: false }], liveness: null });
  assert.deepEqual(checks(stale), ['critical consumer']);
  assert.match(statusFindings(stale, LIMITS, NOW)[0]!.summary, /^no consumer for 20m$/);
  assert.deepEqual(checks(healthy({ checkpoints: [], liveness: null })), ['critical consumer']);
  assert.deepEqual(checks(stale, { ...LIMITS, maxConsumerAgeMs: 0 }), []);
});

test('worst wins: CRITICAL over UNKNOWN over WARNING; the verdict line names the worst, counts the rest', () => {
  const f = statusFindings(
    healthy({
      activityStatus: 'stopped',
      kinesis: { streamName: 's', status: null, retentionHours: null, error: 'AccessDenied' },
      rdsEvents: { polled: false },
    }),
    LIMITS,
    NOW,
  );
  assert.deepEqual(f.map((x) => x.severity), ['critical', 'unknown', 'warning']);
  assert.deepEqual(verdictOf(f), { verdict: 'CRITICAL', exitCode: 2 });
  assert.equal(verdictLine(f, ''), 'CRITICAL: activity stream of cluster prod is stopped (+2 more)');
  assert.deepEqual(verdictOf(f.slice(1)), { verdict: 'UNKNOWN', exitCode: 3 });
  assert.deepEqual(verdictOf(f.slice(2)), { verdict: 'WARNING', exitCode: 1 });
});

test('instances: silent is a warning; a heartbeat older than the silence threshold is a warning', () => {
  const inst = (i: Partial<NonNullable<StatusFacts['liveness']>['instances'][number]>) =>
    healthy({ liveness: { updatedAt: ago(1_000), thresholdMs: 60_000, instances: [{ instanceId: 'db-W', lastSeen: ago(1_000), lastHeartbeat: ago(1_000), silentSince: null, ...i }] } });
  assert.deepEqual(checks(inst({ silentSince: ago(120_000) })), ['warning instance-silent']);
  assert.deepEqual(checks(inst({ lastHeartbeat: ago(90_000) })), ['warning heartbeat-late']);
  // the Kinesis stream is gone: critical; --stream (no RDS) checks neither the activity stream nor RDS events
  assert.deepEqual(checks(healthy({ kinesis: { streamName: 's', status: null, retentionHours: null, missing: true } })), ['critical kinesis-stream']);
  assert.deepEqual(checks(healthy({ activityStatus: null, rdsEvents: null })), []);
});
