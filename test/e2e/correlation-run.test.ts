/**
 * Correlation rules in `dasguard run` on the local stack (kinesalite, the loopback KMS, the real CLI process): the
 * pack's brute-force and password-spraying rules give the alerts `dasguard replay` gives for the same records, with
 * the same ids; a SIGKILL in the middle of a half-full window, then a restart that reads records again (its
 * checkpoint behind the state), fires once, and a restart that reads the record that fired again gives the same alert
 * again (same id and content); with 2 shards read concurrently, what docs/rules.md "Event time,
 * deterministic" guarantees across shards holds (every event counted once; a burst within one window fires once).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import { runCommand, type RunOptions } from '../../src/commands/run.js';
import { LocalKeyProvider } from '../../src/keys/LocalKeyProvider.js';
import type { Alert } from '../../src/pipeline/alert.js';
import { DasguardProcess } from '../support/child.js';
import { capturedIo, jsonLines } from '../support/cli.js';
import { startKmsServer, type KmsServer } from '../support/kmsServer.js';
import {
  KEY_FILE,
  RESOURCE_ID,
  createStream,
  kinesisClient,
  loopbackEnv,
  putRecords,
  readToLatest,
  startKinesalite,
  tempDir,
  waitFor,
  type Kinesalite,
  type PutResult,
} from '../support/kinesis.js';
import {
  alertsIn,
  burst,
  checkpointsOf,
  correlationAlerts,
  correlationSummary,
  EACH_FAILURE,
  failedLoginRecords,
  packAndEachFailure,
  replayAlerts,
  stateEntries,
  type FailedLogin,
} from '../support/failedLogins.js';

/** The bundled pack (brute-force: 10 per host per minute; password-spraying: 5 users per host in 10 minutes) and EACH_FAILURE. */
const RULES = packAndEachFailure();

let kinesalite: Kinesalite;
let kms: KmsServer;
let client: KinesisClient;
let env: NodeJS.ProcessEnv;
let streamNo = 0;

before(async () => {
  kinesalite = await startKinesalite();
  kms = await startKmsServer({ keys: LocalKeyProvider.fromFile(KEY_FILE) });
  client = kinesisClient(kinesalite.url);
  env = loopbackEnv({ kinesis: kinesalite.url, kms: kms.url });
});

after(async () => {
  client.destroy();
  await Promise.all([kinesalite.close(), kms.close()]);
});

async function newStream(shards: number): Promise<string> {
  const name = `aws-rds-das-${RESOURCE_ID}-c${++streamNo}`;
  await createStream(client, name, shards);
  return name;
}

const byRule = (alerts: readonly Alert[], ruleId: string) => alerts.filter((a) => a.ruleId === ruleId);
const byHost = (alerts: readonly Alert[], host: string) =>
  alerts.filter((a) => ((a.event as { correlation?: { group?: { remoteHost?: string } } }).correlation?.group?.remoteHost ?? null) === host);
/** An alert without `source` (it names the record: a file line for replay, a shard and sequence number for run). */
const sourceless = (a: Alert) => ({ ...a, source: undefined });
/** The JSON log lines of run's stderr (the delivery summary at the end is text). */
const logLines = (stderr: string) => jsonLines(stderr.split('\n').filter((l) => l.startsWith('{')).join('\n'));
const shardsOf = (l: Record<string, unknown>) => (l.msg === 'status' ? (l.shards as { shardId: string; sequenceNumber: string | null }[]) : []);

/**
 * `run` in-process on `stream` until every put record was processed and handed off and `alerts` alerts are out; its
 * alerts. `outbox`: through a dasguard.yaml console sink and the durable outbox (as with SNS or Slack: each hand-off
 * waits for an fsync) instead of the built-in stdout delivery.
 */
