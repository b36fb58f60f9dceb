/**
 * The AWS Lambda handler for a Kinesis event source mapping on a DAS stream: the same `processRecord` path as
 * replay and the live consumer, one record at a time, in order.
 *
 * - Rules, the KMS key provider (and its data-key cache) and the alert handoff are built ONCE per container,
 *   on the first invocation; invalid rules make that invocation throw with every problem in the message.
 * - A poison record is quarantined (logged with shard, sequence number and reason) and NOT reported as failed.
 * - A transient, configuration or unexpected failure stops the batch: that record is reported in
 *   `batchItemFailures` (with `ReportBatchItemFailures`, Lambda retries from it) and later records are left
 *   for the retry. Alerts of the records before it were handed off already. The keys are guarded (KeyGuard):
 *   a data key that does not decrypt before any of its encryption context has is a configuration error (wrong
 *   DASGUARD_RESOURCE_ID, key or key policy), never a quarantine; the log line's `problem` says which data key
 *   case it is ('never-decrypted', or 'stopped-decrypting': the key worked in this container, then KMS refused).
 * - With alert delivery configured (DASGUARD_CONFIG, DASGUARD_SNS_TOPIC_ARN, DASGUARD_SLACK_WEBHOOK_URL), alerts go
 *   through the delivery outbox (under /tmp) and the handler waits, until a deadline taken from the remaining
 *   time, for them to be DELIVERED: Lambda freezes the process once the handler returns. Records whose alerts are
 *   still pending (or were dead-lettered: /tmp does not outlive the container) are reported in
 *   `batchItemFailures`, so Lambda retries from the first of them; the alerts come again with the same ids.
 * - Logs are JSON lines (one summary per invocation); never decrypted data.
 *
 * Handler: `dist/lambda.handler`. Environment: DASGUARD_RULES (comma-separated rule files or directories,
 * default the bundled rules/), DASGUARD_RESOURCE_ID (when the stream name is not `aws-rds-das-<resource id>`),
 * DASGUARD_KMS_KEY_ID (only accept data keys of this KMS key), DASGUARD_REDACTION (`literals` | `full` | `none`),
 * DASGUARD_CONFIG (a dasguard.yaml), DASGUARD_SNS_TOPIC_ARN, DASGUARD_SLACK_WEBHOOK_URL, DASGUARD_OUTBOX_DIR.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import { resolveDeliveryConfig, shortcutConfig, type DeliveryConfig } from './delivery/config.js';
import { DeliveryHandoff, type DeliveryTicket } from './delivery/DeliveryHandoff.js';
import { ConfigError, DasguardError, DataKeyError, DataKeyProblem, PoisonReason, TransientError, errorMessage } from './errors.js';
import { KeyGuard } from './keys/KeyGuard.js';
import { resourceIdFromStreamName, type KeyProvider } from './keys/KeyProvider.js';
import { KmsKeyProvider } from './keys/KmsKeyProvider.js';
import type { AlertHandoff } from './pipeline/AlertHandoff.js';
import { consoleHandoff } from './delivery/consoleDelivery.js';
import type { Redaction } from './pipeline/alert.js';
import { REDACTION_MODES } from './redaction/index.js';
import { KEY_VERDICT_LOOKAHEAD } from './pipeline/drive.js';
import { processRecord, type Quarantined, type RecordOutcome } from './pipeline/processRecord.js';
import type { StreamObserver } from './pipeline/StreamObserver.js';
import { formatProblem, loadRules, type RuleSet } from './rules/index.js';
import { isError as isErrorProblem } from './rules/problems.js';
import type { SourceRecord } from './types.js';
import { jsonLine } from './util/escape.js';
import { Base64Data } from './codec/base64.js';

/** The parts of a Lambda Kinesis event dasguard reads (the shape of `aws-lambda`'s KinesisStreamEvent). */
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

/** The parts of the Lambda context dasguard reads. */
export interface LambdaContext {
  awsRequestId?: string;
  functionName?: string;
  /** Milliseconds left before the function times out. */
  getRemainingTimeInMillis?: () => number;
}

/** One structured log line. Never carries decrypted data. */
export type LogEntry = { level: 'info' | 'warn' | 'error'; msg: string } & Record<string, unknown>;

export type KinesisHandler = (event: KinesisStreamEvent, context?: LambdaContext) => Promise<KinesisStreamBatchResponse>;

