/**
 * Sends outbox jobs to their sinks in the background: per sink, up to `concurrency` sends in flight, each of up
 * to `sink.maxBatch` alerts. A retryable failure waits (exponential backoff with jitter, or the server's
 * Retry-After, which also pauses the sink); after `maxAttempts`, or at once when not retryable, the job goes to
 * the dead-letter file and `onDead` reports it. An ack or dead letter the outbox cannot write (a full disk) is
 * retried with the same backoff, holding that send's slot, until it can be written: delivery never stops for good.
 */
import type { OutboxJob, Outbox } from './Outbox.js';
import type { DeliveryLog, SendResult, Sink } from './types.js';
import { TransientError, errorMessage } from '../errors.js';
import { backoffDelay, sleep } from '../util/backoff.js';

const IN_FLIGHT_GRACE_MS = 15_000;

export interface RetryPolicy {
  maxAttempts: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
}

export interface DispatcherOptions extends RetryPolicy {
  concurrency: number;
  /**
   * A job's dead letter is written; called at once, before the ack removes its batch file, so whoever watches
   * that file (DeliveryHandoff.settle) knows by then that the job was not delivered.
   */
  onDeadLetterWritten?: (job: OutboxJob) => void;
  /** A job was dead-lettered (already written to the dead-letter file and acked). */
  onDead: (job: OutboxJob, error: string) => Promise<void>;
  /** Something worth telling the operator (already masked). */
  log: DeliveryLog;
  now?: () => number;
  random?: () => number;
}

export interface DeliveryStats {
  delivered: number;
  /** Sends that failed and were retried (per alert). */
  retries: number;
  deadLettered: number;
}

/** One sink's side of the dispatcher: what `run`'s /metrics and /healthz show per sink. */
export interface SinkDeliveryStats extends DeliveryStats {
  sink: string;
  /** Jobs queued for the sink and not done yet (in flight, waiting for a retry, or due). */
  pending: number;
  /** Epoch ms at which the oldest of them was queued in this process (resumed jobs: at start); null when none. */
  oldestPendingAt: number | null;
}

interface Lane {
  sink: Sink;
  stats: DeliveryStats;
  /** The jobs not done yet, with when they were queued (insertion order: the first is the oldest). */
  queuedAt: Map<OutboxJob, number>;
  /** Jobs due now, oldest first (`head` is the next to take). */
  ready: OutboxJob[];
  head: number;
  /** Jobs waiting for their retry time. */
  waiting: OutboxJob[];
  inFlight: number;
  pausedUntil: number;
  timer: NodeJS.Timeout | undefined;
  /** The last failure was logged; the next success says the sink recovered. */
  failing: boolean;
}

export class Dispatcher {
  private fatal: unknown;
  readonly stats: DeliveryStats = { delivered: 0, retries: 0, deadLettered: 0 };
  private readonly lanes = new Map<string, Lane>();
  private finishedJobs = 0;
  private deadBeingReported = 0;
  private stopped = false;
  /** After drain: results of sends still out are ignored (the outbox is closing); outbox writes stop retrying. */
  private abandoned = false;
  private readonly halt = new AbortController();
  private idleWaiters: (() => void)[] = [];
  /** An outbox write is failing: logged once, and once more when it works again. */
  private outboxFailing = false;
  private readonly now: () => number;
  private readonly random: () => number;

  constructor(
    sinks: ReadonlyMap<string, Sink>,
    private readonly outbox: Outbox,
    private readonly opts: DispatcherOptions,
  ) {
    for (const [name, sink] of sinks) this.lanes.set(name, { sink, stats: { delivered: 0, retries: 0, deadLettered: 0 }, queuedAt: new Map(), ready: [], head: 0, waiting: [], inFlight: 0, pausedUntil: 0, timer: undefined, failing: false });
    this.now = opts.now ?? Date.now;
    this.random = opts.random ?? Math.random;
  }

  /**
   * Jobs done for good: delivered and acked, or dead-lettered, acked and reported (`onDead` returned). It grows
   * only once a job's outbox writes are over, so a waiter that sees it change finds the batch files current.
   */
  get finished(): number {
    return this.finishedJobs;
  }

  /** Dead-lettered jobs whose ack or `onDead` report has not finished yet. */
  get reportsInFlight(): number {
    return this.deadBeingReported;
  }

  get queued(): number {
    let n = 0;
    for (const l of this.lanes.values()) n += l.ready.length - l.head + l.waiting.length + l.inFlight;
    return n;
  }

