/** Types shared by every stage: source record -> decoded batch -> activity events -> rule matches -> alerts. */
import type { Base64Data } from './codec/base64.js';
import type { PoisonReason } from './errors.js';
import type { KinesisRecordFields } from './sources/kinesisFields.js';

export type DbEngine = 'postgresql' | 'mysql' | 'oracle' | 'sqlserver' | 'unknown';

/** The KMS encryption context a DAS data key was encrypted under. */
export type EncryptionContext = Record<string, string>;

/** Where a record came from: enough for a user to find it again. */
export interface RecordPosition {
  /** A file path, `stdin`, a Kinesis stream name, or `lambda`. */
  source: string;
  /** 1-based line in `source` where the record starts (file inputs). */
  line?: number;
  /** Index of the record inside a multi-record document (get-records output, JSON arrays). */
  index?: number;
  shardId?: string;
  sequenceNumber?: string;
}

export function formatPosition(p: RecordPosition): string {
  const parts: string[] = [];
  parts.push(p.line !== undefined ? `${p.source}:${p.line}` : p.source);
  if (p.index !== undefined) parts.push(`record ${p.index}`);
  if (p.shardId !== undefined) parts.push(`shard ${p.shardId}`);
  if (p.sequenceNumber !== undefined) parts.push(`sequence ${p.sequenceNumber}`);
  return parts.join(' ');
}

/**
 * One record as read from any source (file, Kinesis, Lambda). `data` is the Kinesis record's data: the
 * bytes of the envelope JSON; file inputs holding plaintext DAS JSON pass the parsed object instead. The Kinesis
 * record's metadata (`partitionKey`, `arrivalTime`, ...) are the fields of src/sources/kinesisFields.ts's table,
 * declared there and only there.
 */
export interface SourceRecord extends KinesisRecordFields {
  /** Bytes (Kinesis), base64 text still to decode (a file's or a Lambda event's record), or parsed plaintext JSON. */
  data: Uint8Array | Base64Data | Record<string, unknown>;
  position: RecordPosition;
  /** The DAS resource id (`cluster-…` or `db-…`) that selects the KMS encryption context, when known. */
  resourceId?: string;
}

/**
 * A DAS activity event, normalised. Every field of the original event is kept verbatim (unknown ones
 * included); dasguard adds the fields below, which rules may use on every engine.
 */
export interface ActivityEvent {
  [field: string]: unknown;
  /** Added: the engine, from `serverType`/`serviceName` (or the record version). */
  engine: DbEngine;
  /** Added: the DAS cluster resource id of the record (`cluster-…`), or null. */
  clusterId: string | null;
  /** Added: the DAS instance resource id of the record (`db-…`), or null. */
  instanceId: string | null;
  /** Added: the envelope version ("1.0" … "1.4"), or null for a bare record. */
  recordVersion: string | null;
  /** Added: `logTime` as epoch milliseconds, or null when absent or unparseable. */
  logTimeMs: number | null;
  /** Added: `startTime` as epoch milliseconds, or null. */
  startTimeMs: number | null;
  /** Added: `endTime` as epoch milliseconds, or null. */
  endTimeMs: number | null;
  /** Added: `rowCount` as a number, or null when the source has none. */
  rows: number | null;
  /**
   * Added: the SQL command in upper case, the same on every engine: PostgreSQL's `command`
   * ("CREATE TABLE"); for MySQL MAIN events the leading keywords of `commandText` ("CREATE TABLE",
   * "GRANT") or `command` for non-query events (CONNECT, FAILED_CONNECT); null for MySQL AUX events, which
   * describe objects, not statements.
   */
  sqlCommand: string | null;
  /**
   * Added: for DELETE and UPDATE statements, whether the first statement of `commandText` has a WHERE clause of
   * its own that tests something (read outside comments and literals, at parenthesis depth 0; `WHERE 1=1` does
   * not count); null for other statements and events without statement text.
   */
  sqlHasWhere: boolean | null;
  /** Added: how many comments `commandText` holds (executable comments MySQL runs are code); null without text. */
  sqlComments: number | null;
}

/** A heartbeat: liveness only, never evaluated as activity. */
export interface Heartbeat {
  clusterId: string | null;
  instanceId: string | null;
  logTime: string | null;
  logTimeMs: number | null;
  raw: Record<string, unknown>;
}

/** An event of a record that could not be used (not an object, unknown `type`, too deep): quarantined on its own. */
export interface RejectedEvent {
  index: number;
  reason: string;
  /** The quarantine reason; absent: `bad-event`. */
  poisonReason?: PoisonReason;
  /** The event as it came; undefined when it is too deep to be handled safely. */
  raw: unknown;
}

/** One Kinesis record, decoded. */
export interface DecodedBatch {
  clusterId: string | null;
  instanceId: string | null;
  /** Envelope version, or null for a bare `DatabaseActivityMonitoringRecord`. */
  version: string | null;
  events: ActivityEvent[];
  heartbeats: Heartbeat[];
  rejected: RejectedEvent[];
  /** Non-fatal oddities, e.g. an unknown version decoded best-effort. */
  warnings: string[];
  /** Whether the payload was encrypted (false for plaintext DAS JSON). */
  encrypted: boolean;
}

/**
 * What the driver and the stream's observers need of a decoded batch (counts, and which instances it shows alive),
 * without its events: a record decoded in a worker thread keeps its events there (src/pipeline/workers/).
 */
export interface BatchSummary {
  clusterId: string | null;
  instanceId: string | null;
  version: string | null;
  encrypted: boolean;
  eventCount: number;
  heartbeatCount: number;
  /** The distinct instance ids of its events, in first-seen order. */
  eventInstances: (string | null)[];
  /** The distinct instance ids of its heartbeats, in first-seen order. */
  heartbeatInstances: (string | null)[];
}

/** A decoded batch's summary (BatchSummary). */
export function summarizeBatch(batch: DecodedBatch): BatchSummary {
  const distinct = (items: readonly { instanceId: string | null }[]): (string | null)[] => [...new Set(items.map((i) => i.instanceId))];
  return {
    clusterId: batch.clusterId,
    instanceId: batch.instanceId,
    version: batch.version,
    encrypted: batch.encrypted,
    eventCount: batch.events.length,
    heartbeatCount: batch.heartbeats.length,
    eventInstances: distinct(batch.events),
    heartbeatInstances: distinct(batch.heartbeats),
  };
}

export const Severities = ['info', 'low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof Severities)[number];

export function severityRank(s: Severity): number {
  return Severities.indexOf(s);
}
