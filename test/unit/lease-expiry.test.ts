/**
 * Lease expiry as each worker judges it (src/consumer/dynamo/LeaseCoordinator.ts), on a real lease table (dynalite)
 * with the worker's clock in the test's hand: a lease is expired once ITS COUNTER stood still for the lease duration
 * of the taker's own time, whatever times the other host wrote into the table; a counter that moves starts the count
 * again; a released lease is taken at once; a lease taken away is lost by the renewal (its signal aborts).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { LeaseCoordinator } from '../../src/consumer/dynamo/LeaseCoordinator.js';
import { LeaseTable } from '../../src/consumer/dynamo/LeaseTable.js';
import type { LeasedShard } from '../../src/consumer/ShardLeases.js';
import type { ConsumerLogEntry } from '../../src/consumer/types.js';
import { dynamoClient, leasesIn, startDynalite, type Dynalite } from '../support/leases.js';

let dynalite: Dynalite;
let client: DynamoDBClient;
let n = 0;
before(async () => {
  dynalite = await startDynalite();
  client = dynamoClient(dynalite.url);
});
after(async () => {
  client.destroy();
  await dynalite.close();
});

const DURATION = 10_000;
const SHARD = { ShardId: 'shardId-000000000000', HashKeyRange: { StartingHashKey: '0', EndingHashKey: '1' }, SequenceNumberRange: { StartingSequenceNumber: '1' } };

/** A worker on its own clock (`clock.t`), started by hand: the test runs its scans and renewals. */
function worker(table: LeaseTable, id: string) {
  const clock = { t: 0 };
  const taken: LeasedShard[] = [];
  const logs: ConsumerLogEntry[] = [];
  const c = new LeaseCoordinator({ table, streamName: 's', workerId: id, leaseDurationMs: DURATION, log: (e) => logs.push(e), now: () => clock.t, manual: true });
  return { c, clock, taken, logs };
}

async function setup() {
  const table = new LeaseTable({ client, tableName: `expiry-${++n}` });
  await table.ensure({ create: true });
  const a = worker(table, 'a');
  const b = worker(table, 'b');
  for (const w of [a, b]) {
    await w.c.start((l) => w.taken.push(l), new AbortController().signal);
    await w.c.sync([SHARD], { type: 'trim-horizon' });
  }
  return { table, a, b };
}

test('expired only after the counter stood still for the lease duration on the taker\'s clock; a moving counter restarts the count', async () => {
  const { table, a, b } = await setup();
  await a.c.takeOnce();
  assert.deepEqual(a.c.heldShards(), [SHARD.ShardId]);
  // The table's own times are far in the past (another host's clock): they play no part.
  await client.send(new UpdateItemCommand({ TableName: table.name, Key: { leaseKey: { S: SHARD.ShardId } }, UpdateExpression: 'SET updatedAt = :t', ExpressionAttributeValues: { ':t': { S: '2001-01-01T00:00:00.000Z' } } }));
  b.clock.t = 1_000;
  await b.c.takeOnce(); // first sight of the counter, at b's 1 s
  b.clock.t = 1_000 + DURATION - 1;
  await b.c.takeOnce();
  assert.equal(b.taken.length, 0, 'not expired 1 ms before the lease duration');
  await a.c.renewOnce(); // the counter moves
  b.clock.t = 1_000 + DURATION + 5;
  await b.c.takeOnce(); // sees the new counter: counting starts again
  assert.equal(b.taken.length, 0, 'a renewed lease is not expired');
  b.clock.t += DURATION;
  await b.c.takeOnce();
  assert.equal(b.taken.length, 1, 'taken once its counter stood still for the lease duration');
  assert.equal((await leasesIn(client, table.name)).get(SHARD.ShardId)!.owner, 'b');
  const take = b.logs.find((l) => l.msg === 'lease taken')!;
  assert.equal(take.from, 'a');
  assert.equal(take.expiredAfterMs, DURATION);
  // a finds out at its next renewal: the lease is lost, its reader's signal aborts.
  const [held] = a.taken;
  assert.equal(held!.lost.aborted, false);
  await a.c.renewOnce();
  assert.equal(held!.lost.aborted, true);
  assert.deepEqual(a.c.heldShards(), []);
  assert.ok(a.logs.some((l) => l.msg === 'lease lost: the shard reader stops'));
  await Promise.all([a.c.close(), b.c.close()]);
});

test('a released lease is taken at the next scan, with no expiry to wait for; a checkpoint of a lost lease is refused', async () => {
  const { table, a, b } = await setup();
  await a.c.takeOnce();
  await a.c.checkpoint(SHARD.ShardId, { sequenceNumber: '42' });
  await b.c.takeOnce();
  await a.c.close(); // releases
  assert.equal((await leasesIn(client, table.name)).get(SHARD.ShardId)!.owner, null);
  await b.c.takeOnce(); // b's clock has not moved at all
  assert.equal(b.taken.length, 1);
  assert.deepEqual(b.taken[0]!.checkpoint, { sequenceNumber: '42', updatedAt: b.taken[0]!.checkpoint!.updatedAt });
  await assert.rejects(a.c.checkpoint(SHARD.ShardId, { sequenceNumber: '43' }), /not held/);
  assert.equal((await leasesIn(client, table.name)).get(SHARD.ShardId)!.checkpoint, '42');
  await b.c.close();
});

test("a finished shard's lease is deleted once the shard is gone from the stream; an unfinished one is kept", async () => {
  const { table, a } = await setup();
  const other = { ...SHARD, ShardId: 'shardId-000000000001' };
  await a.c.sync([SHARD, other], { type: 'trim-horizon' });
  await a.c.takeOnce();
  await a.c.checkpoint(SHARD.ShardId, { finished: true });
  await a.c.sync([SHARD, other], { type: 'trim-horizon' });
  assert.equal((await leasesIn(client, table.name)).size, 2, 'still listed: kept');
  await a.c.sync([], { type: 'trim-horizon' });
  const left = await leasesIn(client, table.name);
  assert.deepEqual([...left.keys()], [other.ShardId], 'the finished one deleted, the unfinished one kept');
  assert.ok(a.logs.some((l) => l.msg === 'leases deleted: shards read to their end, gone from the stream'));
  await a.c.close();
});
