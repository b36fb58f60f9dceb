/**
 * Where the record driver (runRecords) puts what it quarantines: a record or an event that can never be processed,
 * or an input that could not become a record. One port, one adapter per driver: replay's JSONL file
 * (JsonlQuarantineFile, `--quarantine-file`), and a structured log line for the live consumer (ShardReader) and the
 * Lambda handler, with their own fields. Entries never carry decrypted data: `raw` is the record as it came in.
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
