/**
 * ShardLeases on a DynamoDB lease table (LeaseTable): one worker's side of the Kinesis Client Library's protocol.
 *
 * - Renewal: every leaseDuration / 3, each lease held gets its counter moved, conditional on the counter and owner
 *   this worker wrote last. A failed condition means another worker took it: the lease is lost (its `lost` signal
 *   aborts, the shard's reader stops before handing off more). A lease that could not be renewed for a lease
 *   duration (DynamoDB unreachable) is given up the same way: others may have taken it meanwhile.
 * - Expiry: every worker remembers, for each lease it sees, its counter and the local time it first saw that
 *   counter. A lease whose counter has not moved for leaseDuration of LOCAL time is expired. Clocks of different
 *   hosts are never compared.
 * - Taking: every leaseDuration / 6 the table is scanned and this worker takes its share (src/consumer/leaseBalance.ts:
 *   ceil(leases / workers), at most one lease stolen from the most loaded worker at a time), each take conditional on
 *   the counter and owner seen. So a dead worker's leases are taken within leaseDuration + one renewal interval.
 *   Only the leases of listed shards that can be read now count: not a finished shard's (SHARD_END), not a child's
 *   whose parents were not read to their end.
 * - Checkpoints are conditional writes too (DynamoCheckpointStore): one refused is a lost lease. Every write of a
 *   lease is chained after the previous one, so renewals and checkpoints never race on the counter.
 * - Stop (the signal given to start): no more leases are taken, but the ones held are renewed until close(): after
 *   the consumer's last checkpoints, every lease held is released (owner removed), and other workers take them at
 *   their next scan, without waiting for them to expire.
 */
import type { Shard } from '@aws-sdk/client-kinesis';
import { ConfigError, LeaseLostError, TransientError, errorMessage } from '../../errors.js';
import { sleep } from '../../util/backoff.js';
import type { ShardCheckpoint } from '../CheckpointStore.js';
import { leasesToTake, type LeaseView } from '../leaseBalance.js';
import type { LeasedShard, ShardLeases } from '../ShardLeases.js';
import type { ConsumerLogEntry, StartPosition } from '../types.js';
import { initialCheckpoint, leaseCheckpoint, Sentinel, type Lease, type LeaseTable } from './LeaseTable.js';

/** Default lease duration: a lease whose counter has not moved for this long is expired. */
export const DEFAULT_LEASE_DURATION_MS = 10_000;

export interface LeaseCoordinatorOptions {
  table: LeaseTable;
  streamName: string;
  workerId: string;
  /** Default DEFAULT_LEASE_DURATION_MS. */
  leaseDurationMs?: number;
  /** Create the table when absent (default true). */
  createTable?: boolean;
  log: (e: ConsumerLogEntry) => void;
  /** A monotonic local clock in ms (default performance.now): expiry never uses another host's time. */
  now?: () => number;
  /** No renewal and take loops: the caller runs renewOnce() and takeOnce() (tests, on their own clock). */
  manual?: boolean;
}

interface Held {
  counter: number;
  /** Local time of the last write that succeeded (renewal, take, checkpoint). */
  renewedAt: number;
  lost: AbortController;
  /** The lease's writes, one after the other. */
  chain: Promise<unknown>;
}

export class LeaseCoordinator implements ShardLeases {
  readonly workerId: string;
  readonly #o: LeaseCoordinatorOptions;
  readonly #durationMs: number;
  readonly #now: () => number;
  readonly #held = new Map<string, Held>();
  /** Every lease seen: its counter and the local time that counter was first seen. */
  readonly #seen = new Map<string, { counter: number; since: number }>();
  #listed = new Map<string, Shard>();
  #firstSync = true;
  #onTaken: ((lease: LeasedShard) => void) | undefined;
  /** Aborts at close(): renewals go on until then (the consumer's last checkpoints need the leases). */
  readonly #stop = new AbortController();
  /** Aborts when the consumer stops: no more leases taken. */
  readonly #stopTaking = new AbortController();
  #wake = new AbortController();
  #loops: Promise<void>[] = [];
  #closed = false;

