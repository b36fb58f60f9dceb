/**
 * Lambda Kinesis events: their types (the parts dasguard reads, shaped like `aws-lambda`'s KinesisStreamEvent) and
 * the one mapper of their records to SourceRecord, shared by the Lambda handler (src/lambda/) and file input (an
 * event saved to a file and replayed).
 */
import { Base64Data } from '../codec/base64.js';
import { ConfigError, PoisonReason } from '../errors.js';
import type { RecordPosition, SourceRecord } from '../types.js';
import { setKinesisFields } from './kinesisFields.js';
import { resourceIdFromStreamName, streamNameFromArn } from './streamName.js';
import { badItem, type ResourceIdHints, type SourceItem } from './types.js';

/** The parts of a Lambda Kinesis event record dasguard reads. */
export interface KinesisStreamRecord {
  kinesis: {
    /** Base64 of the record data. */
    data: string;
    sequenceNumber: string;
    partitionKey: string;
    /** Epoch seconds (with a fraction). */
    approximateArrivalTimestamp: number;
    kinesisSchemaVersion?: string;
  };
  /** `shardId-000000000000:<sequence number>` */
  eventID: string;
  /** `arn:aws:kinesis:REGION:ACCOUNT:stream/aws-rds-das-cluster-…` */
  eventSourceARN: string;
  eventSource?: string;
  eventName?: string;
  eventVersion?: string;
  awsRegion?: string;
  invokeIdentityArn?: string;
}

export interface KinesisStreamEvent {
  Records: KinesisStreamRecord[];
}

export interface KinesisStreamBatchResponse {
  batchItemFailures: { itemIdentifier: string }[];
}

/** Shard id from `eventID` (`shardId-…:seq`), stream name from the ARN (`lambda` without one). */
export function locateLambdaRecord(r: Pick<KinesisStreamRecord, 'eventID' | 'eventSourceARN'>): { shardId: string | undefined; streamName: string } {
  return {
    shardId: shardIdOfEventId(r.eventID),
    streamName: typeof r.eventSourceARN === 'string' && r.eventSourceARN !== '' ? streamNameFromArn(r.eventSourceARN) : 'lambda',
  };
}

function shardIdOfEventId(eventId: unknown): string | undefined {
  if (typeof eventId !== 'string') return undefined;
  const colon = eventId.indexOf(':');
  return colon > 0 ? eventId.slice(0, colon) : undefined;
}

/**
 * The handler's mapper: the record's position is its stream, shard and sequence number. Throws ConfigError when
 * the resource id is neither given nor in the stream name (every record of the stream would fail alike).
 */
export function fromLambdaRecord(r: KinesisStreamRecord, resourceIdOverride: string | undefined): SourceRecord {
  const { shardId, streamName } = locateLambdaRecord(r);
  const resourceId = resourceIdOverride ?? resourceIdFromStreamName(streamName);
  if (resourceId === undefined) {
    throw new ConfigError(
      `cannot tell the DAS resource id of stream "${streamName}" (not named aws-rds-das-<resource id>): set ` +
        'DASGUARD_RESOURCE_ID to the DbClusterResourceId (cluster-…) or DbiResourceId (db-…)',
    );
  }
  const position: RecordPosition = { source: streamName, ...(shardId !== undefined ? { shardId } : {}), sequenceNumber: r.kinesis.sequenceNumber };
  return sourceRecord(r.kinesis as unknown as Record<string, unknown>, position, resourceId);
}

/**
 * File input's mapper: a Lambda event record found at `position` in a file (which gets its sequence number and
 * shard id); one without `kinesis.data` is a `bad` item.
 */
export function lambdaRecordItem(r: Record<string, unknown>, position: RecordPosition, hints: ResourceIdHints): SourceItem {
  const k = r.kinesis as Record<string, unknown> | null;
  if (k === null || typeof k !== 'object' || typeof k.data !== 'string') {
    return badItem(position, PoisonReason.badEnvelope, 'the Lambda Kinesis record has no "kinesis.data" string');
  }
  if (typeof k.sequenceNumber === 'string') position.sequenceNumber = k.sequenceNumber;
  const shardId = shardIdOfEventId(r.eventID);
  if (shardId !== undefined) position.shardId = shardId;
  const rid = hints.override ?? (typeof r.eventSourceARN === 'string' ? resourceIdFromStreamName(r.eventSourceARN) : undefined) ?? hints.fallback;
  return { kind: 'record', record: sourceRecord(k, position, rid) };
}

function sourceRecord(k: Record<string, unknown>, position: RecordPosition, resourceId: string | undefined): SourceRecord {
  const record: SourceRecord = { data: new Base64Data(k.data as string, 'the Lambda Kinesis record\'s "kinesis.data"'), position };
  if (resourceId !== undefined) record.resourceId = resourceId;
  return setKinesisFields(record, k, 'camel');
}
