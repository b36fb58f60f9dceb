/**
 * The Lambda handler for a Kinesis event source mapping on a DAS stream, from ready dependencies: the record driver
 * (src/pipeline/runRecords.ts: processRecord, quarantine, alerts to the handoff, one PipelineStats), one record at a
 * time, in order. What is left here is the Lambda's transport policy:
 *
 * - A poison record is quarantined (the `quarantined` log line of quarantineLogFields: stream, shard, sequence number,
 *   reason, message; the live consumer's shape) and NOT reported as failed; so is a record that is not a Lambda
 *   Kinesis record (no `kinesis.data`, a malformed `eventID`...: src/sources/lambdaEvent.ts).
 * - A transient, configuration or unexpected failure stops the batch: that record is reported in
 *   `batchItemFailures` (with `ReportBatchItemFailures`, Lambda retries from it) and later records are left
 *   for the retry. Alerts of the records before it were handed off already. Nothing is retried here: the retry is
 *   Lambda's. The keys are guarded (KeyGuard): a data key that does not decrypt before any of its encryption context
 *   has is a configuration error (wrong DASGUARD_RESOURCE_ID, key or key policy), never a quarantine, unless one of
 *   the next records of the batch decrypts (the driver's look-ahead); the log line's `problem` says which data key
 *   case it is ('never-decrypted', or 'stopped-decrypting': the key worked in this container, then KMS refused).
 * - With alert delivery, alerts go through the delivery outbox (under /tmp) and the handler waits, until a deadline
 *   taken from the remaining time, for them to be DELIVERED: Lambda freezes the process once the handler returns.
 *   Records whose alerts are still pending (or were dead-lettered: /tmp does not outlive the container) are reported
 *   in `batchItemFailures`, so Lambda retries from the first of them; the alerts come again with the same ids.
 * - Logs are JSON lines (one `batch` summary per invocation: every counter of the PipelineStats snapshot, and the
 *   invocation's key and delivery figures; the same line is a CloudWatch EMF document, so its counts are metrics:
 *   src/lambda/emf.ts); never decrypted data.
 */
import type { Writable } from 'node:stream';
import type { DeliveryHandoff, DeliveryTicket } from '../delivery/DeliveryHandoff.js';
import { ConfigError, DataKeyError, DataKeyProblem, TransientError, errorMessage } from '../errors.js';
import { KeyGuard } from '../keys/KeyGuard.js';
import type { KeyProvider } from '../keys/KeyProvider.js';
import type { AlertHandoff } from '../pipeline/AlertHandoff.js';
import { consoleHandoff } from '../delivery/consoleDelivery.js';
import type { Redaction } from '../pipeline/alert.js';
import { PipelineStats, type PipelineSnapshot } from '../pipeline/PipelineStats.js';
import { quarantineLogFields, type QuarantineSink } from '../pipeline/QuarantineSink.js';
import { fromArray, runRecords } from '../pipeline/runRecords.js';
import { Correlator } from '../pipeline/Correlator.js';
import type { CorrelationStore } from '../pipeline/CorrelationStore.js';
import type { SharedRuleState } from '../pipeline/SharedRuleState.js';
import type { StreamObserver } from '../pipeline/StreamObserver.js';
import type { RuleSet } from '../rules/index.js';
import { lambdaRecordItem, requireResourceId, type KinesisStreamBatchResponse, type KinesisStreamEvent, type KinesisStreamRecord } from '../sources/lambdaEvent.js';
import type { SourceItem } from '../sources/types.js';
import { emfMembers } from './emf.js';
import { jsonLog, type LogEntry } from './logging.js';

/** The parts of the Lambda context dasguard reads. */
export interface LambdaContext {
  awsRequestId?: string;
  functionName?: string;
  /** Milliseconds left before the function times out. */
  getRemainingTimeInMillis?: () => number;
}

export type KinesisHandler = (event: KinesisStreamEvent, context?: LambdaContext) => Promise<KinesisStreamBatchResponse>;

