/**
 * Reads one shard in order: GetShardIterator, then GetRecords until stopped or the shard ends (a closed
 * shard's NextShardIterator is null). Each batch goes through the record driver (src/pipeline/runRecords.ts):
 * records are decoded with bounded concurrency but handed off and checkpointed in sequence order (the driver's
 * commit hook moves the shard's checkpoint). What is left here is the shard's transport policy: iterators,
 * throttling, trimmed data, retrying forever until stopped (RETRY_DEFAULTS timing; what a Kinesis error means is
 * src/aws/kinesis.ts's classifyKinesisError), the checkpoints. A record whose data key stopped decrypting (DataKeyError
 * 'stopped-decrypting') is held: retried with backoff until it decrypts or the reader stops, the shard's checkpoint
 * never passing it. A quarantine is the `quarantined` log line (quarantineLogFields, the Lambda's shape).
 * With a lease (`lost`), losing it stops the reader like a stop, except that nothing more is handed off, not even the
 * alerts of records in flight, and no checkpoint is written: the shard is another worker's.
 */
import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  type GetShardIteratorInput,
  type KinesisClient,
  type Shard,
  type _Record,
} from '@aws-sdk/client-kinesis';
import { ConfigError, DasguardError, DataKeyError, DataKeyProblem, TransientError } from '../errors.js';
import type { DataKeyAlarm } from '../health/dataKeyFailure.js';
import type { AlertHandoff } from '../pipeline/AlertHandoff.js';
import type { Alert } from '../pipeline/alert.js';
import { RETRY_DEFAULTS, retryDelay } from '../pipeline/drive.js';
import type { PipelineStats } from '../pipeline/PipelineStats.js';
import { processRecord, type ProcessorDeps, type RecordOutcome } from '../pipeline/processRecord.js';
import { quarantineLogFields, type QuarantineSink } from '../pipeline/QuarantineSink.js';
import { handOffWithRetry, runRecords, type HandoffRetry } from '../pipeline/runRecords.js';
import type { StreamObserver, TrimmedData } from '../pipeline/StreamObserver.js';
import { fromSdkRecord } from '../sources/kinesisSdk.js';
import type { SourceRecord } from '../types.js';
import type { ShardCheckpoint } from './CheckpointStore.js';
import type { ConsumerLogEntry, ShardStatus, StartPosition } from './types.js';
import { backoffDelay, sleep } from '../util/backoff.js';
import { awsErrorInfo } from '../aws/errors.js';
import { classifyKinesisError } from '../aws/kinesis.js';

/** Kinesis limits per shard: 5 GetRecords calls/s, 2 MB/s read. */
const MIN_CALL_INTERVAL_MS = 200;
const BYTES_PER_SECOND = 2 * 1024 * 1024;
/** Longest wait between retries of a record's processing (a shorter cap than the Kinesis calls'). */
const PROCESSING_MAX_DELAY_MS = 5_000;

export interface ShardReaderOptions {
  client: KinesisClient;
  streamName: string;
  resourceId?: string;
  shard: Shard;
  /** Used when `checkpoint` has no sequence number. */
  start: StartPosition;
  checkpoint: ShardCheckpoint | undefined;
  deps: ProcessorDeps;
  handoff: AlertHandoff;
  observer?: StreamObserver;
  /** Shared by every shard of the consumer. */
  stats: PipelineStats;
  /** Records the shard's progress; `urgent` asks for a durable write now. */
  commit: (shardId: string, cp: ShardCheckpoint, urgent: boolean) => Promise<void>;
  /** Records the shard's progress in memory only (the consumer writes it when it stops). */
  note: (shardId: string, cp: ShardCheckpoint) => void;
  log: (e: ConsumerLogEntry) => void;
  pollIntervalMs?: number;
  concurrency?: number;
  maxRecordsPerCall?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Longest wait between retries of a record held on a data key failure (default 60 s). */
  keyFailureMaxDelayMs?: number;
  /** Shared by every shard: one alert per encryption context, not one per shard or record. */
  keyAlarm: DataKeyAlarm;
  /** Aborts when the shard's lease is lost (src/consumer/ShardLeases.ts): stop at once, hand off nothing more. */
  lost?: AbortSignal;
}

/** Thrown inside a batch when the consumer is stopping: records not yet started are left for the next run. */
class StoppingError extends DasguardError {}

export class ShardReader {
  readonly shardId: string;
  readonly #o: ShardReaderOptions;
  #seq: string | undefined;
  #startedAt: string | undefined;
  #lagMs: number | null = null;
  /** This shard's records committed (its status); the driver's PipelineStats counts every shard's together. */
  #records = 0;
  #finished = false;
  #lastProgressAt = Date.now();

