/**
 * src/sources/: each transport's record becomes the same SourceRecord (the Kinesis SDK's, get-records / Kinesis JSON
 * Lines, Lambda events for the handler and for file input), one arrival-time conversion, stream-name parsing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Base64Data } from '../../src/codec/base64.js';
import { ConfigError, PoisonReason } from '../../src/errors.js';
import type { _Record } from '@aws-sdk/client-kinesis';
import { arrivalTimeMs } from '../../src/sources/arrivalTime.js';
import { KINESIS_FIELDS, type KinesisRecordFields } from '../../src/sources/kinesisFields.js';
import { fromKinesisJson } from '../../src/sources/kinesisJson.js';
import { fromSdkRecord } from '../../src/sources/kinesisSdk.js';
import { lambdaRecordItem, requireResourceId, type KinesisStreamRecord } from '../../src/sources/lambdaEvent.js';
import { RESOURCE_ID_PATTERN, resourceIdFromStreamName, resourceIdProblem, streamNameFromArn } from '../../src/sources/streamName.js';
import type { SourceItem } from '../../src/sources/types.js';
import type { SourceRecord } from '../../src/types.js';

const RID = 'cluster-ABCDEFGHIJKLMNOP';
const STREAM = `aws-rds-das-${RID}`;
const ARN = `arn:aws:kinesis:us-east-1:111122223333:stream/${STREAM}`;
const T = Date.UTC(2026, 4, 1, 12, 0, 0, 250);

function recordOf(item: SourceItem): SourceRecord {
  assert.equal(item.kind, 'record', JSON.stringify(item));
  return (item as { record: SourceRecord }).record;
}

test('stream names: the resource id from a name, an ARN or a path; the stream name from an ARN', () => {
  assert.equal(resourceIdFromStreamName(STREAM), RID);
  assert.equal(resourceIdFromStreamName(ARN), RID);
  assert.equal(resourceIdFromStreamName('aws-rds-das-db-ABC123'), 'db-ABC123');
  assert.equal(resourceIdFromStreamName(`captures/${STREAM}.jsonl.gz`), RID);
  assert.equal(resourceIdFromStreamName('audit-copy'), undefined);
  assert.equal(streamNameFromArn(ARN), STREAM);
  assert.equal(streamNameFromArn('audit-copy'), 'audit-copy');
});

test('arrival time: a Date, epoch seconds, epoch milliseconds and ISO strings are the same instant; anything else none', () => {
  for (const v of [new Date(T), T / 1000, T, new Date(T).toISOString()]) assert.equal(arrivalTimeMs(v), T, String(v));
  for (const v of [undefined, null, 'soon', Number.NaN, new Date(Number.NaN), {}]) assert.equal(arrivalTimeMs(v), undefined, String(v));
});

test('the same Kinesis record through every transport gives the same record data, partition key and arrival time', () => {
  const data = Buffer.from('{"type":"DatabaseActivityMonitoringRecords"}');
  const b64 = data.toString('base64');
  const sdk = fromSdkRecord({ Data: data, SequenceNumber: '4963', PartitionKey: 'pk', ApproximateArrivalTimestamp: new Date(T) }, { streamName: STREAM, shardId: 'shardId-000000000000', resourceId: RID });
  const json = fromKinesisJson({ Data: b64, SequenceNumber: '4963', PartitionKey: 'pk', ApproximateArrivalTimestamp: T / 1000, ShardId: 'shardId-000000000000', StreamName: STREAM }, { source: 'f.jsonl', line: 1 }, {});
  const lambda: KinesisStreamRecord = {
    kinesis: { data: b64, sequenceNumber: '4963', partitionKey: 'pk', approximateArrivalTimestamp: T / 1000 },
    eventID: 'shardId-000000000000:4963',
    eventSourceARN: ARN,
  };
  const handler = recordOf(lambdaRecordItem(lambda, {}));
  const file = lambdaRecordItem(lambda, {}, { source: 'event.json', line: 1, index: 0 });
  assert.equal(json.kind, 'record');
  assert.equal(file.kind, 'record');
  const records: SourceRecord[] = [sdk, handler, (json as { record: SourceRecord }).record, (file as { record: SourceRecord }).record];
  for (const r of records) {
    assert.equal(r.resourceId, RID);
    assert.equal(r.partitionKey, 'pk');
    assert.equal(r.arrivalTime, T);
    assert.equal(r.position.shardId, 'shardId-000000000000');
    assert.equal(r.position.sequenceNumber, '4963');
    const bytes = r.data instanceof Base64Data ? Buffer.from(r.data.text, 'base64') : Buffer.from(r.data as Uint8Array);
    assert.deepEqual(bytes, data);
  }
  assert.deepEqual(handler.position, { source: STREAM, shardId: 'shardId-000000000000', sequenceNumber: '4963' });
  assert.deepEqual((file as { record: SourceRecord }).record.position, { source: 'event.json', line: 1, index: 0, shardId: 'shardId-000000000000', sequenceNumber: '4963' });
});

/**
 * A raw example of every field of KINESIS_FIELDS, as each transport carries it, and the value the SourceRecord must
 * hold. Typed by the table: a field added there without an example here does not compile (npm test typechecks).
 */