  /** Per sink, in the config's order. */
  sinkStats(): SinkDeliveryStats[] {
    return [...this.lanes.values()].map((l) => ({
      sink: l.sink.name,
      ...l.stats,
      pending: l.queuedAt.size,
      oldestPendingAt: l.queuedAt.size > 0 ? l.queuedAt.values().next().value! : null,
    }));
  }

  enqueue(jobs: readonly OutboxJob[]): void {
    const touched = new Set<Lane>();
    const now = this.now();
    for (const j of jobs) {
      const lane = this.lanes.get(j.sink);
      if (!lane) {
        // A job persisted under a sink the config no longer has: keep it on disk, say so.
        this.opts.log(`outbox holds an alert for sink '${j.sink}', which the config no longer declares: it stays in the outbox`, { sink: j.sink });
        continue;
      }
      lane.ready.push(j);
      if (!lane.queuedAt.has(j)) lane.queuedAt.set(j, now);
      touched.add(lane);
    }
    for (const lane of touched) this.pump(lane);
  }

  /** Resolves true when every queue is empty, false when `deadlineMs` passed first; then stops sending. */
  async drain(deadlineMs: number): Promise<boolean> {
    const idle = new Promise<boolean>((resolve) => {
      if (this.queued === 0) resolve(true);
      else this.idleWaiters.push(() => resolve(true));
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), deadlineMs);
    });
    const done = await Promise.race([idle, timeout]);
    clearTimeout(timer);
    this.stop();
    // Let sends already in flight finish (the sinks' timeouts bound them), so their acks are written; a send
    // still out after the grace period is abandoned: its jobs stay in the outbox and go again next start.
    const graceEnd = Date.now() + IN_FLIGHT_GRACE_MS;
    await new Promise<void>((resolve) => {
      const check = () => ([...this.lanes.values()].every((l) => l.inFlight === 0) || Date.now() > graceEnd ? resolve() : setTimeout(check, 10));
      check();
    });
    this.abandon();
    return done;
  }

  /**
   * The outbox write that could not be retried (its lock was taken over, a bug): delivery stopped; the handoff
   * rethrows it to its caller.
   */
  get error(): unknown {
    return this.fatal;
  }

  /** Stops for good: results of sends still out are ignored and outbox writes stop retrying (the outbox closes). */
  abandon(): void {
    this.stop();
    this.abandoned = true;
    this.halt.abort();
  }

  stop(): void {
    this.stopped = true;
    for (const lane of this.lanes.values()) {
      clearTimeout(lane.timer);
      lane.timer = undefined;
    }
  }

  private pump(lane: Lane): void {
    if (this.stopped) return;
    const now = this.now();
    if (lane.waiting.length > 0) {
      const still: OutboxJob[] = [];
      for (const j of lane.waiting) (j.notBefore <= now ? lane.ready : still).push(j);
      lane.waiting = still;
    }
    while (lane.inFlight < this.opts.concurrency && now >= lane.pausedUntil && lane.head < lane.ready.length) {
      const end = Math.min(lane.ready.length, lane.head + lane.sink.maxBatch);
      const batch = lane.ready.slice(lane.head, end);
      lane.head = end;
      if (lane.head > 1024 && lane.head * 2 > lane.ready.length) {
        lane.ready = lane.ready.slice(lane.head);
        lane.head = 0;
      }
      lane.inFlight++;
      void this.sendBatch(lane, batch).finally(() => {
        lane.inFlight--;
        this.pump(lane);
        this.checkIdle();
      });
    }
    this.schedule(lane);
  }

  /** A timer for the earliest waiting job (or the end of a pause). */
  private schedule(lane: Lane): void {
    clearTimeout(lane.timer);
    lane.timer = undefined;
    if (this.stopped || lane.inFlight >= this.opts.concurrency) return;
    let earliest = lane.head < lane.ready.length ? 0 : Infinity;
    for (const j of lane.waiting) earliest = Math.min(earliest, j.notBefore);
    if (earliest === Infinity) return;
    const next = Math.max(lane.pausedUntil, earliest);
    const wait = Math.max(1, next - this.now());
    lane.timer = setTimeout(() => this.pump(lane), wait);
  }

  private checkIdle(): void {
    if (this.queued !== 0) return;
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const f of w) f();
  }

  private async sendBatch(lane: Lane, batch: OutboxJob[]): Promise<void> {
    let results: SendResult[];
    try {
      results = await lane.sink.send(batch.map((j) => j.alert));
    } catch (err) {
      // A sink bug, not a delivery failure: retry (bounded by maxAttempts) and say what happened.
      results = batch.map(() => ({ ok: false, retryable: true, error: `sink '${lane.sink.name}' failed: ${err instanceof Error ? err.message : String(err)}` }));
    }
    if (this.abandoned) return;
    const delivered: OutboxJob[] = [];
    const dead: { job: OutboxJob; error: string }[] = [];
    let firstError: string | undefined;
    for (const [i, job] of batch.entries()) {
      const r = results[i] ?? { ok: false, retryable: true, error: `sink '${lane.sink.name}' returned no result` };
      job.attempts++;
      if (r.ok) {
        delivered.push(job);
        continue;
      }
      firstError ??= r.error;
      if (!r.retryable || job.attempts >= this.opts.maxAttempts) {
        dead.push({ job, error: r.retryable ? `${r.error} (gave up after ${job.attempts} attempts)` : r.error });
        continue;
      }
      this.stats.retries++;
      lane.stats.retries++;
      const delay = r.retryAfterMs ?? backoffDelay(job.attempts, this.opts.initialBackoffMs, this.opts.maxBackoffMs, 'equal', this.random);
      if (r.retryAfterMs !== undefined) lane.pausedUntil = Math.max(lane.pausedUntil, this.now() + r.retryAfterMs);
      job.notBefore = this.now() + delay;
      lane.waiting.push(job);
    }
    if (firstError !== undefined && !lane.failing) {
      lane.failing = true;
      this.opts.log(`${firstError}; retrying (up to ${this.opts.maxAttempts} attempts per alert)`, {
        sink: lane.sink.name,
        attempt: Math.max(...batch.map((j) => j.attempts)),
        maxAttempts: this.opts.maxAttempts,
        error: firstError,
      });
    } else if (firstError === undefined && lane.failing) {
      lane.failing = false;
      this.opts.log(`sink '${lane.sink.name}' is delivering again`, { level: 'info', sink: lane.sink.name });
    }
    // The delivery counters count before the ack (the sink has the alert already); `finished`, which waiters such
    // as DeliveryHandoff.settle watch, only after it, once the batch file of a finished batch is gone.
    if (delivered.length > 0) {
      this.stats.delivered += delivered.length;
      lane.stats.delivered += delivered.length;
      for (const j of delivered) lane.queuedAt.delete(j);
      if (!(await this.durably(() => this.outbox.ack(delivered)))) return;
      this.finishedJobs += delivered.length;
    }
    for (const d of dead) {
      if (!(await this.durably(() => this.outbox.deadLetter(d.job, d.error)))) return;
      this.stats.deadLettered++;
      lane.stats.deadLettered++;
      lane.queuedAt.delete(d.job);
      this.deadBeingReported++;
      try {
        this.opts.onDeadLetterWritten?.(d.job);
        if (!(await this.durably(() => this.outbox.ack([d.job])))) return;
        try {
          await this.opts.onDead(d.job, d.error);
        } catch (err) {
          this.opts.log(`reporting the dead letter of alert ${d.job.alert.id} failed: ${errorMessage(err)}`, { level: 'error', sink: d.job.sink, alertId: d.job.alert.id, error: errorMessage(err) });
        }
        this.finishedJobs++;
      } finally {
        this.deadBeingReported--;
      }
    }
  }

  /**
   * Runs an outbox write (each one is safe to repeat after a failure) until it succeeds; false when the dispatcher
   * was abandoned meanwhile (the job stays in the outbox and goes again at the next start).
   */
  private async durably(write: () => Promise<void>): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      if (this.abandoned) return false;
      try {
        await write();
        if (this.outboxFailing) {
          this.outboxFailing = false;
          this.opts.log('the outbox can be updated again', { level: 'info' });
        }
        return true;
      } catch (err) {
        if (!(err instanceof TransientError)) {
          // Not a full disk: retrying cannot help (the outbox's lock is another process's now, or a bug).
          this.fatal ??= err;
          this.opts.log(`the outbox cannot be updated, delivery stopped: ${errorMessage(err)}`, { level: 'error', error: errorMessage(err) });
          this.abandon();
          return false;
        }
        if (!this.outboxFailing) {
          this.outboxFailing = true;
          this.opts.log(`the outbox cannot be updated: ${errorMessage(err)}; retrying (deliveries wait meanwhile)`, { error: errorMessage(err) });
        }
        await sleep(backoffDelay(attempt, this.opts.initialBackoffMs, this.opts.maxBackoffMs, 'equal', this.random), this.halt.signal);
      }
    }
  }
}