/** Time kept free before the Lambda timeout when waiting for deliveries. */
export const DEFAULT_DELIVERY_MARGIN_MS = 1000;

/** Alert delivery from the handler: the alerts of an invocation are delivered before it returns. */
export interface LambdaDelivery {
  handoff: DeliveryHandoff;
  /** The delivery deadline is the remaining time minus this (default DEFAULT_DELIVERY_MARGIN_MS). */
  marginMs?: number;
  /** The delivery deadline without a context (default: the config's drainTimeoutMs, else 30 s). */
  defaultDeadlineMs?: number;
}

/** What every handler needs; `HandlerDeps` adds where alerts go. */
export interface CommonDeps {
  rules: RuleSet;
  keys: KeyProvider;
  observer?: StreamObserver;
  /** Default: JSON lines on stdout. */
  log?: (entry: LogEntry) => void;
  /** Overrides the resource id taken from the stream name. */
  resourceId?: string;
  redaction?: Redaction;
  /**
   * Where correlation rules keep their state between invocations. Default: the container's memory (a cold start,
   * or another container for another shard, starts with empty windows).
   */
  correlationStore?: CorrelationStore;
  /**
   * Correlation state shared by every container and shard (DASGUARD_STATE_TABLE: src/pipeline/DynamoRuleState.ts):
   * a threshold counts the events of every invocation; `correlationStore` is then not used.
   */
  sharedState?: SharedRuleState;
}

export type HandlerDeps = CommonDeps &
  (
    | {
        /** Default: JSON Lines on stdout (CloudWatch Logs). */
        handoff?: AlertHandoff;
        delivery?: never;
      }
    | { delivery: LambdaDelivery; handoff?: never }
  );

/**
 * Totals of one invocation: the summary log line (`batch`). Every counter of the invocation's PipelineStats snapshot,
 * under its name, except its `records` (the records the driver finished), which is `processed` here: `records` is
 * the event's size.
 */
export interface InvocationSummary extends Omit<PipelineSnapshot, 'records'> {
  /** Records in the event. */
  records: number;
  /** Records processed (the PipelineStats `records`). */
  processed: number;
  kmsCalls: number;
  keyCacheHits: number;
  keyCacheMisses: number;
  /** Records reported in batchItemFailures. */
  failed: number;
  /** With delivery: (alert, sink) deliveries done, retried and dead-lettered during the invocation. */
  deliveries?: number;
  deliveryRetries?: number;
  deadLettered?: number;
  /** With delivery: records whose alerts were not delivered by the deadline (reported for retry). */
  undeliveredRecords?: number;
  /** With delivery: (alert, sink) jobs left in the outbox when the handler returned. */
  outboxPending?: number;
}

/** One record of the event, with its place in the batch and what it maps to (a record, or a bad one). */
interface Item {
  index: number;
  r: KinesisStreamRecord;
  source: SourceItem;
}

