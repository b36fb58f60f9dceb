/**
 * Lambda Kinesis events: their types (the parts dasguard reads, shaped like `aws-lambda`'s KinesisStreamEvent) and
 * the one mapper of their records to a SourceItem (a SourceRecord, or a bad item that is quarantined), shared by the
 * Lambda handler (src/lambda/) and file input (an event saved to a file and replayed).
 */
import { Base64Data } from '../codec/base64.js';
import { ConfigError, PoisonReason } from '../errors.js';
import type { RecordPosition, SourceRecord } from '../types.js';
import { setKinesisFields } from './kinesisFields.js';
import { isStreamArn, resourceIdFromStreamName, streamNameFromArn } from './streamName.js';
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

/**
 * THE mapper of a Lambda Kinesis record, for the handler and for file input: a SourceRecord, or a `bad` item
 * (bad-envelope) when the record is not one: not an object, no `kinesis.data` or `kinesis.sequenceNumber` string, an
 * `eventID` that is not `<shard id>:<sequence number>`, an `eventSourceARN` that is not a Kinesis stream ARN (either
 * may be absent: a hand-made event). The record's position is `at` (a file's line and index), or else its stream (the
 * ARN's stream name, `lambda` without one); either way with its shard id and sequence number. The resource id comes
 * from `hints.override`, the stream name, then `hints.fallback`; it may stay unknown (see `requireResourceId`).
 */
export function lambdaRecordItem(r: unknown, hints: ResourceIdHints, at?: RecordPosition): SourceItem {
  const rec = isObject(r) ? r : undefined;
  const k = rec !== undefined && isObject(rec.kinesis) ? rec.kinesis : undefined;
  const arn = rec?.eventSourceARN;
  const streamName = typeof arn === 'string' && isStreamArn(arn) ? streamNameFromArn(arn) : undefined;
  const shardId = shardIdOfEventId(rec?.eventID);
  // Whatever could be read goes into the position, so that even a bad record's quarantine line says where it was.
  const position: RecordPosition = at ? { ...at } : { source: streamName ?? 'lambda' };
  if (shardId !== undefined) position.shardId = shardId;
  if (typeof k?.sequenceNumber === 'string') position.sequenceNumber = k.sequenceNumber;
  const bad = (problem: string) => badItem(position, PoisonReason.badEnvelope, `the Lambda Kinesis record ${problem}`);
  if (rec === undefined) return bad(`is not a JSON object (${shown(r)})`);
  if (k === undefined || typeof k.data !== 'string') return bad('has no "kinesis.data" string');
  if (typeof k.sequenceNumber !== 'string') return bad('has no "kinesis.sequenceNumber" string');
  if (rec.eventID !== undefined && shardId === undefined) return bad(`has an "eventID" that is not <shard id>:<sequence number> (${shown(rec.eventID)})`);
  if (arn !== undefined && streamName === undefined) return bad(`has an "eventSourceARN" that is not a Kinesis stream ARN (${shown(arn)})`);
  const resourceId = hints.override ?? (streamName !== undefined ? resourceIdFromStreamName(streamName) : undefined) ?? hints.fallback;
  const record: SourceRecord = { data: new Base64Data(k.data, 'the Lambda Kinesis record\'s "kinesis.data"'), position };
  if (resourceId !== undefined) record.resourceId = resourceId;
  return { kind: 'record', record: setKinesisFields(record, k, 'camel') };
}

/**
 * The handler's check, at the record's turn: a record whose resource id is neither given nor in its stream name is a
 * ConfigError (every record of the stream would fail alike: DASGUARD_RESOURCE_ID must be set). A bad item passes.
 */
export function requireResourceId(item: SourceItem): SourceItem {
  if (item.kind === 'record' && item.record.resourceId === undefined) {
    throw new ConfigError(
      `cannot tell the DAS resource id of stream "${item.record.position.source}" (not named aws-rds-das-<resource id>): set ` +
        'DASGUARD_RESOURCE_ID to the DbClusterResourceId (cluster-…) or DbiResourceId (db-…)',
    );
  }
  return item;
}

/** The shard id of an `eventID` (`shardId-…:<sequence number>`), undefined when it is not one. */
function shardIdOfEventId(eventId: unknown): string | undefined {
  if (typeof eventId !== 'string') return undefined;
  const colon = eventId.indexOf(':');
  return colon > 0 && colon < eventId.length - 1 ? eventId.slice(0, colon) : undefined;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** A value as a bad item's message shows it: JSON, cut to 100 characters. */
function shown(v: unknown): string {
  const text = v === undefined ? 'undefined' : JSON.stringify(v);
  return text.length > 100 ? `${text.slice(0, 100)}…` : text;
}
