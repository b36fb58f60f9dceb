/**
 * What the stacks need to know about the activity stream they read: the resource id (the KMS encryption context),
 * the stream and the KMS key of the stream. DAS names the stream `aws-rds-das-<resource id>`, and KMS decrypts a data key only under the encryption context
 * `{"aws:rds:dbc-id": <DbClusterResourceId>}` (Aurora cluster) or `{"aws:rds:db-id": <DbiResourceId>}` (RDS instance).
 */

/** The resource id of a cluster (`cluster-…`, DbClusterResourceId) or instance (`db-…`, DbiResourceId). */
export const RESOURCE_ID_PATTERN = /^(cluster|db)-[A-Za-z0-9]+$/;

/** A KMS key ARN (not an alias: IAM matches kms:Decrypt against the key ARN, never the alias). */
export const KMS_KEY_ARN_PATTERN = /^arn:(aws[a-z-]*):kms:([a-z0-9-]+):(\d{12}):key\/[A-Za-z0-9-]+$/;

/** A Kinesis stream ARN; group 4 is the stream name. */
export const STREAM_ARN_PATTERN = /^arn:(aws[a-z-]*):kinesis:([a-z0-9-]+):(\d{12}):stream\/([A-Za-z0-9_.-]{1,128})$/;

/** A Kinesis stream name. */
export const STREAM_NAME_PATTERN = /^[A-Za-z0-9_.-]{1,128}$/;

/** A Secrets Manager secret ARN (full or partial). */
export const SECRET_ARN_PATTERN = /^arn:(aws[a-z-]*):secretsmanager:([a-z0-9-]+):(\d{12}):secret:[A-Za-z0-9/_+=.@-]+$/;

/** The activity stream a stack reads, resolved to ARNs. */
export interface ActivityStream {
  /** `cluster-…` or `db-…`. */
  resourceId: string;
  streamArn: string;
  kmsKeyArn: string;
}

/** The stream DAS creates for a resource: `aws-rds-das-<resource id>`. */
export function streamNameFor(resourceId: string): string {
  return `aws-rds-das-${resourceId}`;
}

/** The condition key that pins kms:Decrypt to one resource's data keys. */
export function encryptionContextKey(resourceId: string): string {
  return resourceId.startsWith('db-') ? 'kms:EncryptionContext:aws:rds:db-id' : 'kms:EncryptionContext:aws:rds:dbc-id';
}
