/**
 * Every machine-readable report of the record driver's counts is PipelineStats.snapshot(): the live consumer's stats,
 * `run`'s status line and the Lambda's `batch` line carry each of its fields under its name (so a new counter needs
 * no edit here or in them), and the `quarantined` log line has one shape (quarantineLogFields) in the live consumer
 * and the Lambda, with the decoder's safe message ("invalid JSON at byte N"), never the decrypted data.
 */
import assert from 'node:assert/strict';
import { randomFillSync } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { GetRecordsCommand, GetShardIteratorCommand, type KinesisClient, type _Record } from '@aws-sdk/client-kinesis';
import { runLogger } from '../../src/commands/runLogger.js';
import { ShardReader } from '../../src/consumer/ShardReader.js';
import type { ConsumerLogEntry } from '../../src/consumer/types.js';
import { DataKeyAlarm } from '../../src/health/dataKeyFailure.js';
import { encryptionContextFor } from '../../src/keys/KeyProvider.js';
import { LocalKeyProvider } from '../../src/keys/LocalKeyProvider.js';
import { encryptPayload } from '../../src/codec/payload.js';
import { createHandler } from '../../src/lambda/handler.js';
import type { LogEntry } from '../../src/lambda/logging.js';
import type { AlertHandoff } from '../../src/pipeline/AlertHandoff.js';
import { PipelineStats, type PipelineSnapshot } from '../../src/pipeline/PipelineStats.js';
import { loadRuleTexts } from '../../src/rules/index.js';
import type { KinesisStreamRecord } from '../../src/sources/lambdaEvent.js';

const STREAM = 'aws-rds-das-cluster-ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const SHARD = 'shardId-000000000000';

/** Plaintext DAS records: one with an event of an unknown type (quarantined alone) and a good one, and one not JSON. */
const RECORDS: { seq: string; data: Buffer }[] = [
  {
    seq: '1',
    data: Buffer.from(
      JSON.stringify({
        type: 'DatabaseActivityMonitoringRecord',
        clusterId: 'cluster-ABCDEFGHIJKLMNOPQRSTUVWXYZ',
        instanceId: 'db-X',
        databaseActivityEventList: [
          { type: 'record', serverType: 'PostgreSQL', command: 'QUERY', dbUserName: 'alice', commandText: 'SELECT 1' },
          { type: 'bogus' },
        ],
      }),
    ),
  },
  { seq: '2', data: Buffer.from('{"type": not json') },
];

const CLUSTER = 'cluster-ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const keys = LocalKeyProvider.generate('test-key');

/** An encrypted record whose payload decrypts and gunzips fine but is not JSON: the parser would quote SECRET. */
async function notJsonPayload(): Promise<Buffer> {
  const dataKey = randomFillSync(new Uint8Array(32));
  const message = await encryptPayload(gzipSync('{"type": SECRET-PAYLOAD-4111'), dataKey);
  const wrapped = keys.wrapDataKey(new Uint8Array(dataKey), encryptionContextFor(CLUSTER));
  const envelope = {
    type: 'DatabaseActivityMonitoringRecords',
    version: '1.1',
    databaseActivityEvents: Buffer.from(message).toString('base64'),
    key: Buffer.from(wrapped).toString('base64'),
  };
  return Buffer.from(JSON.stringify(envelope));
}
RECORDS.push({ seq: '3', data: await notJsonPayload() });

const rules = loadRuleTexts([
  { file: 'r.yaml', text: 'rules:\n  - id: alice\n    description: d\n    severity: low\n    when: {dbUserName: alice}\n    message: m\n' },
]).ruleSet!;
const nowhere: AlertHandoff = { handOff: async () => undefined, close: async () => undefined };

/** Every field of a snapshot, with its value taken from a stats object driven the way the driver drives it. */
const FIELDS = Object.keys(new PipelineStats().snapshot()) as (keyof PipelineSnapshot)[];

function lambdaRecord(seq: string, data: Buffer): KinesisStreamRecord {
  return {
    kinesis: { kinesisSchemaVersion: '1.0', partitionKey: 'pk', sequenceNumber: seq, data: data.toString('base64'), approximateArrivalTimestamp: 1791968400.75 },
    eventSource: 'aws:kinesis',
    eventVersion: '1.0',
    eventID: `${SHARD}:${seq}`,
    eventName: 'aws:kinesis:record',
    invokeIdentityArn: 'arn:aws:iam::111122223333:role/dasguard',
    awsRegion: 'us-east-1',
    eventSourceARN: `arn:aws:kinesis:us-east-1:111122223333:stream/${STREAM}`,
  };
}

async function lambdaLogs(): Promise<LogEntry[]> {
  const logs: LogEntry[] = [];
  const h = createHandler({ rules, keys, handoff: nowhere, log: (e) => void logs.push(e) });
  assert.deepEqual(await h({ Records: RECORDS.map((r) => lambdaRecord(r.seq, r.data)) }, { awsRequestId: 'req-1' }), { batchItemFailures: [] });
  return logs;
}