async function runUntilRead(stream: string, puts: readonly PutResult[], o: { alerts: number; outbox?: boolean }): Promise<{ alerts: Alert[]; stopped: Record<string, unknown> }> {
  const c = capturedIo();
  const ac = new AbortController();
  const dir = tempDir();
  let delivery: RunOptions['delivery'];
  if (o.outbox === true) {
    const configPath = join(dir, 'dasguard.yaml');
    writeFileSync(configPath, 'sinks: {out: {type: console, format: jsonl}}\nroutes: [{name: all, sinks: [out], default: true}]\n');
    delivery = { configPath, outboxDir: `${dir}-outbox` };
  }
  const opts: RunOptions = {
    stream,
    resourceId: RESOURCE_ID,
    rules: RULES,
    keyFile: KEY_FILE,
    output: 'jsonl',
    redaction: 'literals',
    from: 'trim-horizon',
    checkpointDir: dir,
    stateDir: `${dir}-state`,
    pollIntervalMs: 50,
    statusIntervalMs: 100,
    discoveryIntervalMs: 1000,
    concurrency: 8,
    ...(delivery ? { delivery } : {}),
  };
  const code = runCommand(opts, c.io, { signal: ac.signal, kinesis: client });
  let settled = false;
  code.then(() => (settled = true), () => (settled = true));
  try {
    await waitFor(
      () => settled || (logLines(c.stderr()).some((l) => readToLatest(shardsOf(l), puts)) && alertsIn(c.stdout()).length >= o.alerts),
      'a status line with every shard read to its last record, and the alerts out',
      60_000,
    );
  } finally {
    ac.abort();
  }
  assert.equal(await code, 0, c.stderr());
  const stopped = logLines(c.stderr()).find((l) => l.msg === 'stopped');
  assert.ok(stopped, c.stderr());
  return { alerts: alertsIn(c.stdout()), stopped };
}

