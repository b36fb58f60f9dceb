/**
 * Amazon RDS calls dasguard makes: which activity stream a cluster has (DescribeDBClusters).
 *
 * Clients are built with the standard SDK configuration (credential chain, region, profiles,
 * `AWS_ENDPOINT_URL_RDS`) or injected by the caller. Errors: a cluster that does not exist, access, credential
 * and region problems are ConfigError; throttling, 5xx and network failures are TransientError.
 * IAM: `rds:DescribeDBClusters` on the cluster.
 */
import { DescribeDBClustersCommand, RDSClient, type DBCluster, type RDSClientConfig } from '@aws-sdk/client-rds';
import { ConfigError } from '../errors.js';
import { awsErrorInfo, classifyAwsError } from './errors.js';

export interface ActivityStreamInfo {
  /** The cluster identifier (its name), as asked. */
  clusterIdentifier: string;
  /** `DbClusterResourceId` (`cluster-…`): selects the KMS encryption context and names the stream. */
  resourceId: string;
  /** `ActivityStreamKinesisStreamName` (`aws-rds-das-cluster-…`), null when no stream was ever started. */
  streamName: string | null;
  /** `stopped|starting|started|stopping`; `stopped` when RDS reports none. */
  status: string;
  mode: 'sync' | 'async' | null;
  kmsKeyId: string | null;
  /** `aurora-postgresql`, `aurora-mysql`... */
  engine: string | null;
  clusterArn: string | null;
}

/** Builds an RDS client from the standard SDK configuration, plus `config`. */
export function createRdsClient(config: RDSClientConfig = {}): RDSClient {
  return new RDSClient(config);
}

/** The activity stream of one Aurora cluster, as `DescribeDBClusters` reports it. */
export async function describeActivityStream(client: RDSClient, clusterIdentifier: string): Promise<ActivityStreamInfo> {
  let clusters: DBCluster[];
  try {
    const out = await client.send(new DescribeDBClustersCommand({ DBClusterIdentifier: clusterIdentifier }));
    clusters = out.DBClusters ?? [];
  } catch (err) {
    throw classifyRdsError(err, `RDS DescribeDBClusters for cluster "${clusterIdentifier}"`, clusterIdentifier);
  }
  // DBClusterIdentifier also accepts an ARN; match either.
  const cluster =
    clusters.find((c) => c.DBClusterIdentifier === clusterIdentifier || c.DBClusterArn === clusterIdentifier) ??
    (clusters.length === 1 ? clusters[0] : undefined);
  if (cluster === undefined) {
    throw new ConfigError(
      `RDS has no DB cluster "${clusterIdentifier}" in this account and region (DescribeDBClusters returned ` +
        `${clusters.length} clusters): check the cluster identifier and AWS region`,
    );
  }
  if (cluster.DbClusterResourceId === undefined) {
    throw new ConfigError(`RDS DescribeDBClusters returned cluster "${clusterIdentifier}" without a DbClusterResourceId`);
  }
  const mode = cluster.ActivityStreamMode;
  return {
    clusterIdentifier: cluster.DBClusterIdentifier ?? clusterIdentifier,
    resourceId: cluster.DbClusterResourceId,
    streamName: cluster.ActivityStreamKinesisStreamName ?? null,
    status: cluster.ActivityStreamStatus ?? 'stopped',
    mode: mode === 'sync' || mode === 'async' ? mode : null,
    kmsKeyId: cluster.ActivityStreamKmsKeyId ?? null,
    engine: cluster.Engine ?? null,
    clusterArn: cluster.DBClusterArn ?? null,
  };
}

/** RDS-specific meanings first (a missing cluster), then the shared AWS classification. */
export function classifyRdsError(err: unknown, what: string, clusterIdentifier?: string): Error {
  const info = awsErrorInfo(err);
  if (info.name === 'DBClusterNotFoundFault') {
    const subject = clusterIdentifier !== undefined ? `DB cluster "${clusterIdentifier}"` : 'the DB cluster';
    return new ConfigError(
      `${what} failed: RDS has no ${subject} in this account and region (${info.summary}): check the cluster ` +
        'identifier and AWS region',
      { cause: err },
    );
  }
  return classifyAwsError(err, what, { configHint: 'the AWS credentials, region and permissions (rds:Describe*)' });
}
