/**
 * The one path every record takes, whatever its source (file replay, the live consumer, Lambda):
 * source record -> decode (envelope, key, decrypt, gunzip, parse, normalise) -> rules -> alerts.
 * A poison record (one that can never be processed) is returned as quarantined, never thrown; a transient or
 * configuration failure is thrown, so the caller retries or stops without skipping the record.
 */
import { decodeRecord, type DecodeContext } from '../codec/decode.js';
import { PoisonReason, PoisonRecordError } from '../errors.js';
import type { KeyProvider } from '../keys/KeyProvider.js';
import type { RuleSet } from '../rules/index.js';
import type { DecodedBatch, RecordPosition, SourceRecord } from '../types.js';
import { formatPosition } from '../types.js';
import { buildAlert, type Alert, type Redaction } from './alert.js';

export interface Quarantined {
  position: RecordPosition;
  reason: string;
  message: string;
  /** Index of the event inside the record, when one event (not the whole record) was rejected. */
  eventIndex?: number;
}

export interface RecordOutcome {
  position: RecordPosition;
  batch?: DecodedBatch;
  alerts: Alert[];
  /** The record (or some of its events) could not be used. */
  quarantined: Quarantined[];
  warnings: string[];
}

export interface ProcessorDeps {
  /** Absent: only plaintext records can be decoded. */
  keys?: KeyProvider;
  /** Absent: decode only (no evaluation). */
  rules?: RuleSet;
  redaction?: Redaction;
  /** Payload decryption + gunzip off the main thread (a DecryptPool's `decrypt`); absent: on this thread. */
  decrypt?: DecodeContext['decrypt'];
}

export async function processRecord(record: SourceRecord, deps: ProcessorDeps): Promise<RecordOutcome> {
  let batch: DecodedBatch;
  try {
    const ctx: DecodeContext = {};
    if (deps.keys) ctx.keys = deps.keys;
    if (deps.decrypt) ctx.decrypt = deps.decrypt;
    if (record.resourceId !== undefined) ctx.resourceId = record.resourceId;
    batch = await decodeRecord(record.data, ctx);
  } catch (err) {
    if (err instanceof PoisonRecordError) {
      return {
        position: record.position,
        alerts: [],
        quarantined: [{ position: record.position, reason: err.reason, message: err.message }],
        warnings: [],
      };
    }
    throw err;
  }
  return evaluateBatch(batch, record.position, deps);
}

/** Rules over a decoded batch: heartbeats are never evaluated; rejected events are quarantined one by one. */
export function evaluateBatch(batch: DecodedBatch, position: RecordPosition, deps: ProcessorDeps): RecordOutcome {
  const redaction = deps.redaction ?? 'literals';
  const alerts: Alert[] = [];
  const rules = deps.rules;
  if (rules) {
    for (const event of batch.events) {
      for (const m of rules.evaluate(event, 'activity')) alerts.push(buildAlert(m, event, position, redaction));
    }
  }
  const quarantined: Quarantined[] = batch.rejected.map((r) => ({
    position,
    reason: r.poisonReason ?? PoisonReason.badEvent,
    message: `event ${r.index}: ${r.reason}`,
    eventIndex: r.index,
  }));
  return { position, batch, alerts, quarantined, warnings: batch.warnings };
}

export function describeQuarantine(q: Quarantined): string {
  return `${formatPosition(q.position)}: ${q.reason}: ${q.message}`;
}