describe('correlation rules in dasguard run', () => {
  test('run and replay give the same brute-force and password-spraying alerts, with the same ids, for the same records', async () => {
    const logins: FailedLogin[] = [
      ...burst('198.51.100.10', 12, { every: 2 }), // brute force (10 in 18 s), then 2 more while quiet
      ...burst('198.51.100.20', 6, { every: 30, users: ['alice', 'bob', 'carol', 'dave', 'erin', 'frank'] }), // spraying only
      ...burst('198.51.100.30', 10, { every: 1, users: ['u1', 'u2', 'u3', 'u4', 'u5'] }), // both
      ...burst('198.51.100.40', 9, { every: 2, users: ['alice', 'bob', 'carol', 'dave'] }), // neither: 9 failures, 4 users
    ].sort((a, b) => a.at - b.at);
    const data = await failedLoginRecords(logins);
    const fromReplay = correlationAlerts(await replayAlerts(data, RULES));
    assert.deepEqual(
      fromReplay.map((a) => [a.ruleId, (a.event as { correlation: { group: unknown } }).correlation.group]).sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y))),
      [
        ['brute-force', { clusterId: RESOURCE_ID, remoteHost: '198.51.100.10' }],
        ['brute-force', { clusterId: RESOURCE_ID, remoteHost: '198.51.100.30' }],
        ['password-spraying', { clusterId: RESOURCE_ID, remoteHost: '198.51.100.20' }],
        ['password-spraying', { clusterId: RESOURCE_ID, remoteHost: '198.51.100.30' }],
      ],
      'the records make 4 correlation alerts',
    );
    const stream = await newStream(1);
    const puts = await putRecords(client, stream, data, { spread: 1 });
    const { alerts, stopped } = await runUntilRead(stream, puts, { alerts: logins.length + fromReplay.length });
    const fromRun = correlationAlerts(alerts);
    // Field by field on what identifies them, in the same order, then every other field but `source`.
    assert.deepEqual(fromRun.map(correlationSummary), fromReplay.map(correlationSummary));
    assert.deepEqual(fromRun.map(sourceless), fromReplay.map(sourceless));
    assert.equal(byRule(alerts, EACH_FAILURE).length, logins.length, 'every failure evaluated once');
    assert.equal(stopped.correlationLate, 0);
  });

  test('SIGKILL with a half-full window, then a restart whose checkpoint is behind the state: the brute force fires once, with the id replay gives; read again from behind it, the same alert again', async () => {
    const host = '203.0.113.77';
    const logins = burst(host, 10, { every: 3 }); // 10 failures in 27 s: one brute force
    const data = await failedLoginRecords(logins);
    const replayed = await replayAlerts(data, RULES);
    const expected = correlationAlerts(replayed);
    assert.equal(expected.length, 1, 'replay: one brute force, no spraying (one user)');
    const baseIds = byRule(replayed, EACH_FAILURE).map((a) => a.id);
    assert.equal(baseIds.length, 10);

    const stream = await newStream(1);
    const dir = tempDir();
    const stateDir = `${dir}-state`;
    const args = ['run', '--stream', stream, '--resource-id', RESOURCE_ID, '--from', 'trim-horizon', ...RULES.flatMap((r) => ['--rules', r]), '--output', 'jsonl', '--checkpoint-dir', dir, '--state-dir', stateDir, '--poll-interval', '100ms', '--status-interval', '500ms'];
    const firstPuts = await putRecords(client, stream, data.slice(0, 6), { spread: 1 });
    const sixth = firstPuts[5]!;
    const first = new DasguardProcess(args, env);
    try {
      // The checkpoint is written after the correlation state: once it names the 6th record, the state holds its event.
      await waitFor(() => checkpointsOf(dir, stream)[sixth.shardId] === sixth.sequenceNumber, 'the checkpoint of the 6th record', 60_000);
    } finally {
      first.proc.kill('SIGKILL');
    }
    await first.exited;
    assert.equal(stateEntries(stateDir, stream, 'brute-force', host), 6, 'the half-full window is in the state file');
    assert.equal(correlationAlerts(alertsIn(first.stdout)).length, 0, 'nothing fired with 6 failures');
    assert.deepEqual(byRule(alertsIn(first.stdout), EACH_FAILURE).map((a) => a.id), baseIds.slice(0, 6));

    // A kill between the state's write and the checkpoints' (run writes the state first): the checkpoint names the
    // 3rd record while the state holds 6 events. The restart reads records 4 to 6 again.
    const cpFile = join(dir, `${stream}.json`);
    const cp = JSON.parse(readFileSync(cpFile, 'utf8')) as { shards: Record<string, { sequenceNumber: string }> };
    cp.shards[sixth.shardId]!.sequenceNumber = firstPuts[2]!.sequenceNumber;
    writeFileSync(cpFile, JSON.stringify(cp));

    const second = new DasguardProcess(args, env);
    let restPuts: PutResult[] = [];
    try {
      await waitFor(() => byRule(alertsIn(second.stdout), EACH_FAILURE).length >= 3, 'records 4 to 6 read again', 60_000);
      restPuts = await putRecords(client, stream, data.slice(6), { spread: 1 });
      // Caught up: a status line with the shard read to the last record (a second firing would have come before).
      await waitFor(() => second.logs().some((l) => readToLatest(shardsOf(l), restPuts)), 'a status line with the shard read to the last record', 60_000);
    } finally {
      second.proc.kill('SIGINT');
    }
    assert.equal(await second.exit(), 0, second.stderr);
    assert.deepEqual(byRule(alertsIn(second.stdout), EACH_FAILURE).map((a) => a.id), baseIds.slice(3), 'records 4 to 10: 4 to 6 read again (at-least-once)');
    // Counted once: with the 3 records read again counted twice, it would have fired on the 7th failure (3 + 6 + 1).
    const fired = correlationAlerts([...alertsIn(first.stdout), ...alertsIn(second.stdout)]);
    assert.equal(fired.length, 1, JSON.stringify(fired.map(correlationSummary)));
    assert.deepEqual(fired.map(correlationSummary), expected.map(correlationSummary));
    assert.deepEqual(fired.map(sourceless), expected.map(sourceless));
    assert.equal((fired[0]!.event as { correlation: { events: number } }).correlation.events, 10);
    assert.equal(stateEntries(stateDir, stream, 'brute-force', host), 10, 'the state holds each event once');

    // Once more behind the state, now after the firing: the checkpoint names the 8th record, so the restart reads the
    // 9th and the 10th again. The 10th completed the brute force: it gives the same alert again (same id, same
    // content: at least once, like its own alert), not a second brute force, and counts nothing twice.
    const cp2 = JSON.parse(readFileSync(cpFile, 'utf8')) as { shards: Record<string, { sequenceNumber: string }> };
    cp2.shards[sixth.shardId]!.sequenceNumber = restPuts[1]!.sequenceNumber;
    writeFileSync(cpFile, JSON.stringify(cp2));
    const third = new DasguardProcess(args, env);
    try {
      await waitFor(() => byRule(alertsIn(third.stdout), EACH_FAILURE).length >= 2 && correlationAlerts(alertsIn(third.stdout)).length >= 1, 'records 9 and 10 read again', 60_000);
    } finally {
      third.proc.kill('SIGINT');
    }
    assert.equal(await third.exit(), 0, third.stderr);
    assert.deepEqual(byRule(alertsIn(third.stdout), EACH_FAILURE).map((a) => a.id), baseIds.slice(8));
    assert.deepEqual(correlationAlerts(alertsIn(third.stdout)), fired, 'the same brute force alert again');
    assert.equal(stateEntries(stateDir, stream, 'brute-force', host), 10, 'still each event once');
  });

  test("2 shards read concurrently, a group's events split across both: each event counts once and a burst within one window fires once", async () => {
    // Per host, every other record goes to the other shard (each putRecords call starts at the first shard).
    const exact = burst('192.0.2.10', 10, { every: 2 }); // exactly gte: every event contributes
    const spray = burst('192.0.2.20', 5, { every: 20, users: ['alice', 'bob', 'carol', 'dave', 'erin'] }); // exactly 5 users
    const more = burst('192.0.2.30', 16, { every: 1 }); // more than gte within one window: one alert, which 10 depends on the order
    const groups = [exact, spray, more];
    const data = await Promise.all(groups.map((g) => failedLoginRecords(g)));
    const replayed = correlationAlerts(await replayAlerts(data.flat(), RULES));

    const stream = await newStream(2);
    const puts: PutResult[] = [];
    for (const d of data) puts.push(...(await putRecords(client, stream, d, { spread: 2 })));
    assert.equal(new Set(puts.map((p) => p.shardId)).size, 2, 'the records are on both shards');
    const { alerts } = await runUntilRead(stream, puts, { alerts: puts.length + replayed.length, outbox: true });
    const fromRun = correlationAlerts(alerts);

    // Both shards' records went through the one correlation state (each hand-off waits for the outbox's fsync, so the
    // shards' hand-offs overlap), none failed or was lost.
    assert.equal(byRule(alerts, EACH_FAILURE).length, exact.length + spray.length + more.length);
    // Each group's count is reached once in any interleaving of the shards: one alert per group, as replay.
    assert.deepEqual(fromRun.map((a) => `${a.ruleId} ${JSON.stringify(correlationSummary(a).group)}`).sort(), replayed.map((a) => `${a.ruleId} ${JSON.stringify(correlationSummary(a).group)}`).sort());
    // A group that fired on ALL its events: the same alert id, counts and times whatever the order.
    for (const host of ['192.0.2.10', '192.0.2.20']) {
      assert.deepEqual(byHost(fromRun, host).map(correlationSummary), byHost(replayed, host).map(correlationSummary), host);
    }
    // More than gte: the count that fired is gte, the group the same; which events (so the id) follow the shards' order.
    const [m] = byHost(fromRun, '192.0.2.30');
    assert.deepEqual([correlationSummary(m!).value, correlationSummary(m!).events, correlationSummary(m!).group], [10, 10, { clusterId: RESOURCE_ID, remoteHost: '192.0.2.30' }]);
  });
});