  constructor(o: LeaseCoordinatorOptions) {
    this.#o = o;
    this.workerId = o.workerId;
    this.#durationMs = o.leaseDurationMs ?? DEFAULT_LEASE_DURATION_MS;
    this.#now = o.now ?? (() => performance.now());
  }

  get renewIntervalMs(): number {
    return this.#durationMs / 3;
  }

  get takeIntervalMs(): number {
    return this.#durationMs / 6;
  }

  /** The shards whose leases this worker holds now. */
  heldShards(): string[] {
    return [...this.#held.keys()].sort();
  }

  async start(onTaken: (lease: LeasedShard) => void, signal: AbortSignal): Promise<void> {
    const o = this.#o;
    signal.addEventListener('abort', () => this.#stopTaking.abort(), { once: true });
    if (signal.aborted) this.#stopTaking.abort();
    await o.table.ensure({ create: o.createTable !== false, log: (msg) => o.log({ level: 'info', msg }), signal: this.#stopTaking.signal });
    const other = (await o.table.scan()).find((l) => l.streamName !== undefined && l.streamName !== o.streamName);
    if (other) {
      throw new ConfigError(
        `the lease table "${o.table.name}" holds the leases of stream "${other.streamName}", not "${o.streamName}": give each stream its own lease table`,
      );
    }
    this.#onTaken = onTaken;
    o.log({ level: 'info', msg: 'leases: coordinating', table: o.table.name, workerId: this.workerId, leaseDurationMs: this.#durationMs });
    if (o.manual) return;
    this.#loops = [
      this.#loop('renewing', this.renewIntervalMs, () => this.renewOnce(), this.#stop.signal, false),
      this.#loop('taking', this.takeIntervalMs, () => this.takeOnce(), AbortSignal.any([this.#stop.signal, this.#stopTaking.signal]), true),
    ];
  }

  async sync(shards: readonly Shard[], from: StartPosition): Promise<void> {
    const o = this.#o;
    this.#listed = new Map(shards.map((s) => [s.ShardId!, s]));
    const leases = new Map((await o.table.scan()).map((l) => [l.shardId, l]));
    const first = this.#firstSync && leases.size === 0;
    this.#firstSync = false;
    let created = 0;
    // In listing order (parents before their children).
    for (const s of shards) {
      const id = s.ShardId!;
      if (leases.has(id)) continue;
      const parents = [s.ParentShardId, s.AdjacentParentShardId].filter((p): p is string => p !== undefined);
      // `from` is for the shards of the stream's first start, and roots; a child of a listed shard is read from its start.
      const start: StartPosition = first || !parents.some((p) => this.#listed.has(p)) ? from : { type: 'trim-horizon' };
      const lease = { shardId: id, parents, streamName: o.streamName, ...initialCheckpoint(start) };
      if (await o.table.create(lease)) created++;
      leases.set(id, { ...lease, owner: null, counter: 0, ownerSwitches: 0 });
    }
    if (created > 0) {
      o.log({ level: 'info', msg: 'leases created', table: o.table.name, count: created });
      this.wake();
    }
    // A shard read to its end and gone from the stream (past the retention): nothing will read it, nor wait for it.
    const gone = [...leases.values()].filter((l) => l.checkpoint === Sentinel.shardEnd && !this.#listed.has(l.shardId));
    const deleted: string[] = [];
    for (const l of gone) if (await o.table.deleteFinished(l.shardId)) deleted.push(l.shardId);
    if (deleted.length > 0) o.log({ level: 'info', msg: 'leases deleted: shards read to their end, gone from the stream', shards: deleted });
  }

  wake(): void {
    this.#wake.abort();
  }

  /** Writes a checkpoint of a lease held; LeaseLostError when it is not (any more). */
  checkpoint(shardId: string, cp: ShardCheckpoint): Promise<void> {
    return this.#write(shardId, async (h) => {
      if (cp.sequenceNumber === undefined && cp.startedAt === undefined && !cp.finished) return; // nothing to write yet
      const r = await this.#o.table.checkpoint(shardId, this.workerId, h.counter, cp);
      if (r === 'lost') throw this.#lose(shardId, 'the checkpoint was refused: another worker holds the lease');
      h.counter = r;
      h.renewedAt = this.#now();
      if (cp.finished) {
        // Read to its end: the lease is released with its SHARD_END (its children may be taken now).
        this.#held.delete(shardId);
        this.#o.log({ level: 'info', msg: 'lease released: shard read to its end', shardId });
        this.wake();
      }
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stop.abort();
    await Promise.allSettled(this.#loops);
    const released: string[] = [];
    await Promise.allSettled(
      [...this.#held.keys()].map((id) =>
        this.#write(id, async (h) => {
          const r = await this.#o.table.release(id, this.workerId, h.counter);
          this.#held.delete(id);
          if (r !== 'lost') released.push(id);
        }).catch((err: unknown) => {
          if (!(err instanceof LeaseLostError)) this.#o.log({ level: 'warn', msg: 'lease not released (it expires instead)', shardId: id, error: errorMessage(err) });
        }),
      ),
    );
    if (released.length > 0) this.#o.log({ level: 'info', msg: 'leases released', shards: released.sort() });
  }

  /** Runs `step` every `intervalMs` until stopped; a failure is logged and the loop goes on. */
  async #loop(what: string, intervalMs: number, step: () => Promise<void>, stop: AbortSignal, wakeable: boolean): Promise<void> {
    while (!stop.aborted) {
      try {
        await step();
      } catch (err) {
        if (stop.aborted) break;
        this.#o.log({ level: err instanceof TransientError ? 'warn' : 'error', msg: `leases: ${what} failed: trying again`, error: errorMessage(err) });
      }
      if (wakeable) {
        await sleep(intervalMs, AbortSignal.any([stop, this.#wake.signal]));
        if (this.#wake.signal.aborted) this.#wake = new AbortController();
      } else {
        await sleep(intervalMs, stop);
      }
    }
  }

  /** One round of renewals (what the renewal loop runs every leaseDuration / 3). */
  async renewOnce(): Promise<void> {
    await Promise.all(
      [...this.#held.keys()].map((id) =>
        this.#write(id, async (h) => {
          const startedAt = this.#now();
          try {
            const r = await this.#o.table.renew(id, this.workerId, h.counter);
            if (r === 'lost') throw this.#lose(id, 'the renewal was refused: another worker took the lease');
            h.counter = r;
            h.renewedAt = startedAt;
          } catch (err) {
            if (err instanceof LeaseLostError) return;
            if (this.#now() - h.renewedAt >= this.#durationMs) {
              this.#lose(id, `not renewed for the lease duration (${this.#durationMs} ms): ${errorMessage(err)}`);
              return;
            }
            this.#o.log({ level: 'warn', msg: 'lease renewal failed: trying again', shardId: id, error: errorMessage(err) });
          }
        }).catch(() => undefined),
      ),
    );
  }

  /** One scan of the table and the takes it calls for (what the take loop runs every leaseDuration / 6). */
  async takeOnce(): Promise<void> {
    const o = this.#o;
    const leases = await o.table.scan();
    const now = this.#now();
    const byId = new Map(leases.map((l) => [l.shardId, l]));
    for (const id of [...this.#seen.keys()]) if (!byId.has(id)) this.#seen.delete(id);
    for (const l of leases) {
      const seen = this.#seen.get(l.shardId);
      if (seen === undefined || seen.counter !== l.counter) this.#seen.set(l.shardId, { counter: l.counter, since: now });
      // A lease of ours that the table says is someone else's: taken (the renewal would find out a little later).
      const held = this.#held.get(l.shardId);
      if (held && l.owner !== this.workerId && l.counter > held.counter) this.#lose(l.shardId, `taken by ${l.owner ?? 'nobody'}`);
    }
    const readable = leases.filter((l) => this.#listed.has(l.shardId) && l.checkpoint !== Sentinel.shardEnd && this.#parentsDone(l, byId));
    const views: LeaseView[] = readable.map((l) => {
      const mine = l.owner === this.workerId;
      // Ours in the table but not held here (a restart with the same --worker-id): free to take.
      const owner = mine && !this.#held.has(l.shardId) ? null : l.owner;
      return { shardId: l.shardId, owner, expired: owner !== null && !mine && now - this.#seen.get(l.shardId)!.since >= this.#durationMs };
    });
    const decision = leasesToTake(views, this.workerId);
    const wanted = [...decision.take.map((id) => ({ id, stolen: false })), ...(decision.steal ? [{ id: decision.steal.shardId, stolen: true }] : [])];
    for (const { id, stolen } of wanted) {
      if (this.#stop.signal.aborted || this.#stopTaking.signal.aborted) return;
      const seen = byId.get(id)!;
      const stoodStillMs = Math.round(now - this.#seen.get(id)!.since);
      const taken = await o.table.take(seen, this.workerId);
      if (taken === 'lost') continue; // another worker was quicker: the next pass sees how things are
      const view = views.find((v) => v.shardId === id)!;
      this.#held.set(id, { counter: taken.counter, renewedAt: this.#now(), lost: new AbortController(), chain: Promise.resolve() });
      this.#seen.set(id, { counter: taken.counter, since: this.#now() });
      const { checkpoint, start } = leaseCheckpoint(taken);
      o.log({
        level: 'info',
        msg: stolen ? 'lease taken from the most loaded worker' : 'lease taken',
        shardId: id,
        from: seen.owner,
        // How long its counter stood still on this worker's clock, when it was taken as expired.
        ...(view.expired ? { expiredAfterMs: stoodStillMs } : {}),
        checkpoint: taken.checkpoint,
        target: decision.target,
        workers: decision.workers,
      });
      this.#onTaken?.({ shard: this.#listed.get(id)!, checkpoint, start, lost: this.#held.get(id)!.lost.signal });
    }
  }

  /**
   * Every parent read to its end (SHARD_END), or gone from the stream (past the retention: what it held that was not
   * read is lost, and reported by the consumer), as without leases.
   */
  #parentsDone(l: Lease, byId: Map<string, Lease>): boolean {
    return l.parents.every((p) => byId.get(p)?.checkpoint === Sentinel.shardEnd || !this.#listed.has(p));
  }

  /** Runs a write of a held lease after the lease's previous ones; LeaseLostError when it is not held. */
  #write(shardId: string, fn: (h: Held) => Promise<void>): Promise<void> {
    const h = this.#held.get(shardId);
    if (h === undefined) return Promise.reject(new LeaseLostError(`the lease of ${shardId} is not held by ${this.workerId}`, [shardId]));
    const next = h.chain.catch(() => undefined).then(() => {
      if (this.#held.get(shardId) !== h) throw new LeaseLostError(`the lease of ${shardId} is not held by ${this.workerId}`, [shardId]);
      return fn(h);
    });
    h.chain = next;
    return next;
  }

  /** The lease is no longer ours: its reader stops. Returns the error to throw. */
  #lose(shardId: string, reason: string): LeaseLostError {
    const h = this.#held.get(shardId);
    if (h !== undefined) {
      this.#held.delete(shardId);
      this.#o.log({ level: 'warn', msg: 'lease lost: the shard reader stops', shardId, reason });
      h.lost.abort();
    }
    return new LeaseLostError(`lease of ${shardId} lost: ${reason}`, [shardId]);
  }
}