/** Builds a handler from ready dependencies (tests, or a custom entry point with its own handoff). */
export function createHandler(deps: HandlerDeps): KinesisHandler {
  const log = deps.log ?? jsonLog(process.stdout);
  const delivery = deps.delivery;
  const plain = deps.handoff ?? (delivery ? undefined : defaultHandoff());
  const redaction = deps.redaction ?? 'literals';
  const keys = KeyGuard.wrap(deps.keys, { hint: LAMBDA_KEY_HINT });
  // The correlation state lives across invocations (opened by the first one).
  let correlator: Promise<Correlator | undefined> | undefined;
  // Deliveries resumed from the outbox when the handoff was opened: the first invocation waits for them too.
  let resumed: DeliveryTicket | undefined = delivery?.handoff.resumed;

  return async (event, context) => {
    const requestId = context?.awsRequestId;
    const records = event.Records ?? [];
    const keysBefore = keys.stats();
    const deliveryBefore = delivery?.handoff.stats();
    const stats = new PipelineStats();
    /** The outbox tickets of the records that produced alerts, in batch order. */
    const tickets: { index: number; sequenceNumber: string; ticket: DeliveryTicket }[] = [];
    /** The ticket of the record being handed off (the driver commits it right after). */
    let ticket: DeliveryTicket | undefined;
    const handoff: AlertHandoff = delivery
      ? {
          handOff: async (alerts) => {
            ticket = await delivery.handoff.handOffTracked(alerts);
          },
          close: () => delivery.handoff.close(),
        }
      : plain!;
    const quarantine: QuarantineSink = {
      put: (q) => log({ level: 'warn', msg: 'quarantined', requestId, ...quarantineLogFields(q) }),
    };
    let failedIndex: number | undefined;
    const items: Item[] = records.map((r, index) => ({ index, r, source: lambdaRecordItem(r, { override: deps.resourceId }) }));
    const positionOf = (i: number) => {
      const s = items[i]!.source;
      return s.kind === 'record' ? s.record.position : s.position;
    };

    correlator ??= Correlator.open(deps.rules, { redaction, ...(deps.correlationStore ? { store: deps.correlationStore } : {}), ...(deps.sharedState ? { shared: deps.sharedState } : {}) });
    const correlating = await correlator;
    try {
      await runRecords<Item>(fromArray(items), {
        // A record that is not a Lambda Kinesis record is a bad item: quarantined, never reported for retry.
        toItem: ({ source }) => requireResourceId(source),
        deps: { keys, rules: deps.rules, redaction, ...(correlating ? { correlator: correlating } : {}) },
        stats,
        handoff,
        handOffEmpty: true,
        quarantine,
        ...(deps.observer ? { observer: deps.observer } : {}),
        commit: ({ index, r }) => {
          if (ticket && ticket.batches.length > 0) tickets.push({ index, sequenceNumber: r.kinesis.sequenceNumber, ticket });
          ticket = undefined;
        },
        // One record at a time, never retried here (Lambda retries from the reported record).
        drive: { concurrency: 1, attempts: 1 },
      });
    } catch (err) {
      // Never skip: report this record (the first not processed); Lambda retries the batch from it.
      failedIndex = stats.counters.records;
      if (items[failedIndex] === undefined) throw err; // not a record's failure (every record was committed): the invocation's
      const { source: streamName, shardId, sequenceNumber } = positionOf(failedIndex);
      log({
        level: 'error',
        msg: failureMessage(err),
        requestId,
        errorClass: err instanceof Error ? err.name : typeof err,
        ...(err instanceof DataKeyError ? { problem: err.problem } : {}),
        error: errorMessage(err),
        stream: streamName,
        shardId,
        sequenceNumber,
        unprocessedRecords: records.length - failedIndex,
      });
    }
    // What the records applied so far changed (a retried record is a duplicate to the correlation state: counts once).
    await correlating?.persist();

    const { records: processed, ...counters } = stats.snapshot();
    const sum: InvocationSummary = {
      records: records.length,
      processed,
      ...counters,
      kmsCalls: 0,
      keyCacheHits: 0,
      keyCacheMisses: 0,
      failed: 0,
    };
    // Lambda retries from the lowest sequence number reported: records with undelivered alerts, and the failed one.
    const failedIndexes = new Set<number>(failedIndex !== undefined ? [failedIndex] : []);
    if (delivery && deliveryBefore) {
      const deadlineMs = deliveryDeadline(delivery, context);
      const waitFor = tickets.map((t) => t.ticket);
      const resumedNow = resumed;
      resumed = undefined;
      if (resumedNow && resumedNow.batches.length > 0) waitFor.push(resumedNow);
      const { pending, deadLettered } = await delivery.handoff.settle(waitFor, deadlineMs);
      const undelivered = tickets.filter((t) => pending.includes(t.ticket) || deadLettered.includes(t.ticket));
      for (const t of undelivered) failedIndexes.add(t.index);
      const after = delivery.handoff.stats();
      sum.deliveries = after.delivered - deliveryBefore.delivered;
      sum.deliveryRetries = after.retries - deliveryBefore.retries;
      sum.deadLettered = after.deadLettered - deliveryBefore.deadLettered;
      sum.undeliveredRecords = undelivered.length;
      sum.outboxPending = after.pending;
      if (undelivered.length > 0) {
        const stillPending = undelivered.filter((t) => pending.includes(t.ticket)).length;
        log({
          level: 'error',
          msg: 'alerts not delivered: records reported for retry',
          requestId,
          firstSequenceNumber: undelivered[0]!.sequenceNumber,
          records: undelivered.length,
          pendingAtDeadline: stillPending,
          deadLettered: undelivered.length - stillPending,
          deadlineMs,
          outboxDir: delivery.handoff.outboxDir,
        });
      }
      if (resumedNow && pending.includes(resumedNow)) {
        log({
          level: 'warn',
          msg: 'deliveries resumed from the outbox are still pending: they go on in the next invocations',
          requestId,
          outboxDir: delivery.handoff.outboxDir,
        });
      }
    }
    // Every record has its sequence number (the mapper requires one); '' would be a bad item without one that failed
    // (Lambda then retries the whole batch).
    const batchItemFailures = [...failedIndexes]
      .sort((a, b) => a - b)
      .map((i) => ({ itemIdentifier: positionOf(i).sequenceNumber ?? '' }));
    sum.failed = batchItemFailures.length;

    const keysAfter = keys.stats();
    sum.kmsCalls = keysAfter.backendCalls - keysBefore.backendCalls;
    sum.keyCacheHits = keysAfter.cacheHits - keysBefore.cacheHits;
    sum.keyCacheMisses = keysAfter.cacheMisses - keysBefore.cacheMisses;
    // The summary is also the invocation's metrics (an EMF document: src/lambda/emf.ts).
    log({ level: sum.failed > 0 ? 'warn' : 'info', msg: 'batch', requestId, ...sum, ...emfMembers(sum, context?.functionName, Date.now()) });
    return { batchItemFailures };
  };
}

