/**
 * `dasguard run` with its health checks and alert delivery wired in, against real parts: kinesalite, the
 * loopback KMS, RDS and SNS servers, driven by the real SDK clients through AWS_ENDPOINT_URL_*.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import { runCommand, type RunOptions } from '../../src/commands/run.js';
import { testRunOptions } from '../support/runOptions.js';
import { exitCodeOf } from '../../src/errors.js';
import { LocalKeyProvider } from '../../src/keys/LocalKeyProvider.js';
import { capturedIo, jsonLines, runCli } from '../support/cli.js';
import { startKmsServer, type KmsServer } from '../support/kmsServer.js';
import { clusterModel, startRdsServer, type RdsServer } from '../support/rdsServer.js';
import { startSnsServer, type SnsServer } from '../support/snsServer.js';
import {
  KEY_FILE,
  RESOURCE_ID,
  createStream,
  encryptedRecords,
  everyEventRules,
  kinesisClient,
  loopbackEnv,
  putRecords,
  replayAlertIds,
  startKinesalite,
  tempDir,
  waitFor,
  type Kinesalite,
} from '../support/kinesis.js';

let kinesalite: Kinesalite;
let kms: KmsServer;
let rds: RdsServer;
let sns: SnsServer;
let client: KinesisClient;
let rules: string;
const saved = { ...process.env };
let n = 0;

before(async () => {
  kinesalite = await startKinesalite();
  kms = await startKmsServer({ keys: LocalKeyProvider.fromFile(KEY_FILE) });
  rds = await startRdsServer({ clusters: [clusterModel({ identifier: 'stopped-one', activityStream: { status: 'stopped' } })] });
  sns = await startSnsServer();
  client = kinesisClient(kinesalite.url);
  rules = everyEventRules();
  Object.assign(process.env, loopbackEnv({ kinesis: kinesalite.url, kms: kms.url, rds: rds.url }), { AWS_ENDPOINT_URL_SNS: sns.url });
});

after(async () => {
  process.env = saved;
  client.destroy();
  await Promise.all([kinesalite.close(), kms.close(), rds.close(), sns.close()]);
});

/** A new cluster with a started stream of its own (on kinesalite), so tests do not see each other's records. */
async function newCluster(): Promise<{ cluster: string; stream: string }> {
  const cluster = `health-${++n}`;
  const stream = `aws-rds-das-${RESOURCE_ID}-h${n}`;
  await createStream(client, stream, 1);
  rds.clusters.set(cluster, clusterModel({ identifier: cluster, resourceId: RESOURCE_ID, activityStream: { status: 'started', streamName: stream, mode: 'async' } }));
  return { cluster, stream };
}

function startRun(extra: Partial<RunOptions>) {
  const c = capturedIo();
  const ac = new AbortController();
  const opts = testRunOptions({ rules: [rules, 'rules/rds-events.yaml'], rdsEventsIntervalMs: 100, ...extra });
  const code = runCommand(opts, c.io, { signal: ac.signal });
  return { code, stop: () => ac.abort(), alerts: () => jsonLines(c.stdout()), stderr: c.stderr };
}

test('stopping the stream while run is watching raises an alert (RDS-EVENT-0180 through the das-stream-stopped rule)', async () => {
  const { cluster, stream } = await newCluster();
  const data = await encryptedRecords(5, 2, 31);
  await putRecords(client, stream, data);
  const run = startRun({ cluster });
  await waitFor(() => run.alerts().filter((a) => a.kind === 'activity').length >= 10, 'activity alerts');
  // An operator stops the stream, then someone looks at it (the loopback RDS settles the stop on a describe and
  // emits the documented event).
  const stop = await runCli(['stream', 'stop', '--cluster', cluster, '--yes', '--apply-immediately']);
  assert.equal(stop.code, 0, stop.stderr);
  await runCli(['status', '--cluster', cluster, '--output', 'json']);
  await waitFor(() => run.alerts().some((a) => a.ruleId === 'das-stream-stopped'), 'the stream-stopped alert', 15_000);
  run.stop();
  assert.equal(await run.code, 0);
  const stopped = run.alerts().find((a) => a.ruleId === 'das-stream-stopped')!;
  assert.equal(stopped.kind, 'rds-event');
  assert.equal(stopped.severity, 'critical');
  assert.match(String(stopped.message), /stopped/i);
});

