/** Kinesis calls outside the consumer: the stream's retention (for the trimmed-data check at `run` startup). */
import { DescribeStreamSummaryCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import { DEFAULT_RETENTION_HOURS } from '../health/trimmed.js';
import { classifyAwsError } from './errors.js';

/** `RetentionPeriodHours` of a stream. IAM: `kinesis:DescribeStreamSummary`. */
export async function streamRetentionHours(client: KinesisClient, streamName: string): Promise<number> {
  try {
    const out = await client.send(new DescribeStreamSummaryCommand({ StreamName: streamName }));
    return out.StreamDescriptionSummary?.RetentionPeriodHours ?? DEFAULT_RETENTION_HOURS;
  } catch (err) {
    throw classifyAwsError(err, `Kinesis DescribeStreamSummary for stream "${streamName}"`, { configHint: 'the kinesis:DescribeStreamSummary permission, region and stream name' });
  }
}
