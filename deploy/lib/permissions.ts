/**
 * The IAM statements both stacks give dasguard, each on one resource: reading the activity stream, decrypting its
 * data keys (only under this database's encryption context), publishing alerts. The tables' statements are in
 * tables.ts beside their keys.
 */
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { encryptionContextKey, type ActivityStream } from './das.js';

/**
 * What the Lambda event source mapping needs on the stream (Lambda checks them when the mapping is created):
 * DescribeStream, DescribeStreamSummary, GetRecords, GetShardIterator, ListShards (the Lambda developer guide's list,
 * less SubscribeToShard: no enhanced fan-out). No kinesis:ListStreams: neither the mapping nor dasguard calls it.
 */
export const LAMBDA_STREAM_ACTIONS = [
  'kinesis:DescribeStream',
  'kinesis:DescribeStreamSummary',
  'kinesis:GetRecords',
  'kinesis:GetShardIterator',
  'kinesis:ListShards',
] as const;

/** What `dasguard run` calls on the stream: shards, iterators, records, and the summary (retention, status). */
export const RUN_STREAM_ACTIONS = ['kinesis:DescribeStreamSummary', 'kinesis:GetRecords', 'kinesis:GetShardIterator', 'kinesis:ListShards'] as const;

export function readStreamStatement(stream: ActivityStream, actions: readonly string[]): PolicyStatement {
  return new PolicyStatement({ sid: 'ReadTheActivityStream', actions: [...actions], resources: [stream.streamArn] });
}

/**
 * kms:Decrypt on the stream's key, and only for this database's data keys: the condition
 * `kms:EncryptionContext:aws:rds:dbc-id` (an instance: `…:aws:rds:db-id`) = the resource id. The same role cannot
 * decrypt another cluster's records, even one streaming under the same key.
 */
export function decryptDataKeysStatement(stream: ActivityStream): PolicyStatement {
  return new PolicyStatement({
    sid: 'DecryptThisDatabasesDataKeysOnly',
    actions: ['kms:Decrypt'],
    resources: [stream.kmsKeyArn],
    conditions: { StringEquals: { [encryptionContextKey(stream.resourceId)]: stream.resourceId } },
  });
}

export function publishAlertsStatement(topicArn: string): PolicyStatement {
  return new PolicyStatement({ sid: 'PublishAlerts', actions: ['sns:Publish'], resources: [topicArn] });
}
