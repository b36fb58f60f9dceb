/**
 * The live consumer: reads a DAS Kinesis stream continuously, shard by shard, in order, and loses nothing across
 * restarts, throttling and resharding. Every record goes through the record driver (src/pipeline/runRecords.ts,
 * the path replay and the Lambda use, counted in one PipelineStats for every shard); a record's checkpoint advances
 * only once its alerts were handed off (at-least-once).
 *
 * - Shards: `ListShards` (paginated) at start and every `discoveryIntervalMs`; a child shard starts only once its
 *   parents (`ParentShardId`, `AdjacentParentShardId`) were read to their end (checkpointed as finished).
 * - Per shard (ShardReader): `GetShardIterator` then a `GetRecords` loop within 5 calls/s and 2 MB/s, fast while
 *   `MillisBehindLatest` > 0, `pollIntervalMs` between calls once caught up.
 * - Failures: throttling, limits and 5xx back off with jitter and retry forever (until stopped); an expired
 *   iterator is renewed AFTER_SEQUENCE_NUMBER of the last processed record; a poison record is quarantined
 *   (logged with shard and sequence number) and passed; a TransientError from processing is retried, never
 *   skipped; a ConfigError (or any unexpected error) stops the consumer: `run` rejects with it after writing
 *   the checkpoints of what was done. The keys are guarded (KeyGuard): a data key that decrypts no record is
 *   such a ConfigError, never a quarantine; one that stops decrypting after others did (KMS access revoked, key
 *   disabled) holds the shard at that record instead, retried with backoff (capped at keyFailureMaxDelayMs),
 *   with a critical `das-data-key-failure` health alert through the handoff, and a resolved one when it works.
 * - Stop: abort the signal given to `run`: polling stops, records in flight finish, checkpoints are written,
 *   `run` resolves.
 * - Leases (`leases`, several workers on one stream, src/consumer/ShardLeases.ts): the consumer reads only the
 *   shards it holds a lease on, from the lease's checkpoint; the leases decide parents before children. Each listing
 *   is given to the leases (a lease is created per new shard). A lost lease stops its shard's reader (logged, the
 *   others go on): no record of it is handed off after that, and its checkpoint is not written. At stop, after the
 *   last checkpoints, the leases are released.
 * - State committed with the checkpoints (`state`: the delivery handoff's suppression windows, rule state): every
 *   checkpoint write first persists each of them, so no checkpoint passes a record whose effect on that state is
 *   not durable. A state that cannot be persisted (a full disk) is retried until the consumer stops; meanwhile no
 *   checkpoint moves and the shards wait.
 */
import { KinesisClient, ListShardsCommand, type Shard } from '@aws-sdk/client-kinesis';
import { ConfigError, LeaseLostError, TransientError, errorMessage } from '../errors.js';
import { DataKeyAlarm } from '../health/dataKeyFailure.js';
import { KeyGuard } from '../keys/KeyGuard.js';
import type { ProcessorDeps } from '../pipeline/processRecord.js';
import type { AlertHandoff } from '../pipeline/AlertHandoff.js';
import type { CheckpointedState } from '../pipeline/CheckpointedState.js';
import { withRetry } from '../pipeline/drive.js';
import type { StreamObserver } from '../pipeline/StreamObserver.js';
import { PipelineStats } from '../pipeline/PipelineStats.js';
import type { CheckpointStore, ShardCheckpoint } from './CheckpointStore.js';
import { classifyKinesisError } from '../aws/kinesis.js';
import { ShardReader } from './ShardReader.js';
import type { LeasedShard, ShardLeases } from './ShardLeases.js';
import type { ConsumerLogEntry, ConsumerStats, StartPosition } from './types.js';
import { sleep } from '../util/backoff.js';