const FIELD_EXAMPLES: { [K in keyof KinesisRecordFields]-?: { sdk: unknown; json: unknown; lambda: unknown; value: NonNullable<KinesisRecordFields[K]> } } = {
  partitionKey: { sdk: 'pk-7', json: 'pk-7', lambda: 'pk-7', value: 'pk-7' },
  arrivalTime: { sdk: new Date(T), json: T / 1000, lambda: T / 1000, value: T },
};

test('every field of the Kinesis field table flows from each transport (SDK, get-records JSON, Lambda event) to the SourceRecord', () => {
  const names = Object.keys(KINESIS_FIELDS) as (keyof KinesisRecordFields)[];
  assert.deepEqual(Object.keys(FIELD_EXAMPLES).sort(), [...names].sort(), 'an example for every field of KINESIS_FIELDS');
  const sdkRaw: Record<string, unknown> = { Data: Buffer.from('{}'), SequenceNumber: '1' };
  const jsonRaw: Record<string, unknown> = { Data: 'e30=', SequenceNumber: '1' };
  const lambdaRaw = { kinesis: { data: 'e30=', sequenceNumber: '1' } as Record<string, unknown>, eventID: 'shardId-000000000000:1', eventSourceARN: ARN };
  // Without the fields: none is set.
  const bare: SourceRecord[] = [
    fromSdkRecord(sdkRaw as unknown as _Record, { streamName: STREAM, shardId: 'shardId-000000000000' }),
    (fromKinesisJson(jsonRaw, { source: 'f' }, {}) as { record: SourceRecord }).record,
    recordOf(lambdaRecordItem(lambdaRaw, {})),
  ];
  for (const r of bare) for (const name of names) assert.equal(name in r, false, `${name} absent`);
  // With them: each one, converted.
  for (const name of names) {
    const spec = KINESIS_FIELDS[name];
    const ex = FIELD_EXAMPLES[name];
    sdkRaw[spec.pascal] = ex.sdk;
    jsonRaw[spec.pascal] = ex.json;
    lambdaRaw.kinesis[spec.camel] = ex.lambda;
  }
  const mapped: [string, SourceRecord][] = [
    ['SDK', fromSdkRecord(sdkRaw as unknown as _Record, { streamName: STREAM, shardId: 'shardId-000000000000' })],
    ['get-records JSON', (fromKinesisJson(jsonRaw, { source: 'f' }, {}) as { record: SourceRecord }).record],
    ['Lambda handler', recordOf(lambdaRecordItem(lambdaRaw, {}))],
    ['Lambda event in a file', recordOf(lambdaRecordItem(lambdaRaw, {}, { source: 'event.json' }))],
  ];
  for (const [transport, r] of mapped) {
    for (const name of names) assert.deepEqual(r[name], FIELD_EXAMPLES[name].value, `${transport}: ${name}`);
  }
});

test('resource ids: the override wins, then the stream, then the fallback; the handler refuses a stream without one', () => {
  const lambda: KinesisStreamRecord = {
    kinesis: { data: 'e30=', sequenceNumber: '1', partitionKey: 'pk', approximateArrivalTimestamp: T / 1000 },
    eventID: 'shardId-000000000000:1',
    eventSourceARN: 'arn:aws:kinesis:us-east-1:111122223333:stream/audit-copy',
  };
  assert.throws(() => requireResourceId(lambdaRecordItem(lambda, {})), (err: unknown) => err instanceof ConfigError && /"audit-copy".*DASGUARD_RESOURCE_ID/.test(err.message));
  assert.equal(recordOf(requireResourceId(lambdaRecordItem(lambda, { override: 'db-OVERRIDE' }))).resourceId, 'db-OVERRIDE');
  const item = lambdaRecordItem(lambda, { fallback: 'db-FILE' }, { source: 'f' });
  assert.equal(item.kind === 'record' && item.record.resourceId, 'db-FILE');
  const json = fromKinesisJson({ Data: 'e30=', StreamName: STREAM }, { source: 'f' }, { override: 'db-OVERRIDE', fallback: 'db-FILE' });
  assert.equal(json.kind === 'record' && json.record.resourceId, 'db-OVERRIDE');
  const bad = fromKinesisJson({ SequenceNumber: '7' }, { source: 'f', line: 3 }, {});
  assert.deepEqual(bad, { kind: 'bad', position: { source: 'f', line: 3, sequenceNumber: '7' }, reason: 'bad-envelope', message: 'the Kinesis record has no "Data" string (base64 of the record data)' });
});