  constructor(options: ShardReaderOptions) {
    this.#o = options;
    this.shardId = options.shard.ShardId!;
    this.#seq = options.checkpoint?.sequenceNumber;
    this.#startedAt = options.checkpoint?.startedAt;
  }

  status(): ShardStatus {
    return {
      shardId: this.shardId,
      state: this.#finished ? 'finished' : 'reading',
      lagMs: this.#lagMs,
      sequenceNumber: this.#seq ?? null,
      records: this.#records,
      lastProgressAt: this.#lastProgressAt,
    };
  }

  async run(signal: AbortSignal): Promise<void> {
    try {
      await this.#run(signal);
    } catch (err) {
      // Keep what was handed off before the failure: the consumer writes it before it reports the error.
      this.#o.note(this.shardId, this.#checkpoint());
      throw err;
    }
  }

  async #run(signal: AbortSignal): Promise<void> {
    const o = this.#o;
    const closed = o.shard.SequenceNumberRange?.EndingSequenceNumber !== undefined;
    if (this.#seq === undefined && this.#startedAt === undefined && o.start.type === 'latest' && closed) {
      // Nothing new will ever arrive in a closed shard: `latest` reads nothing from it.
      return this.#finish();
    }
    let iterator = await this.#iterator(signal);
    let attempt = 0;
    while (iterator !== undefined && !signal.aborted) {
      const callStart = Date.now();
      let out;
      try {
        out = await o.client.send(
          new GetRecordsCommand({ ShardIterator: iterator, Limit: o.maxRecordsPerCall ?? 10_000 }),
          { abortSignal: signal },
        );
      } catch (err) {
        if (signal.aborted) break;
        const kind = classifyKinesisError(err, `GetRecords on ${o.streamName} ${this.shardId}`);
        if (kind === 'expired') {
          o.log({ level: 'info', msg: 'shard iterator expired: renewing', shardId: this.shardId, afterSequenceNumber: this.#seq ?? null });
          iterator = await this.#iterator(signal);
          continue;
        }
        if (kind === 'trimmed') {
          this.#trimmed('GetRecords: TrimmedDataAccessException (the records after the checkpoint expired)');
          iterator = await this.#iterator(signal, { ShardIteratorType: 'TRIM_HORIZON' });
          continue;
        }
        if (kind instanceof Error) throw kind;
        attempt++;
        const delay = retryDelay(attempt, o);
        o.log({ level: 'warn', msg: 'GetRecords throttled or failed: backing off', shardId: this.shardId, attempt, delayMs: delay, error: awsErrorInfo(err).summary });
        await sleep(delay, signal);
        continue;
      }
      attempt = 0;
      this.#lastProgressAt = Date.now();
      const records = out.Records ?? [];
      let bytes = 0;
      for (const r of records) bytes += r.Data?.byteLength ?? 0;
      if (records.length > 0) {
        const complete = await this.#processBatch(records, signal);
        if (!complete) break; // stopping: the rest is read again on the next start
      }
      this.#lagMs = out.MillisBehindLatest ?? null;
      iterator = out.NextShardIterator ?? undefined;
      if (iterator === undefined) return this.#finish();
      await o.commit(this.shardId, this.#checkpoint(), false);
      // Stay within 5 calls/s and 2 MB/s; poll slowly once caught up.
      const caughtUp = out.MillisBehindLatest === 0 || (out.MillisBehindLatest === undefined && records.length === 0);
      const wait = Math.max(MIN_CALL_INTERVAL_MS, (bytes / BYTES_PER_SECOND) * 1000, caughtUp ? (o.pollIntervalMs ?? 1000) : 0);
      await sleep(callStart + wait - Date.now(), signal);
    }
    if (!o.lost?.aborted) await o.commit(this.shardId, this.#checkpoint(), true);
    else o.log({ level: 'info', msg: 'shard reader stopped: lease lost', shardId: this.shardId, lastHandedOff: this.#seq ?? null });
  }

  #checkpoint(): ShardCheckpoint {
    const cp: ShardCheckpoint = {};
    if (this.#seq !== undefined) cp.sequenceNumber = this.#seq;
    else if (this.#startedAt !== undefined) cp.startedAt = this.#startedAt;
    if (this.#finished) cp.finished = true;
    return cp;
  }

  async #finish(): Promise<void> {
    this.#finished = true;
    this.#lagMs = 0;
    this.#o.log({ level: 'info', msg: 'shard read to its end', shardId: this.shardId, records: this.#records });
    await this.#o.commit(this.shardId, this.#checkpoint(), true);
  }

  #trimmed(reason: string): void {
    const gap: TrimmedData = { streamName: this.#o.streamName, shardId: this.shardId, reason };
    if (this.#seq !== undefined) gap.afterSequenceNumber = this.#seq;
    this.#o.log({ level: 'error', msg: 'records lost: trimmed before they were read', ...gap });
    this.#o.observer?.onTrimmed?.(gap);
  }

  /** A new iterator: after the last processed record, else where this shard starts. Undefined when stopped. */
  async #iterator(signal: AbortSignal, override?: Pick<GetShardIteratorInput, 'ShardIteratorType'>): Promise<string | undefined> {
    const o = this.#o;
    const input: GetShardIteratorInput = { StreamName: o.streamName, ShardId: this.shardId, ShardIteratorType: 'TRIM_HORIZON' };
    if (override) Object.assign(input, override);
    else if (this.#seq !== undefined) {
      input.ShardIteratorType = 'AFTER_SEQUENCE_NUMBER';
      input.StartingSequenceNumber = this.#seq;
    } else if (this.#startedAt !== undefined) {
      // Started from `latest` or a time, nothing processed yet: everything since then (at-least-once).
      input.ShardIteratorType = 'AT_TIMESTAMP';
      input.Timestamp = new Date(this.#startedAt);
    } else if (o.start.type === 'latest') {
      input.ShardIteratorType = 'LATEST';
    } else if (o.start.type === 'at-timestamp') {
      input.ShardIteratorType = 'AT_TIMESTAMP';
      input.Timestamp = o.start.time;
    }
    for (let attempt = 1; ; attempt++) {
      if (signal.aborted) return undefined;
      const requestedAt = new Date();
      try {
        const out = await o.client.send(new GetShardIteratorCommand(input), { abortSignal: signal });
        if (out.ShardIterator === undefined) throw new ConfigError(`GetShardIterator on ${o.streamName} ${this.shardId} returned no iterator`);
        if (this.#seq === undefined && this.#startedAt === undefined && (input.ShardIteratorType === 'LATEST' || input.ShardIteratorType === 'AT_TIMESTAMP')) {
          // Remember where reading started, so a restart before the first record resumes from there.
          this.#startedAt = (input.ShardIteratorType === 'LATEST' ? requestedAt : input.Timestamp!).toISOString();
          await o.commit(this.shardId, this.#checkpoint(), true);
        }
        return out.ShardIterator;
      } catch (err) {
        if (signal.aborted) return undefined;
        const kind = classifyKinesisError(err, `GetShardIterator on ${o.streamName} ${this.shardId}`);
        if (kind === 'trimmed' && input.ShardIteratorType !== 'TRIM_HORIZON') {
          this.#trimmed(`GetShardIterator ${input.ShardIteratorType}: ${awsErrorInfo(err).summary}`);
          input.ShardIteratorType = 'TRIM_HORIZON';
          delete input.StartingSequenceNumber;
          delete input.Timestamp;
          continue;
        }
        if (kind instanceof Error) throw kind;
        const delay = retryDelay(attempt, o);
        o.log({ level: 'warn', msg: 'GetShardIterator failed: backing off', shardId: this.shardId, attempt, delayMs: delay, error: awsErrorInfo(err).summary });
        await sleep(delay, signal);
      }
    }
  }

  /** Processes a GetRecords batch in order through the record driver; false when stopped before its end. */
  async #processBatch(records: _Record[], signal: AbortSignal): Promise<boolean> {
    const o = this.#o;
    async function* items(): AsyncGenerator<_Record> {
      for (const r of records) {
        if (signal.aborted) return;
        yield r;
      }
    }
    /** Records of this batch held on a data key failure, with the encryption context that failed. */
    const held = new Map<_Record, string>();
    // A held record also gives up when the batch fails for another reason (drive waits for what is in flight).
    const cancel = new AbortController();
    const holdSignal = AbortSignal.any([signal, cancel.signal]);
    const quarantine: QuarantineSink = { put: (q) => o.log({ level: 'warn', msg: 'quarantined', ...quarantineLogFields(q) }) };
    try {
      await runRecords<_Record>(items(), {
        toItem: (r) => ({ kind: 'record', record: fromSdkRecord(r, { streamName: o.streamName, shardId: this.shardId, resourceId: o.resourceId }) }),
        process: async (record, r) => {
          // A transient failure is retried until it succeeds, unless the consumer is stopping meanwhile.
          if (signal.aborted) throw new StoppingError('stopping');
          return this.#processHolding(r, record, held, holdSignal);
        },
        stats: o.stats,
        ...(o.deps.correlator ? { correlator: o.deps.correlator } : {}),
        handoff: this.#guardedHandoff(),
        // A hand-off that fails transiently (the outbox on a full disk) changed nothing: the shard holds and it is
        // retried until it succeeds or the consumer stops (then the record is read again on the next start).
        handoffRetry: this.#handoffRetry(signal),
        quarantine,
        ...(o.observer ? { observer: o.observer } : {}),
        commit: async (r) => {
          this.#records++;
          this.#seq = r.SequenceNumber!;
          this.#lastProgressAt = Date.now();
          // Progress inside a large batch counts too (written at most every checkpoint interval).
          await o.commit(this.shardId, this.#checkpoint(), false);
        },
        drive: {
          concurrency: o.concurrency ?? 8,
          attempts: Number.POSITIVE_INFINITY,
          baseDelayMs: o.baseDelayMs,
          maxDelayMs: Math.min(o.maxDelayMs ?? RETRY_DEFAULTS.maxDelayMs, PROCESSING_MAX_DELAY_MS),
          cancel,
          onRetry: (err, attempt, delayMs) =>
            o.log({ level: 'warn', msg: 'processing failed transiently: retrying', shardId: this.shardId, attempt, delayMs, error: err.message }),
        },
      });
    } catch (err) {
      if (err instanceof StoppingError || (signal.aborted && err instanceof TransientError)) return false;
      throw err;
    }
    // Complete when the batch's last record was committed (the driver stops early only when stopping).
    return this.#seq === records[records.length - 1]!.SequenceNumber;
  }

  /** The consumer's handoff, refusing once the lease is lost: another worker reads these records now. */
  #guardedHandoff(): AlertHandoff {
    const o = this.#o;
    const lost = o.lost;
    if (lost === undefined) return o.handoff;
    return {
      handOff: (alerts) => (lost.aborted ? Promise.reject(new StoppingError('lease lost')) : o.handoff.handOff(alerts)),
      close: () => o.handoff.close(),
    };
  }

  /** Retry forever (until the consumer stops) a hand-off that failed transiently, with a log line per retry. */
  #handoffRetry(signal: AbortSignal): HandoffRetry<_Record> {
    const o = this.#o;
    return {
      attempts: Number.POSITIVE_INFINITY,
      baseDelayMs: o.baseDelayMs,
      maxDelayMs: o.maxDelayMs,
      signal,
      onRetry: (err, attempt, delayMs, r) =>
        o.log({ level: 'warn', msg: 'alert handoff failed transiently: retrying', shardId: this.shardId, sequenceNumber: r?.SequenceNumber, attempt, delayMs, error: err.message }),
    };
  }

  /** Hands off alerts the reader raises itself (the data-key alarm), as the driver hands off a record's. */
  async #handOff(alerts: readonly Alert[], r: _Record, signal: AbortSignal): Promise<void> {
    try {
      await handOffWithRetry(this.#guardedHandoff(), alerts, this.#handoffRetry(signal), r);
    } catch (err) {
      if (signal.aborted && err instanceof TransientError) throw new StoppingError('stopping');
      throw err;
    }
  }

  /**
   * processRecord, holding the record while its data key stopped decrypting: the first hold under a context
   * raises the critical alert, every retry is logged (backoff capped at keyFailureMaxDelayMs), and the record's
   * success resolves the alert. Other failures are thrown (a TransientError is retried by the caller).
   */
  async #processHolding(r: _Record, record: SourceRecord, held: Map<_Record, string>, signal: AbortSignal): Promise<RecordOutcome> {
    const o = this.#o;
    for (let attempt = 1; ; attempt++) {
      try {
        const outcome = await processRecord(record, o.deps);
        const context = held.get(r);
        if (context !== undefined) {
          held.delete(r);
          const resolved = o.keyAlarm.recovered(context);
          o.log({ level: 'info', msg: 'data key decrypts again: the held record goes on', shardId: this.shardId, sequenceNumber: r.SequenceNumber });
          // Retried like any hand-off: the alarm's state already moved, so this alert exists only here.
          if (resolved.length > 0) await this.#handOff(resolved, r, signal);
        }
        return outcome;
      } catch (err) {
        if (!(err instanceof DataKeyError) || err.problem !== DataKeyProblem.stoppedDecrypting) throw err;
        const context = err.context ?? 'unknown';
        held.set(r, context);
        const alerts = o.keyAlarm.held({ context, streamName: o.streamName, shardId: this.shardId, sequenceNumber: r.SequenceNumber!, error: err.message });
        if (alerts.length > 0) await this.#handOff(alerts, r, signal);
        const delayMs = backoffDelay(attempt, o.baseDelayMs ?? RETRY_DEFAULTS.baseDelayMs, o.keyFailureMaxDelayMs ?? 60_000, 'equal');
        o.log({
          level: 'error',
          msg: 'data key failure: holding the record (the checkpoint does not pass it) and retrying',
          shardId: this.shardId,
          sequenceNumber: r.SequenceNumber,
          attempt,
          delayMs,
          error: err.message,
        });
        await sleep(delayMs, signal);
        if (signal.aborted) throw new StoppingError('stopping');
      }
    }
  }
}
