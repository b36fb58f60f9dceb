/**
 * src/sources/: each transport's record becomes the same SourceRecord (the Kinesis SDK's, get-records / Kinesis JSON
 * Lines, Lambda events for the handler and for file input), one arrival-time conversion, stream-name parsing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Base64Data } from '../../src/codec/base64.js';
import { ConfigError } from '../../src/errors.js';
import type { _Record } from '@aws-sdk/client-kinesis';
import { arrivalTimeMs } from '../../src/sources/arrivalTime.js';
import { KINESIS_FIELDS, type KinesisRecordFields } from '../../src/sources/kinesisFields.js';
import { fromKinesisJson } from '../../src/sources/kinesisJson.js';
import { fromSdkRecord } from '../../src/sources/kinesisSdk.js';
import { fromLambdaRecord, lambdaRecordItem, locateLambdaRecord, type KinesisStreamRecord } from '../../src/sources/lambdaEvent.js';
import { resourceIdFromStreamName, streamNameFromArn } from '../../src/sources/streamName.js';
import type { SourceRecord } from '../../src/types.js';

const RID = 'cluster-ABCDEFGHIJKLMNOP';
const STREAM = `aws-rds-das-${RID}`;
const ARN = `arn:aws:kinesis:us-east-1:111122223333:stream/${STREAM}`;
const T = Date.UTC(2026, 4, 1, 12, 0, 0, 250);

test('stream names: the resource id from a name, an ARN or a path; the stream name from an ARN', () => {
  assert.equal(resourceIdFromStreamName(STREAM), RID);
  assert.equal(resourceIdFromStreamName(ARN), RID);
  assert.equal(resourceIdFromStreamName('aws-rds-das-db-ABC123'), 'db-ABC123');
  assert.equal(resourceIdFromStreamName(`captures/${STREAM}.jsonl.gz`), RID);
  assert.equal(resourceIdFromStreamName('audit-copy'), undefined);
  assert.equal(streamNameFromArn(ARN), STREAM);
  assert.equal(streamNameFromArn('audit-copy'), 'audit-copy');
  assert.deepEqual(locateLambdaRecord({ eventID: 'shardId-000000000003:4963', eventSourceARN: ARN }), { shardId: 'shardId-000000000003', streamName: STREAM });
  assert.deepEqual(locateLambdaRecord({ eventID: 'x', eventSourceARN: '' }), { shardId: undefined, streamName: 'lambda' });
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
  const handler = fromLambdaRecord(lambda, undefined);
  const file = lambdaRecordItem(lambda as unknown as Record<string, unknown>, { source: 'event.json', line: 1, index: 0 }, {});
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
    fromLambdaRecord(lambdaRaw as unknown as KinesisStreamRecord, undefined),
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
    ['Lambda handler', fromLambdaRecord(lambdaRaw as unknown as KinesisStreamRecord, undefined)],
    ['Lambda event in a file', (lambdaRecordItem(lambdaRaw, { source: 'event.json' }, {}) as { record: SourceRecord }).record],
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
  assert.throws(() => fromLambdaRecord(lambda, undefined), (err: unknown) => err instanceof ConfigError && /DASGUARD_RESOURCE_ID/.test(err.message));
  assert.equal(fromLambdaRecord(lambda, 'db-OVERRIDE').resourceId, 'db-OVERRIDE');
  const item = lambdaRecordItem(lambda as unknown as Record<string, unknown>, { source: 'f' }, { fallback: 'db-FILE' });
  assert.equal(item.kind === 'record' && item.record.resourceId, 'db-FILE');
  const json = fromKinesisJson({ Data: 'e30=', StreamName: STREAM }, { source: 'f' }, { override: 'db-OVERRIDE', fallback: 'db-FILE' });
  assert.equal(json.kind === 'record' && json.record.resourceId, 'db-OVERRIDE');
  const bad = fromKinesisJson({ SequenceNumber: '7' }, { source: 'f', line: 3 }, {});
  assert.deepEqual(bad, { kind: 'bad', position: { source: 'f', line: 3, sequenceNumber: '7' }, reason: 'bad-envelope', message: 'the Kinesis record has no "Data" string (base64 of the record data)' });
});