test('a DAS resource id has one definition: the Lambda setting, --resource-id, stream names and the encryption context agree', async () => {
  const { encryptionContextFor } = await import('../../src/keys/KeyProvider.js');
  const { checkLambdaEnv } = await import('../../src/config/lambdaEnv.js');
  const { resourceIdOption } = await import('../../src/commands/options.js');
  for (const good of [RID, 'db-ABC123', 'cluster-a_b-c']) {
    assert.equal(resourceIdProblem(good), undefined, good);
    assert.equal(resourceIdFromStreamName(`aws-rds-das-${good}`), good);
    assert.ok(encryptionContextFor(good));
    assert.equal(checkLambdaEnv({ DASGUARD_RESOURCE_ID: good }).settings?.resourceId, good);
    assert.equal(resourceIdOption(good), good);
  }
  for (const bad of ['cluster-', 'cluster-a b', 'db-', 'prod-cluster', 'cluster-x/y', '']) {
    assert.equal(RESOURCE_ID_PATTERN.test(bad), false, bad);
    const problem = resourceIdProblem(bad)!;
    assert.equal(problem, `expected a DAS resource id, cluster-… or db-… (the DbClusterResourceId or DbiResourceId, not the cluster name), got ${JSON.stringify(bad)}`);
    assert.throws(() => encryptionContextFor(bad), (err: Error) => err.message === `resource id: ${problem}`, bad);
    assert.throws(() => resourceIdOption(bad), (err: Error) => err.name === 'UsageError' && err.message === `--resource-id: ${problem}`, bad);
    if (bad !== '') assert.deepEqual(checkLambdaEnv({ DASGUARD_RESOURCE_ID: bad }).problems.map((p) => p.message), [problem], bad);
  }
  assert.equal(resourceIdOption(undefined), undefined, 'not given: from the stream name');
  // A stream name holds the longest resource id it can: the rest of the name (a file's extension) is not part of it.
  assert.equal(resourceIdFromStreamName(`aws-rds-das-${RID}.jsonl.gz`), RID);
  assert.equal(resourceIdFromStreamName('aws-rds-das-cluster-'), undefined);
});

test('one mapper for a Lambda Kinesis record: what is not one is a bad item (bad-envelope) with what could be read of its position', () => {
  const good = { kinesis: { data: 'e30=', sequenceNumber: '7' }, eventID: 'shardId-000000000002:7', eventSourceARN: ARN };
  const cases: [string, unknown, string][] = [
    ['not an object', 'hello', 'the Lambda Kinesis record is not a JSON object ("hello")'],
    ['no kinesis', { eventID: good.eventID, eventSourceARN: ARN }, 'the Lambda Kinesis record has no "kinesis.data" string'],
    ['no kinesis.data', { ...good, kinesis: { sequenceNumber: '7' } }, 'the Lambda Kinesis record has no "kinesis.data" string'],
    ['kinesis.data not a string', { ...good, kinesis: { data: 42, sequenceNumber: '7' } }, 'the Lambda Kinesis record has no "kinesis.data" string'],
    ['no sequence number', { ...good, kinesis: { data: 'e30=' } }, 'the Lambda Kinesis record has no "kinesis.sequenceNumber" string'],
    ['eventID without a colon', { ...good, eventID: 'shardId-000000000002' }, 'the Lambda Kinesis record has an "eventID" that is not <shard id>:<sequence number> ("shardId-000000000002")'],
    ['eventID not a string', { ...good, eventID: 12 }, 'the Lambda Kinesis record has an "eventID" that is not <shard id>:<sequence number> (12)'],
    ['eventSourceARN not an ARN', { ...good, eventSourceARN: 'aws-rds-das-cluster-X' }, 'the Lambda Kinesis record has an "eventSourceARN" that is not a Kinesis stream ARN ("aws-rds-das-cluster-X")'],
    ['eventSourceARN not a string', { ...good, eventSourceARN: null }, 'the Lambda Kinesis record has an "eventSourceARN" that is not a Kinesis stream ARN (null)'],
  ];
  for (const [what, raw, message] of cases) {
    for (const at of [undefined, { source: 'event.json', line: 3, index: 1 }]) {
      const item = lambdaRecordItem(raw, {}, at);
      assert.equal(item.kind, 'bad', what);
      if (item.kind !== 'bad') continue;
      assert.equal(item.reason, PoisonReason.badEnvelope, what);
      assert.equal(item.message, message, what);
      const arnOk = (raw as { eventSourceARN?: unknown }).eventSourceARN === ARN;
      assert.equal(item.position.source, at ? 'event.json' : arnOk ? STREAM : 'lambda', what);
      // requireResourceId lets a bad item through: it is quarantined, not a configuration error.
      assert.equal(requireResourceId(item), item);
    }
  }
  // What could be read is kept: the sequence number and shard of a record whose ARN is wrong.
  const wrongArn = lambdaRecordItem({ ...good, eventSourceARN: 'nope' }, {});
  assert.deepEqual(wrongArn.kind === 'bad' && wrongArn.position, { source: 'lambda', shardId: 'shardId-000000000002', sequenceNumber: '7' });
  // Without eventID and eventSourceARN (a hand-made event), a record all the same.
  const bare = recordOf(lambdaRecordItem({ kinesis: good.kinesis }, { fallback: 'db-FILE' }));
  assert.deepEqual(bare.position, { source: 'lambda', sequenceNumber: '7' });
  assert.equal(bare.resourceId, 'db-FILE');
});
