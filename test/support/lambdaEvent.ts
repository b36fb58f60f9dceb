/**
 * A Kinesis record as the Lambda event source mapping hands it to the handler (aws-lambda's KinesisStreamRecord),
 * for the Lambda tests: one builder, so every test feeds the handler the same shape.
 */
import type { KinesisStreamRecord } from '../../src/sources/lambdaEvent.js';

export function kinesisRecord(
  stream: string,
  shardId: string,
  seq: string,
  data: string,
  o: { partitionKey?: string; arrival?: number } = {},
): KinesisStreamRecord {
  return {
    kinesis: { kinesisSchemaVersion: '1.0', partitionKey: o.partitionKey ?? 'pk', sequenceNumber: seq, data, approximateArrivalTimestamp: o.arrival ?? 1791968400.75 },
    eventSource: 'aws:kinesis',
    eventVersion: '1.0',
    eventID: `${shardId}:${seq}`,
    eventName: 'aws:kinesis:record',
    invokeIdentityArn: 'arn:aws:iam::111122223333:role/dasguard',
    awsRegion: 'us-east-1',
    eventSourceARN: `arn:aws:kinesis:us-east-1:111122223333:stream/${stream}`,
  };
}
