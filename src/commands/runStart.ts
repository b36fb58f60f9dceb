/**
 * What `run` settles before it reads (src/commands/run.ts): which stream (--stream, or the cluster's by
 * DescribeDBClusters), the refusal of a stream that is not started, and checkpoints older than the stream's
 * retention (the records after them were trimmed unread: a health finding).
 */
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type { RDSClient } from '@aws-sdk/client-rds';
import { describeActivityStream, type ActivityStreamInfo } from '../aws/rds.js';
import { streamRetentionHours } from '../aws/kinesis.js';
import { ConfigError } from '../errors.js';
import type { CheckpointStore } from '../consumer/CheckpointStore.js';
import type { ConsumerLogEntry } from '../consumer/types.js';
import type { HealthMonitor } from '../health/HealthMonitor.js';
import { staleCheckpoints, DEFAULT_RETENTION_HOURS } from '../health/trimmed.js';
import { withRetry } from '../pipeline/drive.js';
import { resourceIdFromStreamName } from '../sources/streamName.js';

/** The stream `run` reads: --stream as given (its resource id from the name), or the cluster's, by DescribeDBClusters. */
export async function resolveStream(
  opts: { stream?: string; cluster?: string; resourceId?: string; keyFile?: string },
  rds: RDSClient | undefined,
): Promise<{ streamName: string; resourceId: string | undefined; info?: ActivityStreamInfo }> {
  if (opts.stream !== undefined) {
    const resourceId = opts.resourceId ?? resourceIdFromStreamName(opts.stream);
    if (resourceId === undefined && opts.keyFile === undefined) {
      throw new ConfigError(
        `cannot tell the DAS resource id from stream name "${opts.stream}" (expected aws-rds-das-cluster-… or aws-rds-das-db-…): pass --resource-id`,
      );
    }
    return { streamName: opts.stream, resourceId };
  }
  const cluster = opts.cluster!;
  const info = await withRetry(() => describeActivityStream(rds!, cluster), { attempts: 5 });
  return { streamName: info.streamName ?? '', resourceId: opts.resourceId ?? info.resourceId, info };
}

/** Refusing to run on a stream that is not started (after its health alert). */
export function notStartedError(cluster: string, info: ActivityStreamInfo): ConfigError {
  return new ConfigError(
    `the activity stream of cluster "${cluster}" is ${info.status}${info.streamName === null ? ' (no stream)' : ''}, not started: ` +
      `start it (dasguard stream start --cluster ${cluster} --kms-key <key> --mode async) and run again`,
  );
}

/** Checkpoints older than the stream's retention: the records after them were trimmed unread. */
export async function reportStaleCheckpoints(
  kinesis: KinesisClient,
  store: CheckpointStore,
  streamName: string,
  health: HealthMonitor,
  log: (e: ConsumerLogEntry) => void,
): Promise<void> {
  const saved = await store.load(streamName);
  const candidates = [...saved]
    .filter(([, c]) => !c.finished && c.sequenceNumber !== undefined && c.updatedAt !== undefined)
    .map(([shardId, c]) => ({ shardId, sequenceNumber: c.sequenceNumber!, time: new Date(c.updatedAt!) }));
  if (candidates.length === 0) return;
  let hours = DEFAULT_RETENTION_HOURS;
  try {
    hours = await streamRetentionHours(kinesis, streamName);
  } catch (err) {
    log({ level: 'warn', msg: `could not read the stream's retention (assuming ${hours} h): ${err instanceof Error ? err.message : String(err)}` });
  }
  for (const gap of staleCheckpoints(streamName, candidates, hours, Date.now())) health.onTrimmed(gap);
}
