/**
 * Amazon DynamoDB for dasguard: the client (the standard SDK configuration: credential chain, region, profiles,
 * `AWS_ENDPOINT_URL_DYNAMODB`, or injected by the caller) and what a DynamoDB error means. A conditional check that
 * failed is the caller's to interpret (a lease lost); a missing table is a ConfigError naming it; throttling, 5xx and
 * network failures are TransientError (src/aws/errors.ts).
 */
import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { ConfigError } from '../errors.js';
import { awsErrorInfo, classifyAwsError } from './errors.js';

/** Builds a DynamoDB client from the standard SDK configuration, plus `config`. */
export function createDynamoDbClient(config: DynamoDBClientConfig = {}): DynamoDBClient {
  return new DynamoDBClient({ requestHandler: new NodeHttpHandler({ connectionTimeout: 5_000, requestTimeout: 10_000 }), ...config });
}

/** ConditionalCheckFailedException: the item was not as the condition expected. */
export function isConditionFailed(err: unknown): boolean {
  return awsErrorInfo(err).name === 'ConditionalCheckFailedException';
}

/** DynamoDB-specific meanings first (a missing table), then the shared AWS classification. */
export function classifyDynamoError(err: unknown, what: string, table: string): Error {
  const info = awsErrorInfo(err);
  if (info.name === 'ResourceNotFoundException') {
    return new ConfigError(`${what}: the DynamoDB table "${table}" does not exist in this account and region (${info.summary})`, { cause: err });
  }
  return classifyAwsError(err, what, {
    configHint: `the AWS credentials, region or permissions on table "${table}" (dynamodb:DescribeTable, CreateTable, Scan, PutItem, UpdateItem, DeleteItem)`,
  });
}
