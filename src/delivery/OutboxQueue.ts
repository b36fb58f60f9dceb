/**
 * The durable half of a DeliveryHandoff, behind its routing: the outbox (`put` resolves once the jobs are
 * fsync'ed there) and the dispatcher sending from it in the background, with retries, dead letters and a fallback
 * sink for delivery-failure alerts. What an earlier run left is resumed by `start`. `settle` waits for given puts
 * to be delivered (the Lambda handler), `resend` moves dead letters back, `drain` and `close` end it. A direct
 * handoff (the built-in console delivery) has none.
 */
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import type { BatchJob } from './batchFile.js';
import type { DeliveryConfig } from './config.js';
import { Dispatcher, type DeliveryStats, type SinkDeliveryStats } from './Dispatcher.js';
import { Outbox, QUARANTINE_DIR, type DeadLetter, type OutboxJob, type QuarantinedBatch, type ResendResult } from './Outbox.js';
import { ConsoleSink } from './sinks/index.js';
import { deliveryFailureAlert } from './syntheticAlerts.js';
import type { DeliveryLog, Sink } from './types.js';
import type { OutputFormat } from '../pipeline/output.js';

/**
 * What one `handOff` put in the outbox, for `settle()`. No batches: nothing to deliver (no alerts, all suppressed
 * or unrouted), or written already (a direct handoff).
 */
export interface DeliveryTicket {
  /** Outbox batch files holding the ticket's (alert, sink) jobs. */
  readonly batches: readonly string[];
}

export const NO_TICKET: DeliveryTicket = { batches: [] };

export interface SettleResult {
  /** Tickets with a job still in the outbox when the deadline passed (delivery goes on in the background). */
  pending: DeliveryTicket[];
  /** Tickets with a job dead-lettered: done, but not delivered. */
  deadLettered: DeliveryTicket[];
}

/** Retry defaults: with equal jitter, 20 attempts ride out at least 6.5 minutes of sink outage (about 10 on average). */
export const DEFAULT_RETRY = { maxAttempts: 20, initialBackoffMs: 500, maxBackoffMs: 60_000 } as const;

/** How often `settle` looks for progress (it only stats batch files after a delivery or dead letter). */
const SETTLE_POLL_MS = 10;
/** Dead-lettered batch names kept for `settle` (a long-lived process that never settles must not grow). */
const MAX_DEAD_BATCHES = 10_000;

export class OutboxQueue {
  private readonly deadBatches = new Set<string>();
  private readonly dispatcher: Dispatcher;
  /** The jobs a previous run left in the outbox: `settle` it to wait for them too. */
  readonly resumed: DeliveryTicket;

  private constructor(
    readonly outbox: Outbox,
    sinks: ReadonlyMap<string, Sink>,
    config: DeliveryConfig,
    private readonly recovered: OutboxJob[],
    private readonly quarantined: QuarantinedBatch[],
    private readonly log: DeliveryLog,
    opts: { stderr: Writable; failureFormat?: OutputFormat; now?: () => number },
  ) {
    const fallback = config.delivery.fallbackSink !== undefined ? sinks.get(config.delivery.fallbackSink) : new ConsoleSink('stderr', opts.stderr, opts.failureFormat ?? 'text');
    const d = config.delivery;
    this.dispatcher = new Dispatcher(sinks, outbox, {
      maxAttempts: d.maxAttempts ?? DEFAULT_RETRY.maxAttempts,
      initialBackoffMs: d.initialBackoffMs ?? DEFAULT_RETRY.initialBackoffMs,
      maxBackoffMs: d.maxBackoffMs ?? DEFAULT_RETRY.maxBackoffMs,
      concurrency: d.concurrency ?? 4,
      log,
      ...(opts.now ? { now: opts.now } : {}),
      onDeadLetterWritten: (job) => this.noteDead(job.batch),
      onDead: async (job, error) => {
        log(`alert ${job.alert.id} (${job.alert.ruleId}) dead-lettered for sink '${job.sink}' in ${outbox.deadLetterPath}: ${error}`, {
          level: 'error',
          sink: job.sink,
          alertId: job.alert.id,
          ruleId: job.alert.ruleId,
          attempt: job.attempts,
          deadLetters: outbox.deadLetterPath,
          error,
        });
        if (!fallback) return;
        const [r] = await fallback.send([deliveryFailureAlert(job, error, outbox.deadLetterPath)]);
        if (r && !r.ok) log(`the fallback sink failed too: ${r.error}`, { level: 'error', sink: fallback.name, error: r.error });
      },
    });
    this.resumed = { batches: [...new Set(recovered.map((j) => j.batch))] };
  }

  /** Opens (and locks) the outbox in `dir`; nothing is sent before `start`. */
  static async open(
    dir: string,
    sinks: ReadonlyMap<string, Sink>,
    config: DeliveryConfig,
    opts: { stderr: Writable; failureFormat?: OutputFormat; log: DeliveryLog; now?: () => number },
  ): Promise<OutboxQueue> {
    const { outbox, recovered, quarantined } = await Outbox.open(dir, { log: opts.log });
    return new OutboxQueue(outbox, sinks, config, recovered, quarantined, opts.log, opts);
  }