/** Where alerts go without delivery or a handoff of the caller's: JSON Lines on stdout (CloudWatch Logs). */
export function defaultHandoff(out: Writable = process.stdout): AlertHandoff {
  return consoleHandoff(out, 'jsonl');
}

/** How long to wait for deliveries: the remaining time minus the margin, or the default without a context. */
function deliveryDeadline(d: LambdaDelivery, context: LambdaContext | undefined): number {
  const remaining = context?.getRemainingTimeInMillis?.();
  if (typeof remaining === 'number' && Number.isFinite(remaining)) {
    return Math.max(0, remaining - (d.marginMs ?? DEFAULT_DELIVERY_MARGIN_MS));
  }
  return d.defaultDeadlineMs ?? d.handoff.config.delivery.drainTimeoutMs ?? 30_000;
}

/** What to set or check when no data key of the stream decrypts, in the Lambda's words. */
const LAMBDA_KEY_HINT =
  'set DASGUARD_RESOURCE_ID to the DbClusterResourceId (cluster-…) or DbiResourceId (db-…) of the database that ' +
  'wrote the stream when the stream name does not carry it, and check DASGUARD_KMS_KEY_ID and the key policy ' +
  "(kms:Decrypt under the stream's encryption context)";

function failureMessage(err: unknown): string {
  if (err instanceof TransientError) return 'transient failure: record reported for retry';
  if (err instanceof DataKeyError && err.problem === DataKeyProblem.stoppedDecrypting) {
    return (
      'DATA KEY FAILURE: data keys decrypted in this container before, now KMS refuses (access revoked, key disabled ' +
      'or deleted); record reported for retry until the key works again'
    );
  }
  if (err instanceof DataKeyError) {
    return (
      'CONFIGURATION ERROR: no data key has decrypted under the encryption context (wrong resource id, KMS key or ' +
      'key policy): every record will fail until it is fixed; record reported for retry'
    );
  }
  if (err instanceof ConfigError) {
    return 'CONFIGURATION ERROR: every record will fail until it is fixed; record reported for retry';
  }
  return 'unexpected failure: record reported for retry';
}
