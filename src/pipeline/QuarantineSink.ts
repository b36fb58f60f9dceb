/**
 * Where the record driver (runRecords) puts what it quarantines: a record or an event that can never be processed,
 * or an input that could not become a record. One port, one adapter per driver: replay's JSONL file
 * (JsonlQuarantineFile, `--quarantine-file`), and the `quarantined` log line of the live consumer (ShardReader) and
 * the Lambda handler, whose fields are `quarantineLogFields` below (one shape for both). Entries never carry
 * decrypted data: `raw` is the record as it came in, and a quarantine's message is made safe where it is written
 * (src/codec/decode.ts withholds what a parser quotes of a decrypted payload).
 */
import type { SourceRecord } from '../types.js';
import type { Quarantined } from './processRecord.js';

/** What the quarantined entry came from: the record it was in, or a bad input's text (its head). */
export interface QuarantineOrigin {
  record?: SourceRecord;
  raw?: string;
}

export interface QuarantineSink {
  /** Called in record order; the driver waits for it (a file honours backpressure). */
  put(q: Quarantined, origin: QuarantineOrigin): void | Promise<void>;
}

/**
 * The fields of a `quarantined` log line (the live consumer and the Lambda add their own context: level, msg, the
 * request id): where the record is (stream, shard, sequence number), why (`reason`, one of PoisonReason), the
 * message, and the event's index when one event (not the whole record) was rejected.
 */
export function quarantineLogFields(q: Quarantined): Record<string, unknown> {
  return {
    stream: q.position.source,
    shardId: q.position.shardId,
    sequenceNumber: q.position.sequenceNumber,
    reason: q.reason,
    message: q.message,
    ...(q.eventIndex !== undefined ? { eventIndex: q.eventIndex } : {}),
  };
}