test('a loss window opened and closed by RDS events: an alert, then a resolved alert with its duration', async () => {
  const { cluster } = await newCluster();
  const run = startRun({ cluster });
  const opened = new Date(Date.now() - 120_000);
  const closed = new Date(Date.now() - 30_000);
  rds.addEvent({ sourceIdentifier: cluster, message: 'Activity stream records might be lost for the DB cluster.', date: opened, eventCategories: ['notification'] });
  await waitFor(() => run.alerts().some((a) => a.ruleId === 'das-loss-window'), 'the loss-window alert');
  rds.addEvent({ sourceIdentifier: cluster, message: 'The activity stream is healthy again.', date: closed, eventCategories: ['notification'] });
  await waitFor(() => run.alerts().filter((a) => a.ruleId === 'das-loss-window').length >= 2, 'the resolved alert');
  run.stop();
  assert.equal(await run.code, 0);
  const [open, resolved] = run.alerts().filter((a) => a.ruleId === 'das-loss-window');
  assert.equal(open!.severity, 'high');
  const ev = resolved!.event as { state: string; durationMs: number };
  assert.equal(ev.state, 'resolved');
  assert.equal(ev.durationMs, closed.getTime() - opened.getTime());
  assert.notEqual(open!.id, resolved!.id);
});

test('run --loss-patterns: a loss window opened by the user\'s own pattern (as watch takes it)', async () => {
  const { cluster } = await newCluster();
  const patterns = join(tempDir('dasguard-patterns-'), 'patterns.yaml');
  await writeFile(patterns, "lossWindow:\n  open:\n    - message: 'audit trail degraded'\n");
  const run = startRun({ cluster, lossPatterns: patterns });
  rds.addEvent({ sourceIdentifier: cluster, message: 'The audit trail degraded on writer-1.', date: new Date(Date.now() - 60_000), eventCategories: ['notification'] });
  await waitFor(() => run.alerts().some((a) => a.ruleId === 'das-loss-window'), 'the loss-window alert from the custom pattern');
  run.stop();
  assert.equal(await run.code, 0);
  // the flag is read before anything starts: a mistake in the file is exit 2 at its line; without --cluster, a usage error
  await writeFile(patterns, "lossWindow:\n  open:\n    - message: '(unclosed'\n");
  const bad = await runCli(['run', '--cluster', cluster, '--loss-patterns', patterns, '--checkpoint-dir', tempDir(), '--state-dir', tempDir('dasguard-state-')]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /patterns\.yaml:3/);
  const noCluster = await runCli(['run', '--stream', 'aws-rds-das-cluster-X', '--loss-patterns', patterns]);
  assert.equal(noCluster.code, 2);
  assert.match(noCluster.stderr, /--loss-patterns needs --cluster/);
});

test('a stream that is not started when run starts: a critical health alert, then exit 2', async () => {
  const run = startRun({ cluster: 'stopped-one' });
  assert.equal(await run.code.catch(exitCodeOf), 2);
  const [alert] = run.alerts();
  assert.equal(alert?.ruleId, 'das-stream-not-started');
  assert.equal(alert?.severity, 'critical');
});

test('run --sns-topic-arn: alerts go through the outbox to SNS, exactly those replay gives, and still print on stdout (the shortcut adds a destination)', async () => {
  const { cluster, stream } = await newCluster();
  const data = await encryptedRecords(8, 2, 47);
  await putRecords(client, stream, data);
  const expected = await replayAlertIds(data, [rules]);
  const topic = 'arn:aws:sns:us-east-1:111122223333:dasguard-alerts';
  const before = sns.messages.length;
  const outbox = tempDir('dasguard-outbox-');
  const run = startRun({ cluster, rules: [rules], delivery: { snsTopicArn: topic, outboxDir: outbox } });
  const ids = () => sns.messages.slice(before).map((m) => (JSON.parse(m.message) as { id: string }).id);
  await waitFor(() => expected.every((id) => ids().includes(id)), 'every alert at SNS');
  run.stop();
  assert.equal(await run.code, 0);
  // no delivery config file: the shortcut adds SNS to the built-in stdout delivery, it does not replace it
  assert.deepEqual([...new Set(run.alerts().map((a) => a.id as string))].filter((id) => expected.includes(id)).sort(), expected);
  assert.deepEqual([...new Set(ids())].filter((id) => expected.includes(id)).sort(), expected);
  assert.match(run.stderr(), /delivery: \d+ deliveries done/);
});
