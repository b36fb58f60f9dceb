/**
 * The AWS Lambda handler for a Kinesis event source mapping on a DAS stream: the same `processRecord` path as
 * replay and the live consumer, one record at a time, in order.
 *
 * - Rules, the KMS key provider (and its data-key cache) and the alert handoff are built ONCE per container,
 *   on the first invocation; invalid rules make that invocation throw with every problem in the message.
 * - A poison record is quarantined (logged with shard, sequence number and reason) and NOT reported as failed.
 * - A transient, configuration or unexpected failure stops the batch: that record is reported in
 *   `batchItemFailures` (with `ReportBatchItemFailures`, Lambda retries from it) and later records are left
 *   for the retry. Alerts of the records before it were handed off already.
 * - Logs are JSON lines (one summary per invocation); never decrypted data.
 *
 * Handler: `dist/lambda.handler`. Environment: DASGUARD_RULES (comma-separated rule files or directories,
 * default the bundled rules/), DASGUARD_RESOURCE_ID (when the stream name is not `aws-rds-das-<resource id>`),
 * DASGUARD_KMS_KEY_ID (only accept data keys of this KMS key), DASGUARD_REDACTION (`literals` | `none`).
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Writable } from 'node:stream';
import { ConfigError, PoisonReason, TransientError, errorMessage } from './errors.js';
import { resourceIdFromStreamName, type KeyProvider } from './keys/KeyProvider.js';
import { KmsKeyProvider } from './keys/KmsKeyProvider.js';
import { ConsoleHandoff, type AlertHandoff } from './pipeline/AlertHandoff.js';
import type { Redaction } from './pipeline/alert.js';
import { processRecord, type Quarantined } from './pipeline/processRecord.js';
import type { StreamObserver } from './pipeline/StreamObserver.js';
import { formatProblem, loadRules, type RuleSet } from './rules/index.js';
import { isError as isErrorProblem } from './rules/problems.js';
import type { SourceRecord } from './types.js';

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
}

/** One structured log line. Never carries decrypted data. */
export type LogEntry = { level: 'info' | 'warn' | 'error'; msg: string } & Record<string, unknown>;

export type KinesisHandler = (event: KinesisStreamEvent, context?: LambdaContext) => Promise<KinesisStreamBatchResponse>;

export interface HandlerDeps {
  rules: RuleSet;
  keys: KeyProvider;
  /** Default: JSON Lines on stdout (CloudWatch Logs). */
  handoff?: AlertHandoff;
  observer?: StreamObserver;
  /** Default: JSON lines on stdout. */
  log?: (entry: LogEntry) => void;
  /** Overrides the resource id taken from the stream name. */
  resourceId?: string;
  redaction?: Redaction;
}

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
  failed: number;
}

/** Builds a handler from ready dependencies (tests, or a custom entry point with its own handoff). */
export function createHandler(deps: HandlerDeps): KinesisHandler {
  const log = deps.log ?? jsonLog(process.stdout);
  const handoff = deps.handoff ?? new ConsoleHandoff(process.stdout, 'jsonl');
  const redaction = deps.redaction ?? 'literals';

  return async (event, context) => {
    const requestId = context?.awsRequestId;
    const records = event.Records ?? [];
    const keysBefore = deps.keys.stats();
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
    const batchItemFailures: { itemIdentifier: string }[] = [];

    for (const r of records) {
      const { shardId, streamName } = locate(r);
      const sequenceNumber = r.kinesis.sequenceNumber;
      try {
        const record = sourceRecord(r, shardId, streamName, deps.resourceId);
        const outcome = await processRecord(record, { keys: deps.keys, rules: deps.rules, redaction });
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
        await handoff.handOff(outcome.alerts);
        sum.alerts += outcome.alerts.length;
        sum.processed++;
      } catch (err) {
        // Never skip: report this record; Lambda retries the batch from it. Later records wait for the retry.
        sum.failed = 1;
        batchItemFailures.push({ itemIdentifier: sequenceNumber });
        log({
          level: 'error',
          msg: failureMessage(err),
          requestId,
          errorClass: err instanceof Error ? err.name : typeof err,
          error: errorMessage(err),
          stream: streamName,
          shardId,
          sequenceNumber,
          unprocessedRecords: records.length - sum.processed,
        });
        break;
      }
    }

    const keysAfter = deps.keys.stats();
    sum.kmsCalls = keysAfter.backendCalls - keysBefore.backendCalls;
    sum.keyCacheHits = keysAfter.cacheHits - keysBefore.cacheHits;
    log({ level: sum.failed > 0 ? 'warn' : 'info', msg: 'batch', requestId, ...sum });
    return { batchItemFailures };
  };
}

function failureMessage(err: unknown): string {
  if (err instanceof TransientError) return 'transient failure: record reported for retry';
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
    data: new Uint8Array(Buffer.from(r.kinesis.data, 'base64')),
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
    out.write(JSON.stringify({ time: new Date().toISOString(), service: 'dasguard', ...entry }) + '\n');
  };
}

/** The bundled rule pack: `<package>/rules`, from src/ or dist/. */
export function bundledRulesPath(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', 'rules');
}

export interface EnvHandlerOptions {
  env?: NodeJS.ProcessEnv;
  /** Where alerts go (default stdout). */
  stdout?: Writable;
  /** Where log lines go (default stdout). */
  logOut?: Writable;
  /** Replaces the default KmsKeyProvider (tests). */
  keys?: KeyProvider;
  handoff?: AlertHandoff;
  observer?: StreamObserver;
}

/**
 * A handler configured from the environment, initialised on its first invocation and then reused for the
 * container's life (rules loaded once; one KmsKeyProvider, so one data-key cache). A failed initialisation is
 * thrown (the mapping retries the batch) and tried again on the next invocation.
 */
export function createEnvHandler(opts: EnvHandlerOptions = {}): KinesisHandler {
  let ready: Promise<KinesisHandler> | undefined;
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
    if (ruleSet === undefined) {
      const message =
        `dasguard: ${errors.length} problem${errors.length === 1 ? '' : 's'} in the rule files ` +
        `(${rulePaths.join(', ')}); nothing was evaluated:\n` +
        problems.map(formatProblem).join('\n');
      log({ level: 'error', msg: 'invalid rules', rulePaths, problems: problems.map(formatProblem) });
      throw new ConfigError(message);
    }
    for (const p of problems) log({ level: 'warn', msg: 'rule warning', problem: formatProblem(p) });
    const redaction = env.DASGUARD_REDACTION ?? 'literals';
    if (redaction !== 'literals' && redaction !== 'none') {
      throw new ConfigError(`DASGUARD_REDACTION must be "literals" or "none", not "${redaction}"`);
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
    log({
      level: 'info',
      msg: 'init',
      ruleFiles: files,
      rules: ruleSet.rules.length,
      ...(resourceId !== undefined ? { resourceId } : {}),
    });
    const deps: HandlerDeps = {
      rules: ruleSet,
      keys,
      handoff: opts.handoff ?? new ConsoleHandoff(opts.stdout ?? process.stdout, 'jsonl'),
      log,
      redaction,
    };
    if (opts.observer) deps.observer = opts.observer;
    if (resourceId !== undefined) deps.resourceId = resourceId;
    return createHandler(deps);
  };
  return async (event, context) => {
    ready ??= init();
    let run: KinesisHandler;
    try {
      run = await ready;
    } catch (err) {
      ready = undefined;
      throw err;
    }
    return run(event, context);
  };
}

/** The Lambda entry point: `dist/lambda.handler`. */
export const handler: KinesisHandler = createEnvHandler();