/** A closed shard of RECORDS read by a ShardReader over a fake Kinesis client. */
async function readerRun(): Promise<{ logs: ConsumerLogEntry[]; stats: PipelineStats; reader: ShardReader }> {
  const logs: ConsumerLogEntry[] = [];
  const stats = new PipelineStats();
  const records: _Record[] = RECORDS.map((r) => ({ SequenceNumber: r.seq, PartitionKey: 'pk', Data: new Uint8Array(r.data) }));
  const client = {
    send: async (cmd: unknown) => {
      if (cmd instanceof GetShardIteratorCommand) return { ShardIterator: 'it-1' };
      if (cmd instanceof GetRecordsCommand) return { Records: records, MillisBehindLatest: 0, NextShardIterator: undefined };
      throw new Error('unexpected command');
    },
  } as unknown as KinesisClient;
  const reader = new ShardReader({
    client,
    streamName: STREAM,
    shard: { ShardId: SHARD, HashKeyRange: undefined, SequenceNumberRange: { StartingSequenceNumber: '0', EndingSequenceNumber: '9' } },
    start: { type: 'trim-horizon' },
    checkpoint: undefined,
    resourceId: CLUSTER,
    deps: { rules, keys },
    handoff: nowhere,
    stats,
    commit: async () => undefined,
    note: () => undefined,
    log: (e) => void logs.push(e),
    keyAlarm: new DataKeyAlarm({ clusterId: 'c' }),
  });
  await reader.run(new AbortController().signal);
  return { logs, stats, reader };
}

describe('reports derive from the PipelineStats snapshot', () => {
  it('the Lambda batch line carries every counter of the snapshot (`records` as `processed`)', async () => {
    const { stats } = await readerRun(); // the same records through the same driver: the counts to expect
    const expected = stats.snapshot();
    const batch = (await lambdaLogs()).find((l) => l.msg === 'batch')!;
    for (const f of FIELDS) assert.equal(batch[f === 'records' ? 'processed' : f], expected[f], `batch line field for ${f}`);
    assert.equal(batch.records, RECORDS.length, 'records: the size of the event');
    assert.equal(expected.quarantined, 3);
    assert.equal(expected.encryptedRecords, 1);
    assert.equal(expected.alerts, 1);
  });

  it("run's status line carries every counter of the snapshot (the consumer's stats hold the snapshot itself)", () => {
    const stats = new PipelineStats();
    stats.counters.records = 7;
    stats.countQuarantine({ position: { source: STREAM }, reason: 'not-json', message: 'm' });
    const snapshot = stats.snapshot();
    const out = new PassThrough();
    let text = '';
    out.on('data', (c: Buffer) => (text += c.toString('utf8')));
    const err = Object.assign(out, { isTTY: false }) as unknown as NodeJS.WriteStream;
    runLogger(err).status(STREAM, { pipeline: snapshot, keys: undefined, shards: [], startedAt: 0, lastCheckpointAt: null }, { at: Date.now(), events: 0 });
    const line = JSON.parse(text) as Record<string, unknown>;
    for (const f of FIELDS) assert.equal(line[f], snapshot[f], `status line field ${f}`);
  });

  it('a shard reader counts its records once (its status), the driver counts them in the shared stats', async () => {
    const { stats, reader } = await readerRun();
    assert.deepEqual(Object.keys(stats.snapshot()), FIELDS);
    assert.equal(reader.status().records, RECORDS.length);
    assert.equal(reader.status().state, 'finished');
  });
});

describe('the quarantined log line', () => {
  it('has the same fields in the live consumer and the Lambda, with the safe parser message', async () => {
    const fromReader = (await readerRun()).logs.filter((l) => l.msg === 'quarantined');
    const fromLambda = (await lambdaLogs()).filter((l) => l.msg === 'quarantined');
    assert.deepEqual(
      fromLambda.map(({ requestId, ...rest }) => {
        assert.equal(requestId, 'req-1');
        return rest;
      }),
      fromReader,
    );
    assert.deepEqual(fromReader, [
      {
        level: 'warn',
        msg: 'quarantined',
        stream: STREAM,
        shardId: SHARD,
        sequenceNumber: '1',
        reason: 'bad-event',
        message: 'event 1: event 1 has unknown type "bogus" (expected "record" or "heartbeat")',
        eventIndex: 1,
      },
      {
        level: 'warn',
        msg: 'quarantined',
        stream: STREAM,
        shardId: SHARD,
        sequenceNumber: '2',
        reason: 'not-json',
        message: fromReader[1]!.message,
      },
      {
        level: 'warn',
        msg: 'quarantined',
        stream: STREAM,
        shardId: SHARD,
        sequenceNumber: '3',
        reason: 'payload-not-json',
        message: fromReader[2]!.message,
      },
    ]);
    assert.match(String(fromReader[1]!.message), /^record is not JSON \(.*; 17 bytes\)$/);
    // The decoder's message says how (and where, when V8 tells) the payload's JSON broke, never what it read: the
    // Lambda shows it too.
    assert.match(String(fromReader[2]!.message), /^decrypted payload is not JSON \((invalid JSON at byte \d+|truncated JSON|invalid JSON) of \d+\)$/);
    assert.doesNotMatch(JSON.stringify([fromReader, fromLambda]), /SECRET|SELECT 1/);
  });
});
