/**
 * What `dasguard decode` prints for a record: each activity event (and with --heartbeats each heartbeat) as one JSON
 * line, redacted under the pipeline's mode and escaped by jsonLine. The ONE place it is rendered: on the main thread,
 * or in the worker that decoded the record (src/pipeline/workers/), so the events need not come back.
 */
import { redactEvent } from '../redaction/index.js';
import type { DecodedBatch } from '../types.js';
import { jsonLine } from '../util/escape.js';
import type { Redaction } from './alert.js';

export interface DecodeRendering {
  redaction: Redaction;
  heartbeats: boolean;
}

/** The record's lines, each ending in a newline ('' for a record with nothing to print). */
export function decodedLines(batch: Pick<DecodedBatch, 'events' | 'heartbeats'>, how: DecodeRendering): string {
  let out = '';
  for (const e of batch.events) out += jsonLine(redactEvent(e, how.redaction)) + '\n';
  if (how.heartbeats) {
    for (const h of batch.heartbeats) out += jsonLine(redactEvent({ ...h.raw, clusterId: h.clusterId, instanceId: h.instanceId, logTimeMs: h.logTimeMs }, how.redaction)) + '\n';
  }
  return out;
}