/** `latest`, `trim-horizon` or an ISO 8601 time. Throws ConfigError otherwise. */
export function parseStartPosition(v: string): StartPosition {
  if (v === 'latest') return { type: 'latest' };
  if (v === 'trim-horizon') return { type: 'trim-horizon' };
  const t = Date.parse(v);
  if (/^\d{4}-\d{2}-\d{2}/.test(v) && !Number.isNaN(t)) return { type: 'at-timestamp', time: new Date(t) };
  throw new ConfigError(`--from must be latest, trim-horizon or an ISO 8601 time (2026-05-01T12:00:00Z); got "${v}"`);
}

export interface KinesisConsumerOptions {
  client: KinesisClient;
  streamName: string;
  /** The DAS resource id (`cluster-…`/`db-…`) selecting the KMS encryption context. */
  resourceId?: string;
  /** Keys, rules and redaction for processRecord; `keys` is shared by every shard (one data-key cache). */
  deps: ProcessorDeps;
  handoff: AlertHandoff;
  checkpoints: CheckpointStore;
  /** Persisted before every checkpoint write (the delivery handoff's suppression windows). */
  state?: readonly CheckpointedState[];
  /** Start of shards with no checkpoint on a stream's first start (default latest). */
  from?: StartPosition;
  observer?: StreamObserver;
  log?: (entry: ConsumerLogEntry) => void;
  /** Sleep between GetRecords calls once a shard is caught up (default 1000). */
  pollIntervalMs?: number;
  /** How often ListShards looks for new shards (default 30000). */
  discoveryIntervalMs?: number;
  /** Checkpoints are written at most this often per stream, and when a shard ends or the consumer stops (default 1000). */
  checkpointIntervalMs?: number;
  /** Records of one shard decoded at once; alerts and checkpoints keep shard order (default 8). */
  concurrency?: number;
  /** GetRecords `Limit` (default 10000, the maximum). */
  maxRecordsPerCall?: number;
  /** Backoff for throttling and transient failures (default RETRY_DEFAULTS: 200 ms, 10 s). */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Longest wait between retries of a record held on a data key failure (default 60 s). */
  keyFailureMaxDelayMs?: number;
  /** The cluster named in health alerts (default the resource id, else the stream name). */
  clusterId?: string;
  /** Shards shared with other workers by leases; `checkpoints` is then the lease table's. Without: every shard is read. */
  leases?: ShardLeases;
}

export class KinesisConsumer {
  readonly #o: KinesisConsumerOptions;
  /** `o.deps` with its keys guarded: shared by every shard. */
  readonly #deps: ProcessorDeps;
  readonly #keyAlarm: DataKeyAlarm;
  /** Counted by every shard's record driver. */
  readonly #stats = new PipelineStats();
  readonly #readers = new Map<string, ShardReader>();
  /** The committed (durable or about to be) checkpoints, per shard. */
  #checkpoints = new Map<string, ShardCheckpoint>();
  readonly #dirty = new Set<string>();
  #lastSave = 0;
  /** When a checkpoint write last succeeded (stats). */
  #lastCheckpointAt: number | null = null;
  #saving: Promise<void> = Promise.resolve();
  #startedAt = Date.now();
  #running = false;
  /** Aborts when the consumer stops: a state persist that keeps failing gives up then. */
  #stopping: AbortSignal | undefined;
  /** With leases: each shard read's `lost` signal (a lost shard's progress is not written). */
  readonly #lost = new Map<string, AbortSignal>();

  constructor(options: KinesisConsumerOptions) {
    this.#o = options;
    this.#deps = options.deps.keys ? { ...options.deps, keys: KeyGuard.wrap(options.deps.keys) } : options.deps;
    this.#keyAlarm = new DataKeyAlarm({ clusterId: options.clusterId ?? options.resourceId ?? options.streamName });
  }

  get streamName(): string {
    return this.#o.streamName;
  }

  /** The counts behind `stats().pipeline`, with their breakdowns (by rule, by reason, the evaluation times). */
  pipelineStats(): Readonly<PipelineStats> {
    return this.#stats;
  }

