/**
 * The Lambda handler, fed Kinesis events built from the encrypted sample streams, decrypting through the
 * loopback KMS with the real KMS client (AWS_ENDPOINT_URL_KMS).
 */
import { kinesisRecord } from '../support/lambdaEvent.js';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { decodeRecord } from '../../src/codec/decode.js';
import { encodeRecord } from '../../src/codec/encode.js';
import { ConfigError } from '../../src/errors.js';
import { KmsKeyProvider } from '../../src/keys/KmsKeyProvider.js';
import { LocalKeyProvider } from '../../src/keys/LocalKeyProvider.js';
import {
  createEnvHandler,
  createHandler,
  handler,
  type KinesisStreamEvent,
  type KinesisStreamRecord,
  type LogEntry,
} from '../../src/lambda.js';
import type { Alert } from '../../src/pipeline/alert.js';
import { loadRules, type RuleSet } from '../../src/rules/index.js';
import { jsonLines } from '../support/cli.js';
import { checkEmf } from '../support/emf.js';
import { LOOPBACK_AWS_ENV } from '../support/env.js';
import { startKmsServer, type KmsServer } from '../support/kmsServer.js';
import { MYSQL, PG } from '../../scripts/sampleData.js';

const KEY = 'samples/demo-master-key.json';
const PG_STREAM = `samples/streams/aws-rds-das-${PG.clusterId}.jsonl`;
const MY_STREAM = `samples/streams/aws-rds-das-${MYSQL.clusterId}.jsonl`;
const keys = LocalKeyProvider.fromFile(KEY);

let kms: KmsServer;
let rules: RuleSet;
const savedEnv: Record<string, string | undefined> = {};

interface StreamLine {
  StreamName: string;
  ShardId: string;
  SequenceNumber: string;
  PartitionKey: string;
  ApproximateArrivalTimestamp: number;
  Data: string;
}

/** Lambda's Kinesis records for the lines of a sample stream file (get-records JSON Lines). */
async function kinesisRecords(file: string): Promise<KinesisStreamRecord[]> {
  const lines = jsonLines(await readFile(file, 'utf8')) as unknown as StreamLine[];
  return lines.map((l) => kinesisRecord(l.StreamName, l.ShardId, l.SequenceNumber, l.Data, { partitionKey: l.PartitionKey }));
}

/** Alerts and log lines a handler wrote. */
function sink() {
  const alerts: Alert[] = [];
  const logs: LogEntry[] = [];
  return {
    alerts,
    logs,
    handoff: {
      handOff: async (a: readonly Alert[]) => void alerts.push(...a),
      close: async () => undefined,
    },
    log: (e: LogEntry) => void logs.push(e),
  };
}

/** A writable collecting JSON lines. */
function lineStream(): { stream: PassThrough; lines: () => Record<string, unknown>[] } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return { stream, lines: () => jsonLines(Buffer.concat(chunks).toString('utf8')) };
}

function withoutSource(alerts: readonly object[]): Record<string, unknown>[] {
  return alerts.map((a) => {
    const { source: _s, ...rest } = a as Record<string, unknown>;
    return rest;
  });
}

/**
 * Replay's alerts for a sample stream: the reviewed golden file, which test/e2e/cli.test.ts holds equal to
 * `dasguard replay <stream> --key-file ... --output jsonl` (minus `source`, which names the file line there).
 */
async function replayAlerts(file: string): Promise<Record<string, unknown>[]> {
  const name = file === PG_STREAM ? 'postgresql' : file === MY_STREAM ? 'mysql' : undefined;
  assert.ok(name, file);
  return jsonLines(await readFile(`samples/expected/${name}-alerts.jsonl`, 'utf8'));
}

