/**
 * Kinesis for dasguard: what a Kinesis error means (classifyKinesisError, for the live consumer's calls), and the
 * calls outside the consumer: the stream's retention (for the trimmed-data check at `run` startup).
 */
import { DescribeStreamSummaryCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import { ConfigError, TransientError } from '../errors.js';
import { DEFAULT_RETENTION_HOURS } from '../health/trimmed.js';
import { awsErrorInfo, classifyAwsError } from './errors.js';

/** `RetentionPeriodHours` of a stream. IAM: `kinesis:DescribeStreamSummary`. */
export async function streamRetentionHours(client: KinesisClient, streamName: string): Promise<number> {
  try {
    const out = await client.send(new DescribeStreamSummaryCommand({ StreamName: streamName }));
    return out.StreamDescriptionSummary?.RetentionPeriodHours ?? DEFAULT_RETENTION_HOURS;
  } catch (err) {
    throw classifyAwsError(err, `Kinesis DescribeStreamSummary for stream "${streamName}"`, { configHint: 'the kinesis:DescribeStreamSummary permission, region and stream name' });
  }
}

/**
 * What a Kinesis error means: 'expired' (renew the iterator), 'trimmed' (data past the retention), 'transient'
 * (back off, retry) or a ConfigError / the original error to stop on. Only the Kinesis-specific meanings are
 * decided here; everything else is the shared AWS classification (src/aws/errors.ts).
 */
export function classifyKinesisError(err: unknown, what: string): 'expired' | 'trimmed' | 'transient' | Error {
  if (err instanceof TransientError) return 'transient';
  const { name, message } = awsErrorInfo(err);
  if (name === 'ExpiredIteratorException') return 'expired';
  if (name === 'TrimmedDataAccessException') return 'trimmed';
  if (name === 'InvalidArgumentException' && /trim horizon|trimmed/i.test(message)) return 'trimmed';
  // The stream is being updated (resharding, retention change): it will accept the call again shortly.
  if (name === 'ResourceInUseException') return 'transient';
  if (name === 'ResourceNotFoundException') {
    return new ConfigError(`${what}: ${message} (does the stream exist in this region and account?)`, { cause: err });
  }
  const classified = classifyAwsError(err, what, {
    configHint: 'the AWS credentials, region or permissions (kinesis:ListShards, kinesis:GetShardIterator, kinesis:GetRecords)',
  });
  return classified instanceof TransientError ? 'transient' : classified;
}
