/**
 * `dasguard run` as users run it: in-process with the standard AWS configuration pointed at loopback services
 * (kinesalite, the loopback KMS and RDS), and as a child process killed with SIGKILL or stopped with SIGINT.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import { runCommand, type RunOptions } from '../../src/commands/run.js';
import { DataKeyError, exitCodeOf } from '../../src/errors.js';
import { LocalKeyProvider } from '../../src/keys/LocalKeyProvider.js';
import { DasguardProcess } from '../support/child.js';
import { capturedIo, jsonLines, plainErrors, runCli } from '../support/cli.js';
import { startKmsServer, type KmsServer } from '../support/kmsServer.js';
import { clusterModel, startRdsServer, type RdsServer } from '../support/rdsServer.js';
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
  readToLatest,
  waitFor,
  type Kinesalite,
} from '../support/kinesis.js';

let kinesalite: Kinesalite;
let kms: KmsServer;
let rds: RdsServer;
let client: KinesisClient;
let rules: string;
let env: NodeJS.ProcessEnv;
let streamNo = 0;
const STREAM = `aws-rds-das-${RESOURCE_ID}`;

before(async () => {
  kinesalite = await startKinesalite();
  kms = await startKmsServer({ keys: LocalKeyProvider.fromFile(KEY_FILE) });
  rds = await startRdsServer({
    clusters: [
      clusterModel({ identifier: 'demo', resourceId: RESOURCE_ID, activityStream: { status: 'started', streamName: STREAM } }),
      clusterModel({ identifier: 'quiet', activityStream: { status: 'stopped' } }),
    ],
  });
  client = kinesisClient(kinesalite.url);
  rules = everyEventRules();
  env = loopbackEnv({ kinesis: kinesalite.url, kms: kms.url, rds: rds.url });
  // In-process runs build their clients from the standard configuration, as a user's shell would give it.
  Object.assign(process.env, env);
  await createStream(client, STREAM, 2);
});

after(async () => {
  client.destroy();
  await Promise.all([kinesalite.close(), kms.close(), rds.close()]);
});

async function newStream(shards: number): Promise<string> {
  const name = `aws-rds-das-${RESOURCE_ID}-r${++streamNo}`;
  await createStream(client, name, shards);
  return name;
}

describe('dasguard run, in process', () => {
  test('--cluster: finds the stream with DescribeDBClusters, decrypts through KMS, alerts like replay, stops on abort', async () => {
    const data = await encryptedRecords(30, 2, 101);
    await putRecords(client, STREAM, data);
    const expected = await replayAlertIds(data, [rules]);
    const c = capturedIo();
    const ac = new AbortController();
    const dir = tempDir();
    const opts: RunOptions = {
      cluster: 'demo',
      rules: [rules],
      output: 'jsonl',
      redaction: 'literals',
      from: 'trim-horizon',
      checkpointDir: dir,
      stateDir: `${dir}-state`,
      pollIntervalMs: 50,
      statusIntervalMs: 100,
      discoveryIntervalMs: 1000,
      concurrency: 8,
    };
    const kmsBefore = kms.calls;
    const code = runCommand(opts, c.io, { signal: ac.signal });
    await waitFor(() => jsonLines(c.stdout()).length >= expected.length, 'all alerts');
    // a status line comes every statusIntervalMs: wait for one (the alerts can all be out before the first)
    await waitFor(() => jsonLines(c.stderr()).some((l) => l.msg === 'status'), 'a status line');
    ac.abort();
    assert.equal(await code, 0);
    assert.deepEqual(jsonLines(c.stdout()).map((a) => a.id).sort(), expected);
    // the activity events name the cluster by resource id only: the alerts carry the name DescribeDBClusters gave
    assert.ok(jsonLines(c.stdout()).every((a) => JSON.stringify(a.cluster) === JSON.stringify({ name: 'demo', resourceId: RESOURCE_ID })), c.stdout());
    assert.ok(kms.calls - kmsBefore >= 1, 'data keys came from the loopback KMS');
    const logs = jsonLines(c.stderr());
    const status = logs.find((l) => l.msg === 'status');
    assert.ok(status, 'status lines on stderr');
    assert.ok(Array.isArray(status.shards));
    const stopped = logs.find((l) => l.msg === 'stopped');
    assert.equal(stopped?.records, data.length);
    assert.ok(existsSync(join(dir, `${STREAM}.json`)));
  });

  test('a wrong --resource-id: exit 2 naming the context tried and --resource-id; the checkpoint does not pass the first record', async () => {
    const stream = await newStream(1);
    const puts = await putRecords(client, stream, await encryptedRecords(10, 1, 131), { spread: 1 });
    const dir = tempDir();
    const c = capturedIo();
    const ac = new AbortController();
    const opts: RunOptions = {
      stream,
      resourceId: 'cluster-WRONGWRONGWRONG',
      rules: [rules],
      output: 'jsonl',
      redaction: 'literals',
      from: 'trim-horizon',
      checkpointDir: dir,
      stateDir: `${dir}-state`,
      pollIntervalMs: 50,
      statusIntervalMs: 1000,
      discoveryIntervalMs: 1000,
      concurrency: 8,
    };
    let settled = false;
    const run = runCommand(opts, c.io, { signal: ac.signal });
    run.then(() => (settled = true), () => (settled = true));
    // (Before the fix every record was quarantined and run went on: stop it once it says so.)
    await waitFor(() => settled || c.stderr().includes('"msg":"quarantined"'), 'run to stop');
    ac.abort();
    await assert.rejects(run, (e: unknown) => {
      assert.ok(e instanceof DataKeyError, String(e));
      assert.equal(exitCodeOf(e), 2);
      assert.match(e.message, /aws:rds:dbc-id.*cluster-WRONGWRONGWRONG.*--resource-id/);
      assert.ok(e.message.includes(puts[0]!.sequenceNumber), 'names the first record');
      return true;
    });
    assert.doesNotMatch(c.stderr(), /"msg":"quarantined"/);
    const file = join(dir, `${stream}.json`);
    const shards = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { shards: Record<string, { sequenceNumber?: string }> }).shards : {};
    assert.equal(shards[puts[0]!.shardId]?.sequenceNumber, undefined, 'no checkpoint past the records that failed');
  });

  test('a cluster whose stream is not started, or that does not exist: exit 2 with a clear message', async () => {
    const quiet = await runCli(['run', '--cluster', 'quiet', '--key-file', KEY_FILE, '--rules', rules, '--checkpoint-dir', tempDir(), '--state-dir', tempDir()]);
    assert.equal(quiet.code, 2);
    assert.match(plainErrors(quiet.stderr), /activity stream of cluster "quiet" is stopped.*not started/);
    const missing = await runCli(['run', '--cluster', 'nope', '--key-file', KEY_FILE, '--rules', rules, '--checkpoint-dir', tempDir(), '--state-dir', tempDir()]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /nope/);
  });

  test('a corrupt checkpoint file: exit 2 naming it, the file left as it was', async () => {
    const dir = tempDir();
    const file = join(dir, `${STREAM}.json`);
    writeFileSync(file, '{"version": 1, "shards": ');
    const res = await runCli(['run', '--stream', STREAM, '--key-file', KEY_FILE, '--rules', rules, '--checkpoint-dir', dir, '--state-dir', `${dir}-state`]);
    assert.equal(res.code, 2);
    assert.ok(res.stderr.includes(file), res.stderr);
    assert.match(res.stderr, /corrupt/);
    assert.equal(readFileSync(file, 'utf8'), '{"version": 1, "shards": ');
  });

  test('usage errors: neither or both of --cluster and --stream, a bad --from or duration', async () => {
    assert.equal((await runCli(['run'])).code, 2);
    assert.equal((await runCli(['run', '--cluster', 'a', '--stream', 'b'])).code, 2);
    const from = await runCli(['run', '--stream', STREAM, '--from', 'yesterday', '--key-file', KEY_FILE, '--rules', rules]);
    assert.equal(from.code, 2);
    assert.match(from.stderr, /--from must be latest, trim-horizon or an ISO 8601 time/);
    assert.equal((await runCli(['run', '--stream', STREAM, '--poll-interval', 'soon'])).code, 2);
  });
});

/** `dasguard run` in a child process, with the loopback environment. */
class Child extends DasguardProcess {
  constructor(args: string[]) {
    super(args, env);
  }
}