/** Time kept free before the Lambda timeout when waiting for deliveries. */
export const DEFAULT_DELIVERY_MARGIN_MS = 1000;
/** The Lambda's outbox when DASGUARD_OUTBOX_DIR is not set: /tmp is the only writable place. */
export const LAMBDA_OUTBOX_DIR = '/tmp/dasguard-outbox';

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

/** Totals of one invocation: the summary log line. */
export interface InvocationSummary {
  records: number;
  processed: number;
  events: number;
  heartbeats: number;
  alerts: number;
  quarantinedRecords: number;
  quarantinedEvents: number;
  kmsCalls: number;
  keyCacheHits: number;
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

/** Builds a handler from ready dependencies (tests, or a custom entry point with its own handoff). */
export function createHandler(deps: HandlerDeps): KinesisHandler {
  const log = deps.log ?? jsonLog(process.stdout);
  const delivery = deps.delivery;
  const handoff: AlertHandoff = delivery?.handoff ?? deps.handoff ?? consoleHandoff(process.stdout, 'jsonl');
  const redaction = deps.redaction ?? 'literals';
  const keys = KeyGuard.wrap(deps.keys, { hint: LAMBDA_KEY_HINT });
  // Deliveries resumed from the outbox when the handoff was opened: the first invocation waits for them too.
  let resumed: DeliveryTicket | undefined = delivery?.handoff.resumed;

  return async (event, context) => {
    const requestId = context?.awsRequestId;
    const records = event.Records ?? [];
    const keysBefore = keys.stats();
    const deliveryBefore = delivery?.handoff.stats();
    /** The outbox tickets of the records that produced alerts, in batch order. */
    const tickets: { index: number; sequenceNumber: string; ticket: DeliveryTicket }[] = [];
    let failedIndex: number | undefined;
    const sum: InvocationSummary = {
      records: records.length,
      processed: 0,
      events: 0,
      heartbeats: 0,
      alerts: 0,
      quarantinedRecords: 0,
      quarantinedEvents: 0,
      kmsCalls: 0,
      keyCacheHits: 0,
      failed: 0,
    };

    for (const [index, r] of records.entries()) {
      const { shardId, streamName } = locate(r);
      const sequenceNumber = r.kinesis.sequenceNumber;
      try {
        const record = sourceRecord(r, shardId, streamName, deps.resourceId);
        const evaluate = () => processRecord(record, { keys, rules: deps.rules, redaction });
        const outcome = await evaluate().catch(async (err: unknown) => {
          if (!(err instanceof DataKeyError && err.retryAfterInFlight)) throw err;
          // Is the key wrong, or only this record? The rest of the batch tells (as the records in flight do for
          // replay and run): once one of them decrypts, this record is poison (quarantined), else the key is wrong.
          await decryptAhead(records.slice(index + 1, index + KEY_VERDICT_LOOKAHEAD), keys, deps.resourceId);
          return evaluate();
        });
        for (const q of outcome.quarantined) {
          if (q.eventIndex === undefined) sum.quarantinedRecords++;
          else sum.quarantinedEvents++;
          log({ level: 'warn', msg: 'quarantined', requestId, ...quarantineFields(q, streamName, shardId, sequenceNumber) });
        }
        const batch = outcome.batch;
        if (batch) {
          sum.events += batch.events.length;
          sum.heartbeats += batch.heartbeats.length;
          const info: { shardId?: string; arrivalTime?: number } = {};
          if (shardId !== undefined) info.shardId = shardId;
          if (record.arrivalTime !== undefined) info.arrivalTime = record.arrivalTime;
          deps.observer?.onBatch?.(batch, info);
        }
        if (delivery) {
          const ticket = await delivery.handoff.handOffTracked(outcome.alerts);
          if (ticket.batches.length > 0) tickets.push({ index, sequenceNumber, ticket });
        } else {
          await handoff.handOff(outcome.alerts);
        }
        sum.alerts += outcome.alerts.length;
        sum.processed++;
      } catch (err) {
        // Never skip: report this record; Lambda retries the batch from it. Later records wait for the retry.
        failedIndex = index;
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
          unprocessedRecords: records.length - sum.processed,
        });
        break;
      }
    }

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
    const batchItemFailures = [...failedIndexes]
      .sort((a, b) => a - b)
      .map((i) => ({ itemIdentifier: records[i]!.kinesis.sequenceNumber }));
    sum.failed = batchItemFailures.length;