  /** Says what open found, and resumes the jobs a previous run left. */
  start(): void {
    const log = this.log;
    for (const q of this.quarantined) {
      log(`outbox file ${q.file} is damaged (${q.damage}): moved to ${join(this.outbox.dir, QUARANTINE_DIR, q.file)}; ${q.recovered} alert deliver${q.recovered === 1 ? 'y' : 'ies'} recovered and re-queued`, {
        file: q.file,
        damage: q.damage,
        recovered: q.recovered,
      });
    }
    const n = this.recovered.length;
    if (n > 0) log(`resuming ${n} undelivered alert deliver${n === 1 ? 'y' : 'ies'} from ${this.outbox.dir}`, { level: 'info', resumed: n, outboxDir: this.outbox.dir });
    this.dispatcher.enqueue(this.recovered);
  }

  get dir(): string {
    return this.outbox.dir;
  }

  /** Jobs resumed at open. */
  get recoveredCount(): number {
    return this.recovered.length;
  }

  get stats(): DeliveryStats {
    return this.dispatcher.stats;
  }

  /** Per sink: deliveries, retries, dead letters, what is pending and since when. */
  sinkStats(): SinkDeliveryStats[] {
    return this.dispatcher.sinkStats();
  }

  /** Jobs still in the outbox. */
  get pending(): number {
    return this.outbox.pending;
  }

  /** The outbox write that stopped delivery (see Dispatcher.error); the handoff rethrows it. */
  get error(): unknown {
    return this.dispatcher.error;
  }

  /** Persists the jobs and queues them; resolves once they are on disk (a failed write changes nothing). */
  async put(items: readonly BatchJob[]): Promise<DeliveryTicket> {
    const jobs = await this.outbox.append(items);
    if (jobs.length === 0) return NO_TICKET;
    this.dispatcher.enqueue(jobs);
    return { batches: [...new Set(jobs.map((j) => j.batch))] };
  }

  /** Outbox.resend, and the jobs it moved back queued. */
  async resend(choose: (entry: DeadLetter) => BatchJob | undefined): Promise<{ moved: ResendResult; ticket: DeliveryTicket }> {
    const moved = await this.outbox.resend(choose);
    this.dispatcher.enqueue(moved.jobs);
    return { moved, ticket: { batches: [...new Set(moved.jobs.map((j) => j.batch))] } };
  }

  /**
   * Waits until every job of `tickets` is done (delivered or dead-lettered) or `deadlineMs` passes, whichever
   * comes first. Unlike `close()`, delivery goes on afterwards: what is pending stays queued and in the outbox.
   * Returns the tickets that were not delivered. Jobs are tracked by their outbox batch files, which are removed
   * once all their jobs are done.
   */
  async settle(tickets: readonly DeliveryTicket[], deadlineMs: number): Promise<SettleResult> {
    const end = Date.now() + Math.max(0, deadlineMs);
    const open = tickets.filter((t) => t.batches.length > 0);
    // open[next..] may still be queued; each poll re-checks from the first one not yet seen done, once the
    // dispatcher has finished another job. The batch file is the signal: it is removed (by the ack) only after a
    // dead letter was noted in deadBatches, and before the dispatcher counts the job finished. A dead letter still
    // being reported (its log line, the fallback sink) is waited for too, so the caller's logs are complete.
    let next = 0;
    let seen = -1;
    for (;;) {
      const done = this.dispatcher.finished;
      if (done !== seen) {
        seen = done;
        while (next < open.length && (await this.stillQueued([open[next]!])).length === 0) next++;
      }
      const left = end - Date.now();
      const settled = next === open.length && this.dispatcher.reportsInFlight === 0;
      // An outbox that cannot be written stops the dispatcher: nothing more will be delivered.
      if (settled || left <= 0 || this.dispatcher.error !== undefined) break;
      await new Promise((resolve) => setTimeout(resolve, Math.min(SETTLE_POLL_MS, left)));
    }
    const pending = await this.stillQueued(open.slice(next));
    const isPending = new Set(pending);
    const deadLettered = tickets.filter((t) => !isPending.has(t) && t.batches.some((b) => this.deadBatches.has(b)));
    // Settled tickets are the caller's to keep: forget their batches.
    for (const t of tickets) if (!isPending.has(t)) for (const b of t.batches) this.deadBatches.delete(b);
    return { pending, deadLettered };
  }

  /** The tickets with a batch file still in the outbox. */
  private async stillQueued(tickets: readonly DeliveryTicket[]): Promise<DeliveryTicket[]> {
    const out: DeliveryTicket[] = [];
    for (const t of tickets) {
      for (const b of t.batches) {
        if (await exists(join(this.outbox.dir, b))) {
          out.push(t);
          break;
        }
      }
    }
    return out;
  }

  private noteDead(batch: string): void {
    this.deadBatches.add(batch);
    if (this.deadBatches.size > MAX_DEAD_BATCHES) this.deadBatches.delete(this.deadBatches.values().next().value!);
  }

  /** Waits up to `deadlineMs` for every job to be done, then stops sending; says what is left. */
  async drain(deadlineMs: number): Promise<void> {
    const drained = await this.dispatcher.drain(deadlineMs);
    if (!drained) this.log(`${this.outbox.pending} alert deliveries not done before the deadline: they stay in ${this.outbox.dir} and resume on the next start`, { pending: this.outbox.pending, outboxDir: this.outbox.dir });
  }

  /** Stops sending for good and releases the outbox (what is left stays there for the next start). */
  async close(): Promise<void> {
    this.dispatcher.abandon();
    await this.outbox.close();
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}
