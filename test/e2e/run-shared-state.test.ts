/**
 * `dasguard run --coordination dynamodb --state-table` (docs/leases.md, docs/rules.md "Shared state"): two real CLIs
 * in child processes share a stream of 2 shards through a lease table, one shard each, and their correlation state
 * through a state table; kinesalite and dynalite in this process, the real SDK clients everywhere.
 *  - A threshold (3 failed logins from one host) whose events are split between the two shards, so between the two
 *    workers, fires once, counting all 3; the same records with each worker's own state fire nothing (neither sees
 *    more than 2): the sharing is what makes it fire.
 *  - A shard handed over (its worker stopped with SIGTERM) carries its window with it: the worker taking it fires on
 *    the window's third event.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type { Alert } from '../../src/pipeline/alert.js';
import { DasguardProcess } from '../support/child.js';
import { KEY_FILE, RESOURCE_ID, createStream, kinesisClient, loopbackEnv, putRecords, startKinesalite, tempDir, waitFor, type Kinesalite } from '../support/kinesis.js';
import { byOwner, dynamoClient, leasesIn, startDynalite, type Dynalite } from '../support/leases.js';
import { alertsIn, failedLoginRecords, type FailedLogin } from '../support/failedLogins.js';

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
  rules = tempDir('dasguard-rules-');
  writeFileSync(
    join(rules, 'burst.yaml'),
    'rules:\n  - id: test-failure\n    severity: info\n    when: {command: AUTH FAILURE}\n' +
      '  - id: test-burst\n    description: 3 failed logins from one host (tests)\n    severity: high\n' +
      '    correlation: {type: event_count, rules: [test-failure], groupBy: [remoteHost], window: 10m, gte: 3, generate: true}\n',
  );
});

after(async () => {
  for (const p of procs) if (p.proc.exitCode === null && p.proc.signalCode === null) p.proc.kill('SIGKILL');
  await Promise.all(procs.map((p) => p.exited));
  kinesis.destroy();
  dynamo.destroy();
  await Promise.all([kinesalite.close(), dynalite.close()]);
});

async function newStream(): Promise<{ stream: string; leaseTable: string; stateTable: string }> {
  const stream = `aws-rds-das-${RESOURCE_ID}-s${++n}`;
  await createStream(kinesis, stream, 2);
  return { stream, leaseTable: `dasguard-leases-s${n}`, stateTable: `dasguard-state-s${n}` };
}

function startWorker(stream: string, leaseTable: string, id: string, extra: string[]): DasguardProcess {
  const dir = tempDir('dasguard-shared-');
  const p = new DasguardProcess(
    ['run', '--stream', stream, '--resource-id', RESOURCE_ID, '--key-file', KEY_FILE, '--from', 'trim-horizon', '--rules', rules, '--output', 'jsonl',
      '--checkpoint-dir', join(dir, 'checkpoints'), '--state-dir', join(dir, 'state'), '--poll-interval', '100ms', '--discovery-interval', '1s',
      '--coordination', 'dynamodb', '--lease-table', leaseTable, '--lease-duration', '2s', '--worker-id', id, ...extra],
    env,
  );
  procs.push(p);
  return p;
}

/** Polls the lease table (bounded) until `cond` holds of its owners. */
async function ownersUntil(table: string, what: string, cond: (owners: Map<string, string[]>) => boolean): Promise<void> {
  const end = Date.now() + 60_000;
  for (;;) {
    const owners = byOwner(await leasesIn(dynamo, table));
    if (cond(owners)) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; owners: ${JSON.stringify([...owners])}\n${procs.map((p) => p.stderr.slice(-2000)).join('\n--\n')}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Starts two workers (ids `<prefix>-a`, `<prefix>-b`) and waits until each holds one of the stream's 2 shards. */
async function twoWorkers(stream: string, leaseTable: string, extra: string[]): Promise<{ workers: DasguardProcess[]; ids: string[] }> {
  const ids = [`w${n}-a`, `w${n}-b`];
  const workers = ids.map((id) => startWorker(stream, leaseTable, id, extra));
  await ownersUntil(leaseTable, 'each worker holding one shard', (o) => o.size === 2 && [...o.values()].every((s) => s.length === 1));
  // A worker whose lease was taken reads on until its next renewal is refused: wait until each reads one shard.
  await waitFor(() => workers.every((w) => readers(w) === 1), 'each worker reading one shard', 30_000);
  return { workers, ids };
}

/** The shard readers a worker runs, from its log: leases taken, less readers stopped. */
const readers = (w: DasguardProcess): number => {
  const msgs = w.logs().map((l) => String(l.msg));
  return msgs.filter((m) => m.startsWith('lease taken')).length - msgs.filter((m) => m.startsWith('shard reader stopped')).length;
};

const alertsOf = (ps: readonly DasguardProcess[], rule: string): Alert[] => ps.flatMap((p) => alertsIn(p.stdout)).filter((a) => a.ruleId === rule);

async function stopAll(ps: readonly DasguardProcess[]): Promise<void> {
  for (const p of ps) if (p.proc.exitCode === null) p.proc.kill('SIGTERM');
  for (const p of ps) assert.equal(await p.exit(), 0, p.stderr);
}

const HOST = '10.7.7.7';
const logins = (ats: number[]): FailedLogin[] => ats.map((at) => ({ host: HOST, user: 'app', at }));

describe('dasguard run --state-table with leases', { timeout: 180_000 }, () => {
  test('a threshold whose events are split between two workers fires once with the shared state, and not without it', async () => {
    // 3 failed logins, put alternately on the 2 shards (records 0 and 2 on one, 1 on the other).
    const records = await failedLoginRecords(logins([0, 1, 2]));

    const alone = await newStream();
    const own = await twoWorkers(alone.stream, alone.leaseTable, []);
    await putRecords(kinesis, alone.stream, records);
    await waitFor(() => alertsOf(own.workers, 'test-failure').length === 3, 'every failed login evaluated (own state)', 60_000);
    await stopAll(own.workers);
    assert.equal(alertsOf(own.workers, 'test-burst').length, 0, 'each worker counts only its own shard: 2 and 1');
    assert.deepEqual(own.workers.map((w) => alertsOf([w], 'test-failure').length).sort(), [1, 2], 'the events were split between the workers');

    const shared = await newStream();
    const both = await twoWorkers(shared.stream, shared.leaseTable, ['--state-table', shared.stateTable]);
    await putRecords(kinesis, shared.stream, records);
    await waitFor(() => alertsOf(both.workers, 'test-burst').length === 1, 'the threshold firing on the shared state', 60_000);
    await waitFor(() => alertsOf(both.workers, 'test-failure').length === 3, 'every failed login evaluated (shared state)', 60_000);
    await stopAll(both.workers);
    const [burst] = alertsOf(both.workers, 'test-burst');
    const correlation = (burst!.event as { correlation: { events: number; group: unknown } }).correlation;
    assert.deepEqual([correlation.events, correlation.group], [3, { remoteHost: HOST }]);
    assert.equal(alertsOf(both.workers, 'test-burst').length, 1, 'fired once, by one of the two');
    for (const w of both.workers) assert.ok(w.logs().some((l) => l.msg === `correlation state: the rule state table ${shared.stateTable}, shared with every process using it`), w.stderr);
  });

  test('a shard handed over carries its window: the worker taking it fires on the third event', async () => {
    const { stream, leaseTable, stateTable } = await newStream();
    const { workers, ids } = await twoWorkers(stream, leaseTable, ['--state-table', stateTable]);
    // 2 failed logins on lane 0 only (spread 1 puts every record on the first shard's hash range).
    await putRecords(kinesis, stream, await failedLoginRecords(logins([0, 1])), { spread: 1 });
    await waitFor(() => alertsOf(workers, 'test-failure').length === 2, 'the first 2 failed logins', 60_000);
    const holder = workers.find((w) => alertsOf([w], 'test-failure').length === 2)!;
    const other = workers.find((w) => w !== holder)!;
    // Stopped with SIGTERM: it checkpoints and releases its lease; the other worker takes the shard at once.
    holder.proc.kill('SIGTERM');
    assert.equal(await holder.exit(), 0, holder.stderr);
    const otherId = ids[workers.indexOf(other)]!;
    await ownersUntil(leaseTable, 'the other worker holding both shards', (o) => o.get(otherId)?.length === 2);
    await putRecords(kinesis, stream, await failedLoginRecords(logins([2])), { spread: 1 });
    await waitFor(() => alertsOf([other], 'test-burst').length === 1, 'the taker firing on the window carried over', 60_000);
    const correlation = (alertsOf([other], 'test-burst')[0]!.event as { correlation: { events: number } }).correlation;
    assert.equal(correlation.events, 3);
    assert.equal(alertsOf([other], 'test-failure').length, 1, 'the taker read only the new record (the old ones were checkpointed)');
    await stopAll([other]);
  });
});
