/**
 * What a source yields to the record driver (src/pipeline/runRecords.ts): a SourceRecord to process, or a `bad`
 * item, an input that could not even become a record (not JSON, no data field), which the driver quarantines in
 * its turn with its position and the head of its text.
 */
import type { PoisonReason } from '../errors.js';
import type { RecordPosition, SourceRecord } from '../types.js';

export type SourceItem =
  | { kind: 'record'; record: SourceRecord }
  | { kind: 'bad'; position: RecordPosition; reason: PoisonReason; message: string; raw?: string };

/** How much of a bad line or value a quarantine entry keeps (`raw`). */
export const RAW_HEAD = 10_000;

/** A `bad` item; `raw` (the input's text) is cut to RAW_HEAD characters. */
export function badItem(position: RecordPosition, reason: PoisonReason, message: string, raw?: string): SourceItem {
  const item: SourceItem = { kind: 'bad', position, reason, message };
  if (raw !== undefined) item.raw = raw.length > RAW_HEAD ? raw.slice(0, RAW_HEAD) : raw;
  return item;
}

/** Where a mapper finds the record's resource id: `override` first, then the record's stream, then `fallback`. */
export interface ResourceIdHints {
  /** Given by the user (--resource-id, DASGUARD_RESOURCE_ID): wins over anything in the input. */
  override?: string | undefined;
  /** Used when the record names no DAS stream (the file's name). */
  fallback?: string | undefined;
}