function runArgs(stream: string, dir: string): string[] {
  // Test streams carry a suffix after the resource id: name the resource id.
  return ['run', '--stream', stream, '--resource-id', RESOURCE_ID, '--from', 'trim-horizon', '--rules', rules, '--output', 'jsonl', '--checkpoint-dir', dir, '--state-dir', `${dir}-state`, '--poll-interval', '100ms', '--status-interval', '1s'];
}

describe('dasguard run, as a process', () => {
  test('SIGKILL mid-stream, then a restart: every event evaluated at least once, none skipped', async () => {
    const stream = await newStream(2);
    const data = await encryptedRecords(1200, 1, 111);
    await putRecords(client, stream, data);
    const expected = new Set(await replayAlertIds(data, [rules]));
    const dir = tempDir();
    const first = new Child(runArgs(stream, dir));
    try {
      await waitFor(() => first.alertIds().length >= 150, 'alerts from the first run', 60_000);
    } finally {
      first.proc.kill('SIGKILL');
    }
    await first.exited;
    const firstIds = first.alertIds();
    assert.ok(firstIds.length < expected.size, 'killed before the end of the stream');
    const second = new Child(runArgs(stream, dir));
    const seen = () => new Set([...firstIds, ...second.alertIds()]);
    try {
      await waitFor(() => seen().size >= expected.size, 'every alert after the restart', 60_000);
    } finally {
      second.proc.kill('SIGINT');
    }
    assert.equal(await second.exit(), 0);
    // the killed run left its lock: taken over, and said
    const tookOver = jsonLines(second.stderr).find((l) => String(l.msg).startsWith('took over the lock'));
    assert.equal(tookOver?.level, 'warn', second.stderr);
    assert.match(String(tookOver?.msg), new RegExp(`^took over the lock of the checkpoint directory ${dir}: its holder \\(pid ${first.proc.pid} on host .*\\) is not running`));
    assert.deepEqual([...seen()].sort(), [...expected].sort());
    // The restart resumed from a checkpoint, not from the start of the stream.
    assert.ok(second.alertIds().length < expected.size, 'the restart did not re-read everything');
  });

  test('a second run on the same --checkpoint-dir, or the same outbox, exits 2 naming the first; the first goes on', async () => {
    const stream = await newStream(1);
    const dir = tempDir();
    const outbox = tempDir();
    const cfg = join(tempDir(), 'dasguard.yaml');
    writeFileSync(cfg, 'sinks: {out: {type: console, format: jsonl}}\nroutes: [{name: all, sinks: [out], default: true}]\n');
    const first = new Child([...runArgs(stream, dir), '--config', cfg, '--outbox-dir', outbox]);
    try {
      await waitFor(() => first.stderr.includes('"msg":"watching"'), 'the first run watching', 60_000);
      const again = await runCli(runArgs(stream, dir), { env });
      assert.equal(again.code, 2, again.stderr);
      assert.match(again.stderr, new RegExp(`the checkpoint directory ${dir} is in use by another dasguard process \\(pid ${first.proc.pid} on host \\S+, since \\d{4}-`));
      const sameOutbox = await runCli([...runArgs(stream, tempDir()), '--config', cfg, '--outbox-dir', outbox], { env });
      assert.equal(sameOutbox.code, 2, sameOutbox.stderr);
      assert.match(sameOutbox.stderr, new RegExp(`the outbox directory ${outbox} is in use by another dasguard process \\(pid ${first.proc.pid} `));
      assert.equal(again.stdout + sameOutbox.stdout, '');
    } finally {
      first.proc.kill('SIGINT');
    }
    assert.equal(await first.exit(), 0, first.stderr);
    assert.ok(!existsSync(join(dir, '.lock')) && !existsSync(join(outbox, '.lock')), 'both locks released on SIGINT');
  });

  test('SIGINT: exit 0, checkpoints written; a restart resumes after them', async () => {
    const stream = await newStream(2);
    const dir = tempDir();
    const data = await encryptedRecords(40, 2, 121);
    const puts = await putRecords(client, stream, data);
    const first = new Child(runArgs(stream, dir));
    try {
      await waitFor(() => first.alertIds().length >= data.length * 2, 'all alerts', 60_000);
    } finally {
      first.proc.kill('SIGINT');
    }
    assert.equal(await first.exit(), 0, first.stderr);
    assert.match(first.stderr, /"msg":"SIGINT: stopping/);
    const cps = JSON.parse(readFileSync(join(dir, `${stream}.json`), 'utf8')) as { shards: Record<string, { sequenceNumber: string }> };
    for (const p of puts) assert.ok(BigInt(cps.shards[p.shardId]!.sequenceNumber) >= BigInt(p.sequenceNumber));

    const more = await encryptedRecords(8, 2, 122);
    const morePuts = await putRecords(client, stream, more);
    const second = new Child(runArgs(stream, dir));
    try {
      // A status line saying every shard was read to its latest record: a wrongful re-read would have come first.
      const shardsOf = (l: Record<string, unknown>) => (l.msg === 'status' ? (l.shards as { shardId: string; sequenceNumber: string | null }[]) : []);
      await waitFor(() => second.logs().some((l) => readToLatest(shardsOf(l), morePuts)), 'a status line with every shard read to the latest record', 60_000);
    } finally {
      second.proc.kill('SIGTERM');
    }
    assert.equal(await second.exit(), 0, second.stderr);
    assert.deepEqual(second.alertIds().sort(), await replayAlertIds(more, [rules]));
  });
});
