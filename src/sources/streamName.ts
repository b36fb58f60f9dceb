/**
 * What a DAS stream's name says: the resource id of the database that writes it (`aws-rds-das-<resource id>`, from a
 * stream name, an ARN or a file name holding one), and the stream name inside a Kinesis stream ARN. The one place
 * that parses them, for every source (files, the live consumer, the Lambda handler) and `run --stream`; and the ONE
 * definition of a DAS resource id, which DASGUARD_RESOURCE_ID, --resource-id and the encryption context
 * (src/keys/KeyProvider.ts) are checked against.
 */

/** A DAS resource id without anchors: `cluster-…` (DbClusterResourceId) or `db-…` (DbiResourceId). */
const RESOURCE_ID = '(?:cluster|db)-[A-Za-z0-9_-]+';

/** A whole DAS resource id. */
export const RESOURCE_ID_PATTERN = new RegExp(`^${RESOURCE_ID}$`);

/** What RESOURCE_ID_PATTERN means, for problem messages (`expected <this>, got "…"`). */
export const RESOURCE_ID_HINT = 'a DAS resource id, cluster-… or db-… (the DbClusterResourceId or DbiResourceId, not the cluster name)';

/** Why `id` is not a DAS resource id (`expected …, got "…"`), or undefined when it is one. */
export function resourceIdProblem(id: string): string | undefined {
  return RESOURCE_ID_PATTERN.test(id) ? undefined : `expected ${RESOURCE_ID_HINT}, got ${JSON.stringify(id)}`;
}

const IN_STREAM_NAME = new RegExp(`aws-rds-das-(${RESOURCE_ID})`);

/** `aws-rds-das-cluster-ABC` (or an ARN or path holding it) -> `cluster-ABC`; undefined when there is none. */
export function resourceIdFromStreamName(nameOrArn: string): string | undefined {
  return IN_STREAM_NAME.exec(nameOrArn)?.[1];
}

/** A Kinesis stream ARN: `arn:PARTITION:kinesis:REGION:ACCOUNT:stream/NAME`. */
const STREAM_ARN = /^arn:[^:]+:kinesis:[^:]*:[^:]*:stream\/[^/]+/;

/** Whether `arn` is a Kinesis stream ARN. */
export function isStreamArn(arn: string): boolean {
  return STREAM_ARN.test(arn);
}

/** `arn:aws:kinesis:REGION:ACCOUNT:stream/NAME` -> `NAME`; anything else is returned as it is. */
export function streamNameFromArn(arn: string): string {
  const slash = arn.lastIndexOf('stream/');
  return slash >= 0 ? arn.slice(slash + 'stream/'.length).split('/')[0]! : arn;
}