    const keysAfter = keys.stats();
    sum.kmsCalls = keysAfter.backendCalls - keysBefore.backendCalls;
    sum.keyCacheHits = keysAfter.cacheHits - keysBefore.cacheHits;
    log({ level: sum.failed > 0 ? 'warn' : 'info', msg: 'batch', requestId, ...sum });
    return { batchItemFailures };
  };
}

/** How long to wait for deliveries: the remaining time minus the margin, or the default without a context. */
function deliveryDeadline(d: LambdaDelivery, context: LambdaContext | undefined): number {
  const remaining = context?.getRemainingTimeInMillis?.();
  if (typeof remaining === 'number' && Number.isFinite(remaining)) {
    return Math.max(0, remaining - (d.marginMs ?? DEFAULT_DELIVERY_MARGIN_MS));
  }
  return d.defaultDeadlineMs ?? d.handoff.config.delivery.drainTimeoutMs ?? 30_000;
}


/**
 * Decodes `ahead` (keys only: no rules, nothing handed off) until one decrypts, so that the guard knows whether the
 * key works. Their own failures are not decided here: each record meets them again, in order, when its turn comes.
 */
async function decryptAhead(ahead: readonly KinesisStreamRecord[], keys: KeyGuard, resourceIdOverride: string | undefined): Promise<void> {
  for (const r of ahead) {
    const { shardId, streamName } = locate(r);
    let outcome: RecordOutcome;
    try {
      outcome = await processRecord(sourceRecord(r, shardId, streamName, resourceIdOverride), { keys });
    } catch (err) {
      if (err instanceof DasguardError) continue; // met again, and decided, when this record's turn comes
      throw err;
    }
    if (outcome.batch?.encrypted) return;
  }
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

/** Shard id from `eventID` (`shardId-…:seq`), stream name from the ARN. */
function locate(r: KinesisStreamRecord): { shardId: string | undefined; streamName: string } {
  const colon = r.eventID?.indexOf(':') ?? -1;
  const shardId = colon > 0 ? r.eventID.slice(0, colon) : undefined;
  const arn = r.eventSourceARN ?? '';
  const slash = arn.lastIndexOf('stream/');
  const streamName = slash >= 0 ? arn.slice(slash + 'stream/'.length).split('/')[0]! : arn || 'lambda';
  return { shardId, streamName };
}

function sourceRecord(
  r: KinesisStreamRecord,
  shardId: string | undefined,
  streamName: string,
  resourceIdOverride: string | undefined,
): SourceRecord {
  const resourceId = resourceIdOverride ?? resourceIdFromStreamName(streamName);
  if (resourceId === undefined) {
    throw new ConfigError(
      `cannot tell the DAS resource id of stream "${streamName}" (not named aws-rds-das-<resource id>): set ` +
        'DASGUARD_RESOURCE_ID to the DbClusterResourceId (cluster-…) or DbiResourceId (db-…)',
    );
  }
  const record: SourceRecord = {
    data: new Base64Data(r.kinesis.data, 'the record\'s "kinesis.data"'),
    position: {
      source: streamName,
      ...(shardId !== undefined ? { shardId } : {}),
      sequenceNumber: r.kinesis.sequenceNumber,
    },
    resourceId,
    partitionKey: r.kinesis.partitionKey,
  };
  if (typeof r.kinesis.approximateArrivalTimestamp === 'number') {
    record.arrivalTime = Math.round(r.kinesis.approximateArrivalTimestamp * 1000);
  }
  return record;
}

/** What a quarantine log line says. Parser messages about the decrypted payload quote it: withheld. */
function quarantineFields(q: Quarantined, stream: string, shardId: string | undefined, sequenceNumber: string) {
  const message =
    q.reason === PoisonReason.payloadNotJson
      ? 'decrypted payload is not JSON (parser details withheld: they quote decrypted data)'
      : q.message;
  return {
    stream,
    shardId,
    sequenceNumber,
    reason: q.reason,
    message,
    ...(q.eventIndex !== undefined ? { eventIndex: q.eventIndex } : {}),
  };
}

function jsonLog(out: Writable): (entry: LogEntry) => void {
  return (entry) => {
    out.write(jsonLine({ time: new Date().toISOString(), service: 'dasguard', ...entry }) + '\n');
  };
}

/** The bundled rule pack: `<package>/rules`, from src/ or dist/. */
export function bundledRulesPath(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', 'rules');
}

export interface EnvHandlerOptions {
  env?: NodeJS.ProcessEnv;
  /** Where alerts go without delivery config, and console sinks writing to stdout (default stdout). */
  stdout?: Writable;
  /** Where log lines go (default stdout). */
  logOut?: Writable;
  /** Replaces the default KmsKeyProvider (tests). */
  keys?: KeyProvider;
  /** Replaces the handoff, delivery config included (tests). */
  handoff?: AlertHandoff;
  observer?: StreamObserver;
  /** Kept before the timeout when waiting for deliveries (default DEFAULT_DELIVERY_MARGIN_MS). */
  deliveryMarginMs?: number;
}

/** The env handler, plus `close()` for whoever owns the process (tests, a custom entry point). */
export interface EnvHandler extends KinesisHandler {
  /** Sends suppression digests, waits up to `deadlineMs` for deliveries, releases the outbox. */
  close(deadlineMs?: number): Promise<void>;
}

/**
 * The delivery config the environment asks for: DASGUARD_CONFIG (a dasguard.yaml, `${ENV}` substituted from `env`)
 * and the shortcuts DASGUARD_SNS_TOPIC_ARN / DASGUARD_SLACK_WEBHOOK_URL (one extra route each, as the CLI's
 * --sns-topic-arn / --slack-webhook-url); undefined when none is set (no implicit ./dasguard.yaml in a Lambda).
 * Throws one ConfigError listing every problem. `loadedRuleIds`: the ids of the loaded rules, which the config's
 * `rules:` patterns must match (undefined when the rules did not load: their problems are reported instead).
 */
export async function lambdaDeliveryConfig(env: NodeJS.ProcessEnv, loadedRuleIds: readonly string[] | undefined): Promise<DeliveryConfig | undefined> {
  const configPath = env.DASGUARD_CONFIG?.trim() || undefined;
  const snsTopicArn = env.DASGUARD_SNS_TOPIC_ARN?.trim() || undefined;
  const slackWebhookUrl = env.DASGUARD_SLACK_WEBHOOK_URL?.trim() || undefined;
  if (configPath === undefined && snsTopicArn === undefined && slackWebhookUrl === undefined) return undefined;
  const problems: string[] = [];
  const collect = (label: string, fn: () => unknown): void => {
    try {
      fn();
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      // shortcutConfig names the CLI flag; here the setting is the environment variable.
      problems.push(`${label}: ${err.message.replace(/^--[a-z-]+: /, '')}`);
    }
  };
  let base: DeliveryConfig | undefined;
  if (configPath !== undefined) {
    try {
      base = await resolveDeliveryConfig(configPath, env, loadedRuleIds ? { loadedRuleIds } : {});
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems.push(`DASGUARD_CONFIG: ${err.message}`);
    }
  }
  if (snsTopicArn !== undefined) collect('DASGUARD_SNS_TOPIC_ARN', () => shortcutConfig({ snsTopicArn }));
  if (slackWebhookUrl !== undefined) collect('DASGUARD_SLACK_WEBHOOK_URL', () => shortcutConfig({ slackWebhookUrl }));
  if (problems.length > 0) throw new ConfigError(`invalid alert delivery settings; nothing was evaluated:\n${problems.join('\n')}`);
  if (snsTopicArn === undefined && slackWebhookUrl === undefined) return base;
  return shortcutConfig({
    ...(snsTopicArn !== undefined ? { snsTopicArn } : {}),
    ...(slackWebhookUrl !== undefined ? { slackWebhookUrl } : {}),
    ...(base ? { base } : {}),
  });
}

/**
 * A handler configured from the environment, initialised on its first invocation and then reused for the
 * container's life (rules and delivery config loaded once; one KmsKeyProvider, so one data-key cache; one
 * delivery handoff, so the outbox is read once). A failed initialisation is thrown with every problem of the
 * rules and the delivery settings (the mapping retries the batch) and tried again on the next invocation.
 */
export function createEnvHandler(opts: EnvHandlerOptions = {}): EnvHandler {
  let ready: Promise<KinesisHandler> | undefined;
  let delivery: DeliveryHandoff | undefined;
  const init = async (): Promise<KinesisHandler> => {
    const env = opts.env ?? process.env;
    const log = jsonLog(opts.logOut ?? process.stdout);
    const paths = (env.DASGUARD_RULES ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    const rulePaths = paths.length > 0 ? paths : [bundledRulesPath()];
    const { ruleSet, problems, files } = await loadRules(rulePaths);
    const errors = problems.filter(isErrorProblem);
    const failures: string[] = [];
    if (ruleSet === undefined) {
      failures.push(
        `dasguard: ${errors.length} problem${errors.length === 1 ? '' : 's'} in the rule files ` +
          `(${rulePaths.join(', ')}); nothing was evaluated:\n` +
          problems.map(formatProblem).join('\n'),
      );
      log({ level: 'error', msg: 'invalid rules', rulePaths, problems: problems.map(formatProblem) });
    } else {
      for (const p of problems) log({ level: 'warn', msg: 'rule warning', problem: formatProblem(p) });
    }
    let config: DeliveryConfig | undefined;
    let configError: ConfigError | undefined;
    if (!opts.handoff) {
      try {
        config = await lambdaDeliveryConfig(env, ruleSet?.rules.map((r) => r.id));
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        configError = err;
        failures.push(`dasguard: ${err.message}`);
        log({ level: 'error', msg: 'invalid delivery config', error: err.message });
      }
    }
    if (ruleSet === undefined || failures.length > 0) {
      throw new ConfigError(failures.join('\n'), configError ? { cause: configError } : undefined);
    }
    const redaction = (env.DASGUARD_REDACTION?.trim() || 'literals') as Redaction;
    if (!(REDACTION_MODES as readonly string[]).includes(redaction)) {
      throw new ConfigError(`DASGUARD_REDACTION must be one of ${REDACTION_MODES.join(', ')}, not "${redaction}"`);
    }
    const resourceId = env.DASGUARD_RESOURCE_ID?.trim() || undefined;
    if (resourceId !== undefined && !/^(cluster|db)-[A-Za-z0-9_-]+$/.test(resourceId)) {
      throw new ConfigError(
        `DASGUARD_RESOURCE_ID "${resourceId}" is not a DAS resource id (cluster-… or db-…): use the ` +
          'DbClusterResourceId, not the cluster name',
      );
    }
    const kmsKeyId = env.DASGUARD_KMS_KEY_ID?.trim() || undefined;
    const keys = opts.keys ?? new KmsKeyProvider(kmsKeyId !== undefined ? { keyId: kmsKeyId } : {});
    // Opened last: nothing above can fail and leave it open. The config's delivery.outboxDir is not used here.
    if (config) {
      delivery = await DeliveryHandoff.open(config, {
        outboxDir: env.DASGUARD_OUTBOX_DIR?.trim() || LAMBDA_OUTBOX_DIR,
        stdout: opts.stdout ?? process.stdout,
        stderr: logLines(log),
      });
    }
    log({
      level: 'info',
      msg: 'init',
      ruleFiles: files,
      rules: ruleSet.rules.length,
      ...(resourceId !== undefined ? { resourceId } : {}),
      ...(config && delivery
        ? {
            delivery: {
              config: config.source,
              sinks: Object.keys(config.sinks),
              routes: config.routes.map((r) => r.name),
              outboxDir: delivery.outboxDir,
              resumed: delivery.stats().recovered,
            },
          }
        : {}),
    });
    const common: CommonDeps = { rules: ruleSet, keys, log, redaction };
    if (opts.observer) common.observer = opts.observer;
    if (resourceId !== undefined) common.resourceId = resourceId;
    if (delivery) {
      return createHandler({
        ...common,
        delivery: { handoff: delivery, ...(opts.deliveryMarginMs !== undefined ? { marginMs: opts.deliveryMarginMs } : {}) },
      });
    }
    return createHandler({ ...common, handoff: opts.handoff ?? consoleHandoff(opts.stdout ?? process.stdout, 'jsonl') });
  };
  const run = async (event: KinesisStreamEvent, context?: LambdaContext): Promise<KinesisStreamBatchResponse> => {
    ready ??= init();
    let h: KinesisHandler;
    try {
      h = await ready;
    } catch (err) {
      ready = undefined;
      throw err;
    }
    return h(event, context);
  };
  return Object.assign(run, {
    close: async (deadlineMs?: number): Promise<void> => {
      const d = delivery;
      delivery = undefined;
      ready = undefined;
      await d?.close(deadlineMs);
    },
  });
}

/** Delivery log lines (text on the handoff's stderr) as JSON log lines. */
function logLines(log: (entry: LogEntry) => void): Writable {
  let buffered = '';
  return new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      buffered += chunk.toString();
      for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
        const line = buffered.slice(0, nl).replace(/^dasguard: (delivery: )?/, '');
        buffered = buffered.slice(nl + 1);
        if (line !== '') log({ level: 'warn', msg: 'delivery', detail: line });
      }
      callback();
    },
  });
}

/** The Lambda entry point: `dist/lambda.handler`. */
export const handler: EnvHandler = createEnvHandler();
