/**
 * `dasguard run --coordination dynamodb` (src/consumer/dynamo/), several real CLIs in child processes sharing one
 * stream through a lease table: kinesalite and dynalite in this process, the real SDK clients everywhere.
 *  - Three workers on 4 shards, records flowing, one SIGKILLed: its shards are taken over once their counters stood
 *    still for the lease duration (on the takers' clocks), every record's alerts are delivered (the ids `replay`
 *    gives for the same records), and the only duplicates are records after the dead worker's last checkpoint. A
 *    worker stopped with SIGTERM checkpoints and releases its leases: another takes them at once (no expiry).
 *  - A fourth worker joining takes its share: one lease, stolen from the most loaded worker.
 *  - A shard split while they run: the parent is read to its end (SHARD_END) before a child is leased.
 *  - --no-create-table with no table, or a table holding another stream's leases: exit 2, saying so.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import { DasguardProcess } from '../support/child.js';
import { plainErrors } from '../support/cli.js';
import {
  KEY_FILE,
  RESOURCE_ID,
  createStream,
  encryptedRecords,
  everyEventRules,
  kinesisClient,
  listShards,
  loopbackEnv,
  putRecords,
  replayAlertIds,
  splitShard,
  startKinesalite,
  tempDir,
  waitFor,
  type Kinesalite,
  type PutResult,
} from '../support/kinesis.js';
import { byOwner, dynamoClient, leasesIn, startDynalite, type Dynalite } from '../support/leases.js';
import type { Lease } from '../../src/consumer/dynamo/LeaseTable.js';

const LEASE_MS = 2000;
const RENEW_MS = LEASE_MS / 3;

let kinesalite: Kinesalite;
let dynalite: Dynalite;
let kinesis: KinesisClient;
let dynamo: DynamoDBClient;
let env: NodeJS.ProcessEnv;
let rules: string;
let n = 0;
const procs: DasguardProcess[] = [];

before(async () => {
  [kinesalite, dynalite] = await Promise.all([startKinesalite(), startDynalite()]);
  kinesis = kinesisClient(kinesalite.url);
  dynamo = dynamoClient(dynalite.url);
  env = { ...loopbackEnv({ kinesis: kinesalite.url }), AWS_ENDPOINT_URL_DYNAMODB: dynalite.url };
  rules = everyEventRules();
});

after(async () => {
  for (const p of procs) if (p.proc.exitCode === null && p.proc.signalCode === null) p.proc.kill('SIGKILL');
  await Promise.all(procs.map((p) => p.exited));
  kinesis.destroy();
  dynamo.destroy();
  await Promise.all([kinesalite.close(), dynalite.close()]);
});

async function newStream(shards: number): Promise<{ stream: string; table: string }> {
  const stream = `aws-rds-das-${RESOURCE_ID}-l${++n}`;
  await createStream(kinesis, stream, shards);
  return { stream, table: `dasguard-leases-${n}` };
}

function startWorker(stream: string, table: string, id: string, extra: string[] = []): DasguardProcess {
  const dir = tempDir('dasguard-leases-');
  const p = new DasguardProcess(
    ['run', '--stream', stream, '--resource-id', RESOURCE_ID, '--key-file', KEY_FILE, '--from', 'trim-horizon', '--rules', rules, '--output', 'jsonl',
      '--checkpoint-dir', join(dir, 'checkpoints'), '--state-dir', join(dir, 'state'), '--poll-interval', '100ms', '--discovery-interval', '1s',
      '--coordination', 'dynamodb', '--lease-table', table, '--lease-duration', `${LEASE_MS}ms`, '--worker-id', id, ...extra],
    env,
  );
  procs.push(p);
  return p;
}

const logsWith = (p: DasguardProcess, msg: string) => p.logs().filter((l) => l.msg === msg);

/** Alert id -> how many times it was delivered, over every worker's stdout. */
function deliveries(ps: readonly DasguardProcess[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const p of ps) for (const id of p.alertIds()) out.set(id, (out.get(id) ?? 0) + 1);
  return out;
}

/** Polls the lease table (bounded) until `cond` holds of it; returns it. */
async function tableUntil(table: string, what: string, cond: (leases: Map<string, Lease>) => boolean, timeoutMs = 30_000): Promise<Map<string, Lease>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const leases = await leasesIn(dynamo, table);
    if (cond(leases)) return leases;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; lease table: ${JSON.stringify([...leases.values()])}\n${procs.map((p) => p.stderr.slice(-3000)).join("\n--\n")}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const loads = (leases: Map<string, Lease>) => [...byOwner(leases).values()].map((s) => s.length).sort();

