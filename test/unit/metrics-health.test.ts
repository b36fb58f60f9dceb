/** The verdict behind `run`'s /healthz (src/metrics/health.ts): which shards and sinks make it fail, and what it says. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ConsumerStats, ShardStatus } from '../../src/consumer/types.js';
import type { SinkDeliveryStats } from '../../src/delivery/Dispatcher.js';
import { DEFAULT_DELIVERY_STALL_MS, DEFAULT_SHARD_STALL_MS, healthVerdict, shardStallFor } from '../../src/metrics/health.js';
import { PipelineStats } from '../../src/pipeline/PipelineStats.js';

const NOW = 1_800_000_000_000;
const T = { shardStallMs: DEFAULT_SHARD_STALL_MS, deliveryStallMs: DEFAULT_DELIVERY_STALL_MS };

function shard(id: string, idleMs: number, state: ShardStatus['state'] = 'reading'): ShardStatus {
  return { shardId: id, state, lagMs: 0, sequenceNumber: null, records: 0, lastProgressAt: NOW - idleMs };
}

function consumer(...shards: ShardStatus[]): ConsumerStats {
  return { pipeline: new PipelineStats().snapshot(), keys: undefined, shards, startedAt: NOW - 3_600_000, lastCheckpointAt: NOW };
}

function sink(name: string, pendingForMs: number | null, pending = 1): SinkDeliveryStats {
  return { sink: name, delivered: 0, retries: 0, deadLettered: 0, pending: pendingForMs === null ? 0 : pending, oldestPendingAt: pendingForMs === null ? null : NOW - pendingForMs };
}

describe('healthVerdict', () => {
  it('ok while every shard being read made progress within the threshold and no sink waits too long', () => {
    const v = healthVerdict({ consumer: consumer(shard('shardId-000000000000', 59_999), shard('shardId-000000000001', 0)), sinks: [sink('slack', 299_999), sink('sns', null)] }, NOW, T);
    assert.deepEqual(v, { status: 'ok', reasons: [] });
  });

  it('a shard without progress for the threshold is not read; a finished shard is never judged', () => {
    const v = healthVerdict({ consumer: consumer(shard('shardId-000000000000', 95_400), shard('shardId-000000000001', 10_000_000, 'finished')), sinks: [] }, NOW, T);
    assert.deepEqual(v, { status: 'unhealthy', reasons: ['shard shardId-000000000000 not read for 95 s'] });
  });

  it('a sink whose oldest pending alert waited the threshold is stuck, named with how many wait; every reason is listed', () => {
    const v = healthVerdict({ consumer: consumer(shard('shardId-000000000002', 61_000)), sinks: [sink('slack', 310_000, 4), sink('sns', 1_000)] }, NOW, T);
    assert.equal(v.status, 'unhealthy');
    assert.deepEqual(v.reasons, ['shard shardId-000000000002 not read for 61 s', "delivery to sink 'slack' stuck: oldest pending 310 s (4 pending)"]);
  });

  it('before the consumer exists: unhealthy, starting', () => {
    assert.deepEqual(healthVerdict({ consumer: undefined, sinks: [] }, NOW, T), { status: 'unhealthy', reasons: ['starting: the stream is not being read yet'] });
  });

  it('no shard yet (listing) and no outbox: ok', () => {
    assert.equal(healthVerdict({ consumer: consumer(), sinks: [] }, NOW, T).status, 'ok');
  });

  it('the shard threshold follows a long poll interval (3 polls), never below the default', () => {
    assert.equal(shardStallFor(1000), DEFAULT_SHARD_STALL_MS);
    assert.equal(shardStallFor(30_000), 90_000);
    const v = healthVerdict({ consumer: consumer(shard('shardId-000000000000', 80_000)), sinks: [] }, NOW, { ...T, shardStallMs: shardStallFor(30_000) });
    assert.equal(v.status, 'ok', '80 s without progress is within 3 polls of 30 s');
  });
});
