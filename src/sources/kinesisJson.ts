/**
 * A Kinesis record written as JSON -> SourceRecord: one line of Kinesis JSON Lines (`{"Data": base64,
 * "SequenceNumber", "PartitionKey", "ApproximateArrivalTimestamp", "ShardId"?, "StreamName"?}`, what dasguard captures
 * and most dump scripts write), or one element of the `Records` of `aws kinesis get-records` output. A record that
 * is not usable is a `bad` item.
 */
import { Base64Data } from '../codec/base64.js';
import { PoisonReason } from '../errors.js';
import type { RecordPosition, SourceRecord } from '../types.js';
import { setKinesisFields } from './kinesisFields.js';
import { resourceIdFromStreamName } from './streamName.js';
import { badItem, type ResourceIdHints, type SourceItem } from './types.js';

/** `position` gets the record's sequence number and shard id, when it has them. */
export function fromKinesisJson(r: unknown, position: RecordPosition, hints: ResourceIdHints): SourceItem {
  if (r === null || typeof r !== 'object') return badItem(position, PoisonReason.badEnvelope, 'a Kinesis record must be an object');
  const o = r as Record<string, unknown>;
  if (typeof o.SequenceNumber === 'string') position.sequenceNumber = o.SequenceNumber;
  if (typeof o.ShardId === 'string') position.shardId = o.ShardId;
  if (typeof o.Data !== 'string') {
    return badItem(position, PoisonReason.badEnvelope, 'the Kinesis record has no "Data" string (base64 of the record data)');
  }
  const record: SourceRecord = { data: new Base64Data(o.Data, 'the Kinesis record\'s "Data"'), position };
  const rid = hints.override ?? (typeof o.StreamName === 'string' ? resourceIdFromStreamName(o.StreamName) : undefined) ?? hints.fallback;
  if (rid !== undefined) record.resourceId = rid;
  return { kind: 'record', record: setKinesisFields(record, o, 'pascal') };
}
