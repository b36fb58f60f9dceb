/**
 * A record of the Kinesis API as the SDK returns it (`GetRecords`: `_Record`, data as bytes) -> SourceRecord: the
 * mapper of the live consumer (ShardReader).
 */
import type { _Record } from '@aws-sdk/client-kinesis';
import type { SourceRecord } from '../types.js';
import { setKinesisFields } from './kinesisFields.js';

export interface ShardContext {
  streamName: string;
  shardId: string;
  resourceId?: string | undefined;
}

export function fromSdkRecord(r: _Record, at: ShardContext): SourceRecord {
  const rec: SourceRecord = {
    data: r.Data ?? new Uint8Array(0),
    position: { source: at.streamName, shardId: at.shardId, sequenceNumber: r.SequenceNumber! },
  };
  if (at.resourceId !== undefined) rec.resourceId = at.resourceId;
  return setKinesisFields(rec, r, 'pascal');
}