/** The last sequence number put per shard is the table's checkpoint: everything read and checkpointed. */
const checkpointedTo = (puts: readonly PutResult[]) => (leases: Map<string, Lease>) => {
  const last = new Map<string, string>();
  for (const p of puts) last.set(p.shardId, p.sequenceNumber);
  return [...last].every(([shard, seq]) => leases.get(shard)?.checkpoint === seq);
};

async function waitDelivered(ps: readonly DasguardProcess[], expected: readonly string[], what: string): Promise<void> {
  await waitFor(() => {
    const got = deliveries(ps);
    return expected.every((id) => got.has(id));
  }, what, 60_000);
}

describe('dasguard run --coordination dynamodb', { timeout: 180_000 }, () => {
  test('--no-create-table and a missing table: exit 2 naming it; a table holding another stream\'s leases: exit 2', async () => {
    const { stream, table } = await newStream(1);
    const refused = startWorker(stream, table, 'worker-n', ['--no-create-table']);
    assert.equal(await refused.exit(), 2, refused.stderr);
    assert.match(plainErrors(refused.stderr), new RegExp(`the lease table "${table}" does not exist \\(--no-create-table\\)`));
    assert.equal((await leasesIn(dynamo, table)).size, 0);
    // The table is created by a first run on the stream; another stream's run is refused on it.
    const first = startWorker(stream, table, 'worker-o');
    await tableUntil(table, 'the lease created', (l) => l.size === 1);
    first.proc.kill('SIGTERM');
    assert.equal(await first.exit(), 0, first.stderr);
    const other = await newStream(1);
    const wrong = startWorker(other.stream, table, 'worker-p');
    assert.equal(await wrong.exit(), 2, wrong.stderr);
    assert.match(plainErrors(wrong.stderr), /holds the leases of stream "[^"]+-l\d+", not "[^"]+": give each stream its own lease table/);
  });

  test('three workers on 4 shards, one SIGKILLed: its shards taken over after the lease duration, every alert delivered, duplicates only after its last checkpoint; SIGTERM releases at once', async () => {
    const { stream, table } = await newStream(4);
    const batch1 = await encryptedRecords(40, 2, 101);
    const puts1 = await putRecords(kinesis, stream, batch1, { spread: 4 });
    // One worker first: it creates the table and the leases, takes the 4 shards and reads everything.
    const w1 = startWorker(stream, table, 'worker-1');
    await tableUntil(table, 'worker-1 checkpointed the first batch', checkpointedTo(puts1));
    assert.deepEqual(loads(await leasesIn(dynamo, table)), [4]);
    const w2 = startWorker(stream, table, 'worker-2');
    const w3 = startWorker(stream, table, 'worker-3');
    const settled = await tableUntil(table, 'three workers sharing 4 shards 2/1/1', (l) => loads(l).join() === '1,1,2');
    const workers = [w1, w2, w3];
    const [victimId, victimShards] = [...byOwner(settled)].find(([, s]) => s.length === 2)!;
    const victim = workers.find((_, i) => `worker-${i + 1}` === victimId)!;
    const survivors = workers.filter((w) => w !== victim);

    // Records flowing: the victim is killed while it hands off alerts of the second batch.
    const batch2 = await encryptedRecords(80, 2, 202);
    const puts2 = await putRecords(kinesis, stream, batch2, { spread: 4 });
    const onVictimShards = new Set(puts2.filter((p) => victimShards.includes(p.shardId)).map((p) => p.sequenceNumber));
    const before2 = victim.alertIds().length;
    await waitFor(() => victim.alertIds().length > before2, 'the victim handing off alerts of the second batch');
    victim.proc.kill('SIGKILL');
    await victim.exited;
    const killedAt = Date.now();
    // What the victim checkpointed last: where its shards are read again from.
    const atKill = await leasesIn(dynamo, table);
    const batch3 = await encryptedRecords(40, 2, 303);
    const puts3 = await putRecords(kinesis, stream, batch3, { spread: 4 });

    const taken = await tableUntil(table, "the dead worker's shards taken over", (l) => victimShards.every((s) => { const o = l.get(s)?.owner; return o !== undefined && o !== null && o !== victimId; }));
    const takeoverMs = Date.now() - killedAt;
    assert.deepEqual(loads(taken), [2, 2]);
    const takesOfVictim = () => survivors.flatMap((w) => logsWith(w, 'lease taken')).filter((l) => l.from === victimId && victimShards.includes(l.shardId as string));
    await waitFor(() => takesOfVictim().length >= victimShards.length, 'the takers logging their takes');
    const takes = takesOfVictim();
    assert.equal(takes.length, victimShards.length, JSON.stringify(takes));
    // Expired on the taker's own clock: the counter stood still for the lease duration.
    for (const t of takes) assert.ok((t.expiredAfterMs as number) >= LEASE_MS, JSON.stringify(t));
    // Taken over within leaseDuration + one renewal interval (+ the scan interval and process start-up slack on a shared machine).
    assert.ok(takeoverMs < LEASE_MS + RENEW_MS + 2_000, `takeover took ${takeoverMs} ms`);

    // status with the lease table: who holds which shard (shard, owner, counter, checkpoint).
    const status = new DasguardProcess(['status', '--stream', stream, '--lease-table', table, '--state-dir', tempDir('dasguard-leases-state-')], env);
    assert.notEqual(await status.exit(), 3, status.stdout + status.stderr);
    assert.match(status.stdout, new RegExp(`Leases +4 in ${table} \\(shard, owner, counter, checkpoint\\)`));
    for (const [owner, shards] of byOwner(taken)) {
      for (const s of shards) assert.match(status.stdout, new RegExp(`${s}  ${owner} +\\d+  \\S+`), status.stdout);
    }

    const all = [...batch1, ...batch2, ...batch3];
    const expected = await replayAlertIds(all, [rules]);
    await waitDelivered(workers, expected, 'every alert of the three batches delivered');
    await tableUntil(table, 'everything checkpointed', checkpointedTo([...puts1, ...puts2, ...puts3]));
    const got = deliveries(workers);
    assert.deepEqual([...got.keys()].sort(), [...expected].sort(), 'the alerts replay gives for the same records, no other');
    // Duplicates: only records of the dead worker's shards after its last checkpoint.
    const duplicates = [...got].filter(([, c]) => c > 1).map(([id]) => id);
    const alertsById = new Map(workers.flatMap((w) => w.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { id: string; source: string })).map((a) => [a.id, a]));
    for (const id of duplicates) {
      const m = /shard (\S+) sequence (\d+)/.exec(alertsById.get(id)!.source)!;
      const [shard, seq] = [m[1]!, m[2]!];
      assert.ok(victimShards.includes(shard) && onVictimShards.has(seq), `duplicate ${id} is on a shard of the dead worker`);
      const cp = atKill.get(shard)!.checkpoint;
      assert.ok(!/^\d+$/.test(cp) || BigInt(seq) > BigInt(cp), `duplicate ${id} (sequence ${seq}) is after the last checkpoint ${cp}`);
    }
    console.log(`# takeover ${takeoverMs} ms after SIGKILL (lease duration ${LEASE_MS} ms); ${duplicates.length} duplicate alert(s) of ${expected.length}`);

    // SIGTERM: the worker checkpoints and releases; the last one takes its shards at once (unowned, not expired).
    const [leaving, staying] = survivors as [DasguardProcess, DasguardProcess];
    leaving.proc.kill('SIGTERM');
    assert.equal(await leaving.exit(), 0, leaving.stderr);
    assert.equal(logsWith(leaving, 'leases released').length, 1, leaving.stderr);
    const leavingId = `worker-${workers.indexOf(leaving) + 1}`;
    await tableUntil(table, 'the stopped worker\'s shards taken by the last one', (l) => loads(l).join() === '4');
    const releasedTakes = () => logsWith(staying, 'lease taken').filter((l) => l.from === null && Date.parse(l.time as string) >= killedAt);
    // (its log lines come through a pipe, a little after the table shows the takes)
    await waitFor(() => releasedTakes().length >= 2, 'the last worker logging the two takes');
    const atOnce = releasedTakes();
    assert.ok(atOnce.length >= 2 && atOnce.every((l) => l.expiredAfterMs === undefined), `released leases taken without waiting for expiry: ${JSON.stringify(atOnce)}\n${leaving.stderr}\n${staying.stderr}`);
    assert.ok(!logsWith(staying, 'lease taken').some((l) => l.from === leavingId), 'the released leases were nobody\'s when taken');
    staying.proc.kill('SIGTERM');
    assert.equal(await staying.exit(), 0, staying.stderr);
    const end = await leasesIn(dynamo, table);
    assert.ok([...end.values()].every((l) => l.owner === null), 'every lease released at the end');
  });

  test('a fourth worker joining takes its share: one lease, stolen from the most loaded worker', async () => {
    const { stream, table } = await newStream(4);
    const batch1 = await encryptedRecords(20, 2, 404);
    const puts1 = await putRecords(kinesis, stream, batch1, { spread: 4 });
    const workers = [startWorker(stream, table, 'worker-a')];
    await tableUntil(table, 'worker-a checkpointed the first batch', checkpointedTo(puts1));
    workers.push(startWorker(stream, table, 'worker-b'), startWorker(stream, table, 'worker-c'));
    const settled = await tableUntil(table, 'three workers 2/1/1', (l) => loads(l).join() === '1,1,2');
    const [mostLoaded] = [...byOwner(settled)].find(([, s]) => s.length === 2)!;
    const fourth = startWorker(stream, table, 'worker-d');
    workers.push(fourth);
    await tableUntil(table, 'four workers, one shard each', (l) => loads(l).join() === '1,1,1,1');
    await waitFor(() => logsWith(fourth, 'lease taken from the most loaded worker').length > 0, 'the fourth worker logging its steal');
    const steals = logsWith(fourth, 'lease taken from the most loaded worker');
    assert.equal(steals.length, 1, fourth.stderr);
    assert.equal(steals[0]!.from, mostLoaded);
    // The worker it was taken from stops reading that shard.
    const victim = workers[['worker-a', 'worker-b', 'worker-c'].indexOf(mostLoaded)]!;
    await waitFor(() => logsWith(victim, 'lease lost: the shard reader stops').some((l) => l.shardId === steals[0]!.shardId), 'the most loaded worker letting the shard go');
    const batch2 = await encryptedRecords(40, 2, 505);
    await putRecords(kinesis, stream, batch2, { spread: 4 });
    await waitDelivered(workers, await replayAlertIds([...batch1, ...batch2], [rules]), 'every alert delivered');
    assert.ok(fourth.alertIds().length > 0, 'the fourth worker delivers alerts of its shard');
    for (const w of workers) w.proc.kill('SIGTERM');
    for (const w of workers) assert.equal(await w.exit(), 0, w.stderr);
  });

  test('a shard split while three workers run: the parent is read to its end before a child is leased; every alert delivered', async () => {
    const { stream, table } = await newStream(2);
    const batch1 = await encryptedRecords(20, 2, 606);
    const puts1 = await putRecords(kinesis, stream, batch1, { spread: 2 });
    const workers = [startWorker(stream, table, 'worker-x')];
    await tableUntil(table, 'worker-x checkpointed the first batch', checkpointedTo(puts1));
    workers.push(startWorker(stream, table, 'worker-y'), startWorker(stream, table, 'worker-z'));
    await tableUntil(table, 'two shards on two workers', (l) => loads(l).join() === '1,1');
    const parent = puts1[0]!.shardId;
    // Records in the parent not yet read when it closes, then records in its children.
    const batch2 = await encryptedRecords(20, 2, 707);
    await putRecords(kinesis, stream, batch2, { spread: 2 });
    await splitShard(kinesis, stream, parent);
    const children = (await listShards(kinesis, stream)).filter((s) => s.ParentShardId === parent).map((s) => s.ShardId!);
    assert.equal(children.length, 2);
    const batch3 = await encryptedRecords(40, 2, 808);
    await putRecords(kinesis, stream, batch3, { spread: 4 });
    await tableUntil(table, 'the parent finished, its children leased', (l) => l.get(parent)?.checkpoint === 'SHARD_END' && children.every((c) => l.get(c)?.owner != null));
    await waitDelivered(workers, await replayAlertIds([...batch1, ...batch2, ...batch3], [rules]), 'every alert delivered');
    const logs = workers.flatMap((w) => w.logs());
    const finished = logs.find((l) => l.msg === 'shard read to its end' && l.shardId === parent);
    assert.ok(finished, 'the parent was read to its end');
    const childTakes = logs.filter((l) => l.msg?.toString().startsWith('lease taken') && children.includes(l.shardId as string));
    assert.ok(childTakes.length >= 2);
    for (const t of childTakes) assert.ok(Date.parse(t.time as string) >= Date.parse(finished.time as string), `child ${t.shardId as string} leased after the parent's end`);
    const table1 = await leasesIn(dynamo, table);
    for (const c of children) assert.deepEqual(table1.get(c)!.parents, [parent], 'the child lease names its parent (parentShardId)');
    for (const w of workers) w.proc.kill('SIGTERM');
    for (const w of workers) assert.equal(await w.exit(), 0, w.stderr);
  });
});