describe('Lambda handler (Kinesis event source mapping)', () => {
  before(async () => {
    kms = await startKmsServer({ keys });
    const env: Record<string, string | undefined> = {
      AWS_ENDPOINT_URL_KMS: kms.url,
      ...LOOPBACK_AWS_ENV,
      DASGUARD_RULES: undefined,
      DASGUARD_RESOURCE_ID: undefined,
    };
    for (const [k, v] of Object.entries(env)) {
      savedEnv[k] = process.env[k];
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    const loaded = await loadRules(['rules']);
    assert.ok(loaded.ruleSet);
    rules = loaded.ruleSet;
  });
  after(async () => {
    for (const [k, v] of Object.entries(savedEnv)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    await kms.close();
  });

  it('gives the same alerts as replay for the same records, with shard and sequence number as source', async () => {
    for (const file of [PG_STREAM, MY_STREAM]) {
      const out = lineStream();
      const logOut = lineStream();
      const h = createEnvHandler({ env: { DASGUARD_RULES: 'rules' }, stdout: out.stream, logOut: logOut.stream });
      const records = await kinesisRecords(file);
      const callsBefore = kms.calls;
      const res = await h({ Records: records }, { awsRequestId: 'req-1' });
      assert.deepEqual(res, { batchItemFailures: [] });

      const alerts = out.lines();
      const expected = await replayAlerts(file);
      assert.ok(expected.length > 0);
      assert.deepEqual(withoutSource(alerts), withoutSource(expected), file);
      const first = records[0]!.kinesis.sequenceNumber;
      assert.ok(alerts.every((a) => /^aws-rds-das-cluster-\S+ shard shardId-000000000000 sequence \d+$/.test(String(a.source))));
      assert.ok(alerts.some((a) => String(a.source).includes('sequence')), first);

      const summary = logOut.lines().find((l) => l.msg === 'batch')!;
      assert.equal(summary.records, records.length);
      assert.equal(summary.processed, records.length);
      assert.equal(summary.alerts, expected.length);
      assert.equal(summary.quarantinedRecords, 0);
      assert.equal(summary.requestId, 'req-1');
      assert.ok((summary.events as number) > 0);
      assert.ok((summary.heartbeats as number) > 0);
      // one KMS call per record: every sample record has its own data key
      assert.equal(summary.kmsCalls, records.length);
      assert.equal(kms.calls - callsBefore, records.length);
    }
  });

  it('one CloudWatch EMF line per invocation (the batch summary): namespace dasguard, by FunctionName, the invocation\'s counts', async () => {
    const out = lineStream();
    const logOut = lineStream();
    const h = createEnvHandler({ env: { DASGUARD_RULES: 'rules' }, stdout: out.stream, logOut: logOut.stream });
    const records = await kinesisRecords(PG_STREAM);
    const callsBefore = kms.calls;
    await h({ Records: records }, { awsRequestId: 'req-emf', functionName: 'dasguard-orders' });
    const kmsCalls = kms.calls - callsBefore;
    await h({ Records: records.slice(0, 2) }, { awsRequestId: 'req-emf-2', functionName: 'dasguard-orders' });

    const emf = logOut.lines().filter((l) => '_aws' in l);
    assert.equal(emf.length, 2, 'one EMF line per invocation');
    assert.equal(emf[0]!.msg, 'batch');
    const m = checkEmf(emf[0]!);
    assert.equal(m.namespace, 'dasguard');
    assert.deepEqual(m.dimensions, [['FunctionName']]);
    assert.equal(emf[0]!.FunctionName, 'dasguard-orders');
    assert.equal(m.values.records, records.length);
    assert.equal(m.values.processed, records.length);
    assert.ok(m.values.events! > 0 && m.values.heartbeats! > 0);
    assert.equal(m.values.alerts, (await replayAlerts(PG_STREAM)).length);
    assert.equal(m.values.quarantined, 0);
    assert.equal(m.values.kmsCalls, kmsCalls, 'the KMS calls the loopback KMS saw');
    // every sample record has its own data key: all misses, then the second invocation's records hit the cache
    assert.equal(m.values.keyCacheMisses, records.length);
    assert.equal(m.values.keyCacheHits, 0);
    assert.equal(m.values.failed, 0);
    assert.ok(Object.values(m.units).every((u) => u === 'Count'));
    assert.equal(m.values.deliveries, undefined, 'no delivery metrics without delivery');
    const second = checkEmf(emf[1]!);
    assert.equal(second.values.records, 2);
    assert.equal(second.values.kmsCalls, 0);
    assert.equal(second.values.keyCacheHits, 2);
  });

  it('quarantines poison records without failing them; a transient failure reports its record and stops', async () => {
    const records = await kinesisRecords(PG_STREAM);
    const stream = records[0]!.eventSourceARN.split('/')[1]!;
    const notJson = kinesisRecord(stream, 'shardId-000000000000', '49630000000000000000000000000000000000000000000001500001', Buffer.from('{"type": not json').toString('base64'));
    // Encrypted for another cluster: KMS refuses the data key under this stream's encryption context.
    const foreign = await encodeRecord(
      { clusterId: 'cluster-OTHERCLUSTER000000000000', instanceId: 'db-X', databaseActivityEventList: [] },
      { resourceId: 'cluster-OTHERCLUSTER000000000000', version: '1.1', wrapper: keys },
    );
    const wrongKey = kinesisRecord(stream, 'shardId-000000000000', '49630000000000000000000000000000000000000000000001500002', Buffer.from(foreign).toString('base64'));
    const notBase64 = kinesisRecord(stream, 'shardId-000000000000', '49630000000000000000000000000000000000000000000001500003', '@@not base64@@');
    const batch = [records[0]!, records[1]!, notJson, notBase64, records[2]!, wrongKey, ...records.slice(3)];

    const s = sink();
    let decoded = 0;
    const provider = new KmsKeyProvider({ clientConfig: { maxAttempts: 2 } });
    const h = createHandler({
      rules,
      keys: provider,
      handoff: s.handoff,
      log: s.log,
      observer: {
        // After the 6th good record, KMS throttles more often than the SDK retries (maxAttempts 2).
        onBatch: () => {
          if (++decoded === 6) kms.failNext(2, 'ThrottlingException');
        },
      },
    });
    const callsBefore = kms.calls;
    const first = await h({ Records: batch });
    const failedRecord = records[6]!;
    assert.deepEqual(first, { batchItemFailures: [{ itemIdentifier: failedRecord.kinesis.sequenceNumber }] });

    const quarantined = s.logs.filter((l) => l.msg === 'quarantined');
    assert.deepEqual(
      quarantined.map((q) => [q.sequenceNumber, q.shardId, q.reason]),
      [
        [notJson.kinesis.sequenceNumber, 'shardId-000000000000', 'not-json'],
        [notBase64.kinesis.sequenceNumber, 'shardId-000000000000', 'bad-base64'],
        [wrongKey.kinesis.sequenceNumber, 'shardId-000000000000', 'key-decrypt-failed'],
      ],
    );
    const failure = s.logs.find((l) => l.level === 'error')!;
    assert.equal(failure.errorClass, 'TransientError');
    assert.equal(failure.sequenceNumber, failedRecord.kinesis.sequenceNumber);
    assert.match(String(failure.error), /ThrottlingException/);
    const summary = s.logs.find((l) => l.msg === 'batch')!;
    assert.equal(summary.records, batch.length);
    assert.equal(summary.processed, 9); // 6 good records and the 3 poison ones before the failure
    assert.equal(summary.quarantinedRecords, 3);
    assert.equal(summary.failed, 1);
    assert.equal(summary.kmsCalls, 8); // 6 good + the foreign key + the throttled one
    assert.equal(kms.calls - callsBefore, 9); // the SDK retried the throttled call once

    // Lambda retries from the reported record: everything after it is processed then, nothing is lost.
    const retryFrom = batch.indexOf(failedRecord);
    const second = await h({ Records: batch.slice(retryFrom) });
    assert.deepEqual(second, { batchItemFailures: [] });
    assert.deepEqual(withoutSource(s.alerts), withoutSource(await replayAlerts(PG_STREAM)));
  });

  it('a record that is not a Lambda Kinesis record (no kinesis.data, a malformed eventID or eventSourceARN) is quarantined, never reported for retry', async () => {
    const records = await kinesisRecords(PG_STREAM);
    const stream = records[0]!.eventSourceARN.split('/')[1]!;
    const seq = (n: number) => `4963000000000000000000000000000000000000000000000160000${n}`;
    const good = (n: number) => kinesisRecord(stream, 'shardId-000000000000', seq(n), records[0]!.kinesis.data);
    const { data: _d, ...withoutData } = good(1).kinesis;
    const noData = { ...good(1), kinesis: withoutData } as unknown as KinesisStreamRecord;
    const badEventId = { ...good(2), eventID: 12345 } as unknown as KinesisStreamRecord;
    const badArn = { ...good(3), eventSourceARN: 'aws-rds-das-stream' };
    const batch = [records[0]!, noData, records[1]!, badEventId, records[2]!, badArn, ...records.slice(3)];

    const out = lineStream();
    const logOut = lineStream();
    // The handler of dist/lambda.handler, with the sample key file instead of KMS.
    const h = createEnvHandler({ env: { DASGUARD_RULES: 'rules' }, keys, stdout: out.stream, logOut: logOut.stream });
    assert.deepEqual(await h({ Records: batch }), { batchItemFailures: [] }, 'one bad record must not block the shard');
    // Every good record was processed, in order, the bad ones between them notwithstanding.
    assert.deepEqual(withoutSource(out.lines()), withoutSource(await replayAlerts(PG_STREAM)));
    const logs = logOut.lines();
    assert.deepEqual(
      logs.filter((l) => l.msg === 'quarantined').map((q) => [q.level, q.stream, q.shardId, q.sequenceNumber, q.reason, q.message]),
      [
        ['warn', stream, 'shardId-000000000000', seq(1), 'bad-envelope', 'the Lambda Kinesis record has no "kinesis.data" string'],
        ['warn', stream, undefined, seq(2), 'bad-envelope', 'the Lambda Kinesis record has an "eventID" that is not <shard id>:<sequence number> (12345)'],
        ['warn', 'lambda', 'shardId-000000000000', seq(3), 'bad-envelope', 'the Lambda Kinesis record has an "eventSourceARN" that is not a Kinesis stream ARN ("aws-rds-das-stream")'],
      ],
    );
    assert.equal(logs.filter((l) => l.level === 'error').length, 0);
    const summary = logs.find((l) => l.msg === 'batch')!;
    assert.equal(summary.records, batch.length);
    assert.equal(summary.processed, batch.length);
    assert.equal(summary.quarantinedRecords, 3);
    assert.equal(summary.failed, 0);
    await h.close();
  });

  it('a configuration error (KMS access denied) reports the record and logs it loudly', async () => {
    const records = await kinesisRecords(MY_STREAM);
    const s = sink();
    const h = createHandler({ rules, keys: new KmsKeyProvider({ clientConfig: { maxAttempts: 1 } }), handoff: s.handoff, log: s.log });
    kms.failNext(1, 'AccessDeniedException');
    const res = await h({ Records: records.slice(0, 3) });
    assert.deepEqual(res, { batchItemFailures: [{ itemIdentifier: records[0]!.kinesis.sequenceNumber }] });
    const failure = s.logs.find((l) => l.level === 'error')!;
    assert.equal(failure.errorClass, 'DataKeyError');
    assert.match(failure.msg, /CONFIGURATION ERROR: no data key has decrypted/);
    assert.equal(failure.problem, 'never-decrypted');
    assert.match(String(failure.error), /kms:Decrypt/);
    assert.equal(s.alerts.length, 0);
  });

  it('a damaged data key in the first record of a fresh container: the rest of the batch proves the key, that record is quarantined', async () => {
    const records = await kinesisRecords(MY_STREAM);
    const first = records[0]!;
    const env = JSON.parse(Buffer.from(first.kinesis.data, 'base64').toString()) as { key: string };
    const key = Buffer.from(env.key, 'base64');
    key[key.length - 1]! ^= 1;
    env.key = key.toString('base64');
    const damaged = { ...first, kinesis: { ...first.kinesis, data: Buffer.from(JSON.stringify(env)).toString('base64') } };
    const s = sink();
    const h = createHandler({ rules, keys: new KmsKeyProvider({ clientConfig: { maxAttempts: 1 } }), handoff: s.handoff, log: s.log });
    assert.deepEqual(await h({ Records: [damaged, ...records.slice(1)] }), { batchItemFailures: [] });
    const q = s.logs.filter((l) => l.msg === 'quarantined');
    assert.deepEqual(q.map((l) => [l.sequenceNumber, l.reason]), [[first.kinesis.sequenceNumber, 'key-decrypt-failed']]);
  });

  it('a data key refused after others decrypted (key disabled, access revoked) is reported, and the log says which case', async () => {
    const s = sink();
    const h = createHandler({ rules, keys: new KmsKeyProvider({ clientConfig: { maxAttempts: 1 } }), handoff: s.handoff, log: s.log });
    const record = { clusterId: PG.clusterId, instanceId: PG.instanceId, databaseActivityEventList: [{ type: 'record', serverType: 'PostgreSQL', command: 'SELECT' }] };
    // A fresh data key per record: each one asks KMS.
    const data = await Promise.all([0, 1].map(() => encodeRecord(record, { resourceId: PG.clusterId, version: PG.version, wrapper: keys })));
    const [a, b] = data.map((d, i) => kinesisRecord(`aws-rds-das-${PG.clusterId}`, 'shardId-000000000000', String(100 + i), Buffer.from(d).toString('base64')));
    assert.deepEqual(await h({ Records: [a!] }), { batchItemFailures: [] });
    kms.failNext(1, 'DisabledException');
    assert.deepEqual(await h({ Records: [b!] }), { batchItemFailures: [{ itemIdentifier: '101' }] });
    const failure = s.logs.find((l) => l.level === 'error')!;
    assert.equal(failure.problem, 'stopped-decrypting');
    assert.match(failure.msg, /DATA KEY FAILURE: data keys decrypted .* before/);
    assert.match(String(failure.error), /DisabledException/);
  });

  it('takes the resource id from DASGUARD_RESOURCE_ID when the stream is not named after it', async () => {
    const [r] = await kinesisRecords(PG_STREAM);
    const renamed = { ...r!, eventSourceARN: 'arn:aws:kinesis:us-east-1:111122223333:stream/audit-copy' };

    const s1 = sink();
    const without = createHandler({ rules, keys: new KmsKeyProvider({ clientConfig: { maxAttempts: 1 } }), handoff: s1.handoff, log: s1.log });
    assert.deepEqual(await without({ Records: [renamed] }), { batchItemFailures: [{ itemIdentifier: renamed.kinesis.sequenceNumber }] });
    assert.match(String(s1.logs.find((l) => l.level === 'error')!.error), /DASGUARD_RESOURCE_ID/);

    const out = lineStream();
    const logOut = lineStream();
    const withEnv = createEnvHandler({
      env: { DASGUARD_RULES: 'rules', DASGUARD_RESOURCE_ID: PG.clusterId },
      stdout: out.stream,
      logOut: logOut.stream,
    });
    assert.deepEqual(await withEnv({ Records: [renamed] }), { batchItemFailures: [] });
    const summary = logOut.lines().find((l) => l.msg === 'batch')!;
    assert.equal(summary.processed, 1);
    assert.equal(summary.quarantinedRecords, 0);
    assert.ok((summary.events as number) + (summary.heartbeats as number) > 0);
  });

  it('loads rules once per container: later invocations reuse them (and the data-key cache)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dasguard-lambda-'));
    try {
      await cp('rules', dir, { recursive: true });
      const out = lineStream();
      const logOut = lineStream();
      const h = createEnvHandler({ env: { DASGUARD_RULES: dir }, stdout: out.stream, logOut: logOut.stream });
      const records = await kinesisRecords(PG_STREAM);
      await h({ Records: records });
      const firstAlerts = out.lines().length;
      assert.ok(firstAlerts > 0);
      // Breaking the files now changes nothing for this container: they were read once.
      await writeFile(join(dir, 'auth.yaml'), 'rules: [ {id: broken\n');
      const callsBefore = kms.calls;
      assert.deepEqual(await h({ Records: records }), { batchItemFailures: [] });
      // The same alerts again, the correlations' included, with the same ids and content: the container's
      // correlation state already counted these events (the same event twice counts once), and the event that
      // completed a firing gives that firing again (at least once, as every other alert).
      const correlations = out.lines().slice(0, firstAlerts).filter((l) => (l.event as { correlation?: unknown }).correlation !== undefined).length;
      assert.ok(correlations > 0, 'the sample fires correlations');
      assert.deepEqual(out.lines().slice(firstAlerts), out.lines().slice(0, firstAlerts));
      assert.equal(logOut.lines().filter((l) => l.msg === 'init').length, 1);
      // Same records again: every data key comes from the container's cache.
      assert.equal(kms.calls, callsBefore);
      const summaries = logOut.lines().filter((l) => l.msg === 'batch');
      assert.equal(summaries[1]!.kmsCalls, 0);
      assert.equal(summaries[1]!.keyCacheHits, records.length);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a wrong environment: the problem of every variable and of the rules in one failure; a misspelt DASGUARD_ variable is a warning', async () => {
    const logOut = lineStream();
    const h = createEnvHandler({
      env: { DASGUARD_RULES: '/nonexistent-rules', DASGUARD_REDACTION: 'bogus', DASGUARD_RESOURCE_ID: 'prod-cluster', DASGUARD_REDACTON: 'full' },
      stdout: new PassThrough(),
      logOut: logOut.stream,
    });
    await assert.rejects(h({ Records: [] }), (err: unknown) => {
      assert.ok(err instanceof ConfigError, String(err));
      assert.match(err.message, /DASGUARD_REDACTION: "bogus" is not one of none, literals, full/);
      assert.match(err.message, /DASGUARD_RESOURCE_ID: expected a DAS resource id/);
      assert.match(err.message, /nonexistent-rules/, 'the rules were tried too');
      // Each headline is built in one place (src/config/lambdaEnv.ts, src/rules/load.ts), shared with the CLI.
      const heads = err.message.split('\n').filter((l) => l.startsWith('dasguard: '));
      assert.deepEqual(heads, [
        'dasguard: invalid Lambda environment (2 problems); nothing was evaluated:',
        'dasguard: 1 problem in the rule files (/nonexistent-rules); nothing was evaluated:',
      ]);
      return true;
    });
    const warning = logOut.lines().find((l) => l.msg === 'environment warning');
    assert.match(String(warning?.problem), /DASGUARD_REDACTON: .*did you mean 'DASGUARD_REDACTION'/);
  });

  it('invalid rules: the invocation throws with every problem; fixed files load on the next one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dasguard-lambda-'));
    try {
      await writeFile(
        join(dir, 'bad.yaml'),
        [
          'rules:',
          '  - id: no-severity',
          '    description: missing severity',
          '    when: {dbUserName: alice}',
          '    message: x',
          '  - id: bad-severity',
          '    description: unknown severity',
          '    severity: urgent',
          '    when: {dbUserName: bob}',
          '    message: y',
          '',
        ].join('\n'),
      );
      const logOut = lineStream();
      const h = createEnvHandler({ env: { DASGUARD_RULES: dir }, stdout: new PassThrough(), logOut: logOut.stream });
      await assert.rejects(h({ Records: [] }), (err: unknown) => {
        assert.ok(err instanceof ConfigError, String(err));
        assert.match(err.message, /bad\.yaml:\d+ no-severity/);
        assert.match(err.message, /bad\.yaml:\d+ bad-severity/);
        return true;
      });
      assert.equal(logOut.lines().find((l) => l.msg === 'invalid rules')?.level, 'error');

      await writeFile(
        join(dir, 'bad.yaml'),
        'rules:\n  - id: fixed\n    description: d\n    severity: low\n    when: {dbUserName: alice}\n    message: x\n',
      );
      assert.deepEqual(await h({ Records: [] }), { batchItemFailures: [] });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('never logs decrypted data', async () => {
    const records = await kinesisRecords(PG_STREAM);
    const s = sink();
    const h = createHandler({ rules, keys: new KmsKeyProvider(), handoff: s.handoff, log: s.log });
    // A record whose decrypted payload is not JSON: the parser's message would quote it.
    const secret = 'SECRET-PAYLOAD-4111111111111111';
    const bad = await encodeNotJson(secret);
    const stream = records[0]!.eventSourceARN.split('/')[1]!;
    await h({ Records: [...records, kinesisRecord(stream, 'shardId-000000000000', '49630000000000000000000000000000000000000000000009999999', bad)] });
    const logText = JSON.stringify(s.logs);
    assert.ok(s.logs.some((l) => l.reason === 'payload-not-json'));
    assert.doesNotMatch(logText, /SECRET/);
    // The plaintext the records carry (decrypted here with the master key), not the alerts' SQL, which is
    // already redacted: a log line quoting a decrypted statement would hold it verbatim.
    const plaintext: string[] = [];
    for (const r of records) {
      const batch = await decodeRecord(Buffer.from(r.kinesis.data, 'base64'), { keys, resourceId: PG.clusterId });
      for (const e of batch.events) if (typeof e.commandText === 'string' && e.commandText.length > 12) plaintext.push(e.commandText);
    }
    const alerted = new Set(s.alerts.map((a) => (a.event as { commandText?: unknown }).commandText));
    assert.ok(plaintext.some((sql) => !alerted.has(sql)), 'some statements hold literals the alerts redact');
    for (const sql of plaintext) assert.ok(!logText.includes(sql), `the log holds decrypted SQL: ${sql}`);
  });

  it('the exported handler runs on the bundled rules and the standard environment', async () => {
    const written: string[] = [];
    const original = process.stdout.write.bind(process.stdout);
    // Only the handler's JSON lines are kept; anything else (the test runner's own output) passes through.
    process.stdout.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
      if (typeof chunk === 'string' && chunk.startsWith('{"level"') && chunk.includes('"service":"dasguard"')) {
        written.push(chunk);
        return true;
      }
      return original(chunk, ...rest);
    }) as typeof process.stdout.write;
    let res: unknown;
    try {
      res = await handler({ Records: [] } satisfies KinesisStreamEvent);
    } finally {
      process.stdout.write = original;
    }
    assert.deepEqual(res, { batchItemFailures: [] });
    const lines = jsonLines(written.join(''));
    const init = lines.find((l) => l.msg === 'init')!;
    assert.ok((init.rules as number) >= 10);
    assert.ok((init.ruleFiles as string[]).some((f) => f.endsWith('auth.yaml')));
    assert.equal(lines.find((l) => l.msg === 'batch')!.records, 0);
  });
});

/** An envelope whose payload decrypts and gunzips fine but is not JSON. */
async function encodeNotJson(text: string): Promise<string> {
  const { gzipSync } = await import('node:zlib');
  const { randomFillSync } = await import('node:crypto');
  const { encryptPayload } = await import('../../src/codec/payload.js');
  const { encryptionContextFor } = await import('../../src/keys/KeyProvider.js');
  const dataKey = randomFillSync(new Uint8Array(32));
  const message = await encryptPayload(gzipSync(`{"type": ${text}`), dataKey);
  const wrapped = keys.wrapDataKey(new Uint8Array(dataKey), encryptionContextFor(PG.clusterId));
  const envelope = {
    type: 'DatabaseActivityMonitoringRecords',
    version: '1.1',
    databaseActivityEvents: Buffer.from(message).toString('base64'),
    key: Buffer.from(wrapped).toString('base64'),
  };
  return Buffer.from(JSON.stringify(envelope)).toString('base64');
}
