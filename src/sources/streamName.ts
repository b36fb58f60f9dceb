/**
 * What a DAS stream's name says: the resource id of the database that writes it (`aws-rds-das-<resource id>`, from a
 * stream name, an ARN or a file name holding one), and the stream name inside a Kinesis stream ARN. The one place
 * that parses them, for every source (files, the live consumer, the Lambda handler) and `run --stream`.
 */

/** `aws-rds-das-cluster-ABC` (or an ARN or path holding it) -> `cluster-ABC`; undefined when there is none. */
export function resourceIdFromStreamName(nameOrArn: string): string | undefined {
  const m = /aws-rds-das-((?:cluster|db)-[A-Za-z0-9_-]+)/.exec(nameOrArn);
  return m?.[1];
}

/** `arn:aws:kinesis:REGION:ACCOUNT:stream/NAME` -> `NAME`; anything else is returned as it is. */
export function streamNameFromArn(arn: string): string {
  const slash = arn.lastIndexOf('stream/');
  return slash >= 0 ? arn.slice(slash + 'stream/'.length).split('/')[0]! : arn;
}