  stats(): ConsumerStats {
    return {
      pipeline: this.#stats.snapshot(),
      keys: this.#deps.keys?.stats(),
      shards: [...this.#readers.values()].map((r) => r.status()).sort((a, b) => (a.shardId < b.shardId ? -1 : 1)),
      startedAt: this.#startedAt,
      lastCheckpointAt: this.#lastCheckpointAt,
    };
  }

  /**
   * Consumes until `signal` aborts (resolves after checkpoints are written) or a fatal error (rejects with it,
   * after writing the checkpoints of what was done).
   */
  async run(signal: AbortSignal): Promise<void> {
    if (this.#running) throw new Error('KinesisConsumer.run is already running');
    this.#running = true;
    this.#startedAt = Date.now();
    const o = this.#o;
    const stop = new AbortController();
    this.#stopping = stop.signal;
    const onAbort = () => stop.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    if (signal.aborted) stop.abort();
    let fatal: unknown;
    const tasks = new Map<string, Promise<void>>();
    let wake = new AbortController();
    const log = (e: ConsumerLogEntry) => o.log?.(e);
    try {
      this.#checkpoints = await o.checkpoints.load(o.streamName);
      const firstStart = this.#checkpoints.size === 0;
      const initial = new Set<string>();
      const reportedGone = new Set<string>();
      let firstListing = true;
      log({ level: 'info', msg: 'consumer started', stream: o.streamName, checkpointedShards: this.#checkpoints.size, from: describeFrom(o.from) });
      const startReader = (shard: Shard, start: StartPosition, cp: ShardCheckpoint | undefined, lost?: AbortSignal) => {
        const id = shard.ShardId!;
        const reader = new ShardReader({
          ...o,
          deps: this.#deps,
          keyAlarm: this.#keyAlarm,
          shard,
          start,
          checkpoint: cp,
          stats: this.#stats,
          commit: (shardId, c, urgent) => this.#commit(shardId, c, urgent),
          note: (shardId, c) => {
            if (this.#lost.get(shardId)?.aborted) return;
            this.#checkpoints.set(shardId, c);
            this.#dirty.add(shardId);
          },
          log,
          ...(lost ? { lost } : {}),
        });
        // A shard taken again before its previous reader stopped: the new one starts after it.
        const before = tasks.get(id) ?? Promise.resolve();
        const task = before.then(() => {
          if (stop.signal.aborted || lost?.aborted) return;
          if (lost) this.#lost.set(id, lost);
          if (cp) this.#checkpoints.set(id, cp);
          this.#readers.set(id, reader);
          return reader.run(lost ? AbortSignal.any([stop.signal, lost]) : stop.signal).then(
            () => {
              if (reader.status().state === 'finished') wake.abort(); // its children may start now
              else if (lost?.aborted && this.#readers.get(id) === reader) {
                // The lease went to another worker: this worker no longer reads (nor reports) the shard.
                this.#readers.delete(id);
                this.#dirty.delete(id);
              }
            },
            (err: unknown) => {
              if (fatal === undefined) fatal = err;
              stop.abort();
            },
          );
        });
        tasks.set(id, task);
      };
      if (o.leases) {
        await o.leases.start((l: LeasedShard) => startReader(l.shard, l.start, l.checkpoint, l.lost), stop.signal);
      }

      while (!stop.signal.aborted) {
        const shards = await this.#listShards(stop.signal);
        if (shards === undefined) break; // stopped while listing
        const listed = new Map(shards.map((s) => [s.ShardId!, s]));
        if (firstListing) {
          for (const id of listed.keys()) initial.add(id);
          firstListing = false;
        }
        // With leases, the checkpoints are every worker's: the table's, as of now.
        const saved = o.leases ? await this.#leaseRetry('reading the lease table', () => o.checkpoints.load(o.streamName), stop.signal) : this.#checkpoints;
        if (saved === undefined) break; // stopped meanwhile
        // A checkpointed shard that is gone before it was read to its end: its remaining records expired.
        for (const [id, cp] of saved) {
          if (!cp.finished && !listed.has(id) && !reportedGone.has(id)) {
            reportedGone.add(id);
            const gap = {
              streamName: o.streamName,
              shardId: id,
              reason: 'the shard is no longer in the stream (past the retention period) but was not read to its end',
              ...(cp.sequenceNumber !== undefined ? { afterSequenceNumber: cp.sequenceNumber } : {}),
            };
            log({ level: 'error', msg: 'records lost: trimmed before they were read', ...gap });
            o.observer?.onTrimmed?.(gap);
          }
        }
        wake = new AbortController();
        if (o.leases) {
          // The leases decide which shards this worker reads (their takes start the readers).
          const leases = o.leases;
          const synced = await this.#leaseRetry('creating leases', async () => (await leases.sync(shards, o.from ?? { type: 'latest' }), true), stop.signal);
          if (synced === undefined) break; // stopped meanwhile
          await sleep(o.discoveryIntervalMs ?? 30_000, AbortSignal.any([stop.signal, wake.signal]));
          continue;
        }
        const done = (id: string) => this.#checkpoints.get(id)?.finished === true || reportedGone.has(id) || !listed.has(id);
        for (const shard of shards) {
          const id = shard.ShardId!;
          if (tasks.has(id) || this.#checkpoints.get(id)?.finished) continue;
          const parents = [shard.ParentShardId, shard.AdjacentParentShardId].filter((p): p is string => p !== undefined);
          if (!parents.every(done)) continue;
          const cp = this.#checkpoints.get(id);
          // `from` applies to the shards of a stream's first start; a shard born later is read from its start.
          const start: StartPosition = firstStart && initial.has(id) && cp === undefined ? (o.from ?? { type: 'latest' }) : { type: 'trim-horizon' };
          startReader(shard, start, cp);
        }
        await sleep(o.discoveryIntervalMs ?? 30_000, AbortSignal.any([stop.signal, wake.signal]));
      }
    } catch (err) {
      if (fatal === undefined) fatal = err;
      stop.abort();
    } finally {
      signal.removeEventListener('abort', onAbort);
      stop.abort(); // the leases stop taking (a reader started now would not be stopped)
      // A reader started while waiting is waited for too.
      for (let n = -1; n !== tasks.size; ) {
        n = tasks.size;
        await Promise.allSettled(tasks.values());
      }
      try {
        await this.#flush();
      } catch (err) {
        if (fatal === undefined) fatal = err;
      }
      // After the last checkpoints: other workers take these shards at once.
      await o.leases?.close();
      this.#running = false;
    }
    if (fatal !== undefined) {
      log({ level: 'error', msg: 'consumer stopped', error: fatal instanceof Error ? fatal.message : String(fatal) });
      throw fatal;
    }
    log({ level: 'info', msg: 'consumer stopped', stream: o.streamName, checkpoints: Object.fromEntries(this.#checkpoints) });
  }

  /** A lease table call retried (a TransientError, forever) until it works or the consumer stops (then undefined). */
  async #leaseRetry<R>(what: string, fn: () => Promise<R>, signal: AbortSignal): Promise<R | undefined> {
    try {
      return await withRetry(fn, {
        attempts: Number.POSITIVE_INFINITY,
        baseDelayMs: this.#o.baseDelayMs,
        maxDelayMs: this.#o.maxDelayMs,
        signal,
        onRetry: (err, attempt, delayMs) => this.#o.log?.({ level: 'warn', msg: `leases: ${what} failed: retrying`, attempt, delayMs, error: err.message }),
      });
    } catch (err) {
      if (signal.aborted) return undefined;
      throw err;
    }
  }

  /** ListShards, every page; retried on throttling and 5xx; undefined when stopped meanwhile. */
  async #listShards(signal: AbortSignal): Promise<Shard[] | undefined> {
    const o = this.#o;
    const what = `ListShards on stream ${o.streamName}`;
    if (signal.aborted) return undefined;
    try {
      return await withRetry(
        async () => {
          const out: Shard[] = [];
          let token: string | undefined;
          do {
            const page = await o.client.send(
              new ListShardsCommand(token === undefined ? { StreamName: o.streamName } : { NextToken: token }),
              { abortSignal: signal },
            );
            out.push(...(page.Shards ?? []));
            token = page.NextToken;
          } while (token !== undefined);
          return out;
        },
        {
          attempts: Number.POSITIVE_INFINITY,
          baseDelayMs: o.baseDelayMs,
          maxDelayMs: o.maxDelayMs,
          signal,
          // Throttling, 5xx, a stream being updated: retried; anything else stops the consumer.
          classify: (err) => {
            const kind = classifyKinesisError(err, what);
            return kind instanceof Error ? kind : new TransientError(errorMessage(err), { cause: err });
          },
          onRetry: (err, attempt, delayMs) => o.log?.({ level: 'warn', msg: 'retrying ListShards', attempt, delayMs, error: err.message }),
        },
      );
    } catch (err) {
      if (signal.aborted) return undefined;
      throw err;
    }
  }

  /** A reader's progress: saved at most every checkpointIntervalMs, at once when `urgent` (shard end, stop). */
  async #commit(shardId: string, cp: ShardCheckpoint, urgent: boolean): Promise<void> {
    if (this.#lost.get(shardId)?.aborted) return; // another worker's now
    this.#checkpoints.set(shardId, cp);
    this.#dirty.add(shardId);
    if (urgent || Date.now() - this.#lastSave >= (this.#o.checkpointIntervalMs ?? 1000)) await this.#flush();
  }

  async #flush(): Promise<void> {
    // One save at a time; a flush requested meanwhile saves what is dirty after it.
    const next = this.#saving.catch(() => undefined).then(async () => {
      if (this.#dirty.size === 0) return;
      const now = new Date().toISOString();
      const batch = new Map<string, ShardCheckpoint>();
      for (const id of this.#dirty) batch.set(id, { ...this.#checkpoints.get(id)!, updatedAt: now });
      this.#dirty.clear();
      this.#lastSave = Date.now();
      // A write that fails transiently (a full disk) is retried until it works or the consumer stops; meanwhile the
      // shards wait here, so nothing moves past what is not durable.
      const durably = (what: string, write: () => Promise<void>) =>
        withRetry(write, {
          attempts: Number.POSITIVE_INFINITY,
          baseDelayMs: this.#o.baseDelayMs,
          maxDelayMs: this.#o.maxDelayMs,
          ...(this.#stopping ? { signal: this.#stopping } : {}),
          onRetry: (err, attempt, delayMs) => this.#o.log?.({ level: 'warn', msg: `${what} not saved: retrying`, attempt, delayMs, error: err.message }),
        });
      try {
        // The state first: once these checkpoints are written, the records before them are never read again.
        for (const s of this.#o.state ?? []) await durably('state (checkpoints wait)', () => s.persist());
        try {
          await durably('checkpoints', () => this.#o.checkpoints.save(this.#o.streamName, batch));
        } catch (err) {
          // Leases lost meanwhile: the others were written; those shards are another worker's now (their readers stop).
          if (!(err instanceof LeaseLostError)) throw err;
          this.#o.log?.({ level: 'warn', msg: 'checkpoints not written: leases lost', shards: [...err.shardIds] });
        }
        this.#lastCheckpointAt = Date.now();
      } catch (err) {
        for (const id of batch.keys()) this.#dirty.add(id);
        throw err;
      }
    });
    this.#saving = next;
    return next;
  }
}

function describeFrom(f: StartPosition | undefined): string {
  if (f === undefined || f.type === 'latest') return 'latest';
  if (f.type === 'trim-horizon') return 'trim-horizon';
  return f.time.toISOString();
}
