/**
 * The delivery adapter of AlertHandoff: suppression -> routing -> per-route redaction -> durable outbox
 * (`handOff` resolves once the alerts are fsync'ed there) -> a background dispatcher per sink, with retries,
 * dead letters and a fallback sink for delivery-failure alerts. `close()` flushes suppression digests and drains
 * with a deadline; what is left stays in the outbox for the next start. `settle()` waits for given hand-offs to
 * be delivered without closing (the Lambda handler, which must not return before its alerts are out).
 *
 * Without a delivery config, alerts take the same path: the built-in config (consoleDelivery.ts, one console
 * sink on stdout and one default route) opened `direct`, with no outbox: after the same suppression, routing and
 * redaction, `handOff` writes to the sinks itself and resolves once they have the alerts. Not an in-memory
 * outbox: the outbox is there so that alerts survive a sink outage and a crash, which a console write does not
 * meet; what it needs is what printing gives, input order, a slow pipe slowing the input down, nothing pending at
 * exit and nothing on disk, and a background dispatcher would give up each of them (a queue growing behind the
 * pipe, a Lambda summary line passing its alerts) unless every hand-off waited for its own delivery: a direct
 * write with more steps. Only console sinks can be direct; a configured console sink goes through the outbox.
 *
 * Changes of state (suppression and the outbox append of a hand-off, digests of ending windows, close, persist)
 * run one at a time, and a hand-off that cannot be written (a full disk: a TransientError naming the directory)
 * changes nothing, so the drivers simply retry it. With `persistSuppression` (the live consumer), the suppression
 * windows are saved in `<outbox>/suppression.json` whenever the consumer is about to write checkpoints
 * (`persist`, the CheckpointedState hook) and restored at open.
 */
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import type { SNSClient } from '@aws-sdk/client-sns';
import { ConfigError, errorMessage } from '../errors.js';
import type { AlertHandoff } from '../pipeline/AlertHandoff.js';
import type { CheckpointedState } from '../pipeline/CheckpointedState.js';
import type { Alert } from '../pipeline/alert.js';
import { looser, redactAlert, stricter, type RedactionMode } from '../redaction/index.js';
import { writeFileAtomic } from '../util/atomicFile.js';
import { backoffDelay } from '../util/backoff.js';
import type { BatchJob } from './batchFile.js';
import type { DeliveryConfig } from './config.js';
import { Dispatcher, type DeliveryStats } from './Dispatcher.js';
import { Outbox, QUARANTINE_DIR, unavailable, type ResendResult } from './Outbox.js';
import { maskSecrets } from './secrets.js';
import { terminalSafe } from '../util/escape.js';
import { Router } from './routing.js';
import { ConsoleSink, buildSinks } from './sinks/index.js';
import { SUPPRESSION_STATE_FILE, readSuppressionState } from './suppressionState.js';
import { Suppressor, renderDigest, type Change } from './Suppressor.js';
import { deliveryFailureAlert } from './syntheticAlerts.js';
import type { DeliveredAlert, Sink } from './types.js';

export const DEFAULT_OUTBOX_DIR = '.dasguard/outbox';

export interface DeliveryHandoffOptions {
  /** Wins over the config's delivery.outboxDir. */
  outboxDir?: string;
  stdout?: Writable;
  /** Delivery log lines and, by default, delivery-failure alerts. */
  stderr?: Writable;
  /** Ready sinks by name, instead of building them from the config (tests, the built-in delivery's coloured console). */
  sinks?: ReadonlyMap<string, Sink>;
  snsClient?: SNSClient;
  now?: () => number;
  /**
   * Keep the suppression windows in `<outbox>/suppression.json` when `persist()` is called, and restore them at
   * open (windows that ended meanwhile send their digest at once). For `run`, which persists before every
   * checkpoint; replay restarts from its input and the Lambda handler has no lasting disk: neither uses it.
   */
  persistSuppression?: boolean;
}

/** What `resend` moves back into the outbox, and what it could not. */
export interface ResendOptions {
  /** Only the dead letters (and quarantined jobs) of this sink. */
  sink?: string;
  /** Deliver them to this sink instead of their own. */
  to?: string;
}

export interface HandoffStats extends DeliveryStats {
  /** Alerts handed off (before suppression). */
  accepted: number;
  suppressed: number;
  /** Alerts no route took (no default route). */
  unrouted: number;
  /** (alert, sink) jobs a previous run left in the outbox, resumed at open. */
  recovered: number;
  /** Jobs still in the outbox. */
  pending: number;
}

/**
 * What one `handOff` put in the outbox, for `settle()`. No batches: nothing to deliver (no alerts, all suppressed
 * or unrouted).
 */
export interface DeliveryTicket {
  /** Outbox batch files holding the ticket's (alert, sink) jobs. */
  readonly batches: readonly string[];
}

export interface SettleResult {
  /** Tickets with a job still in the outbox when the deadline passed (delivery goes on in the background). */
  pending: DeliveryTicket[];
  /** Tickets with a job dead-lettered: done, but not delivered. */
  deadLettered: DeliveryTicket[];
}

/** How often `settle` looks for progress (it only stats batch files after a delivery or dead letter). */
const SETTLE_POLL_MS = 10;
/** Dead-lettered batch names kept for `settle` (a long-lived process that never settles must not grow). */
const MAX_DEAD_BATCHES = 10_000;

/** Retry defaults: with equal jitter, 20 attempts ride out at least 6.5 minutes of sink outage (about 10 on average). */
export const DEFAULT_RETRY = { maxAttempts: 20, initialBackoffMs: 500, maxBackoffMs: 60_000 } as const;

/** Where a durable handoff's jobs wait and go from; a direct one has none. */
interface Queue {
  outbox: Outbox;
  dispatcher: Dispatcher;
}

const NO_TICKET: DeliveryTicket = { batches: [] };

export class DeliveryHandoff implements AlertHandoff, CheckpointedState {
  private readonly stats0 = { accepted: 0, unrouted: 0, recovered: 0 };
  /** Deliveries done by a direct handoff (a durable one counts in its dispatcher). */
  private readonly sent: DeliveryStats = { delivered: 0, retries: 0, deadLettered: 0 };
  private readonly router: Router;
  private readonly suppressor: Suppressor;
  /** Undefined for a direct handoff; set once by `open`. */
  private queue: Queue | undefined;
  private closed = false;
  private readonly deadBatches = new Set<string>();
  private resumedTicket: DeliveryTicket = NO_TICKET;
  /** Changes of state, one at a time (see the top of the file). */
  private lock: Promise<unknown> = Promise.resolve();
  /** Windows whose end came, to close (and send the digests of) under the lock. */
  private readonly due = new Set<string>();
  private dueScheduled = false;
  private dueFailures = 0;
  /** `<outbox>/suppression.json` when suppression is persisted. */
  private statePath: string | undefined;

  private constructor(
    readonly config: DeliveryConfig,
    private readonly sinks: ReadonlyMap<string, Sink>,
    private readonly log: (m: string) => void,
    opts: { now?: () => number; trackTaken: boolean },
  ) {
    this.router = new Router(config.routes);
    this.suppressor = new Suppressor(config.suppression, {
      ...(opts.now ? { now: opts.now } : {}),
      trackTaken: opts.trackTaken,
      onDue: (key) => this.windowDue(key),
    });
  }

  /** The sinks and the delivery log line of a config and its options. */
  private static parts(config: DeliveryConfig, opts: DeliveryHandoffOptions): { sinks: ReadonlyMap<string, Sink>; stderr: Writable; log: (m: string) => void } {
    const stdout = opts.stdout ?? process.stdout;
    const stderr = opts.stderr ?? process.stderr;
    const log = (m: string) => void stderr.write(`dasguard: delivery: ${terminalSafe(maskSecrets(m, config.secrets))}\n`);
    const sinks = opts.sinks ?? buildSinks(config, { stdout, stderr, ...(opts.snsClient ? { snsClient: opts.snsClient } : {}) });
    return { sinks, stderr, log };
  }

  /**
   * A handoff without outbox (see the top of the file): nothing is opened, written or left behind. Only for a
   * config whose every sink is a console sink (the built-in delivery, consoleDelivery.ts); `settle` has nothing
   * to wait for, and `resend` and `outboxDir` do not apply.
   */
  static direct(config: DeliveryConfig, opts: Pick<DeliveryHandoffOptions, 'stdout' | 'stderr' | 'sinks' | 'now'> = {}): DeliveryHandoff {
    const { sinks, log } = DeliveryHandoff.parts(config, opts);
    const other = [...sinks.values()].find((s) => s.type !== 'console');
    if (other) throw new Error(`a direct delivery handoff writes to console sinks only, not to sink '${other.name}' (${other.type})`);
    return new DeliveryHandoff(config, sinks, log, { ...(opts.now ? { now: opts.now } : {}), trackTaken: false });
  }

  static async open(config: DeliveryConfig, opts: DeliveryHandoffOptions = {}): Promise<DeliveryHandoff> {
    const { sinks, stderr, log } = DeliveryHandoff.parts(config, opts);
    const fallback = config.delivery.fallbackSink !== undefined ? sinks.get(config.delivery.fallbackSink) : new ConsoleSink('stderr', stderr, 'text');
    const dir = opts.outboxDir ?? config.delivery.outboxDir ?? DEFAULT_OUTBOX_DIR;
    const statePath = opts.persistSuppression ? join(dir, SUPPRESSION_STATE_FILE) : undefined;
    const { outbox, recovered, quarantined } = await Outbox.open(dir, { log });
    let saved: Awaited<ReturnType<typeof readSuppressionState>> | undefined;
    try {
      // Read under the outbox's lock: a previous holder still closing rewrites it until it lets go.
      saved = statePath !== undefined ? await readSuppressionState(statePath) : undefined;
    } catch (err) {
      await outbox.close();
      throw err;
    }
    const d = config.delivery;
    const dispatcher = new Dispatcher(sinks, outbox, {
      maxAttempts: d.maxAttempts ?? DEFAULT_RETRY.maxAttempts,
      initialBackoffMs: d.initialBackoffMs ?? DEFAULT_RETRY.initialBackoffMs,
      maxBackoffMs: d.maxBackoffMs ?? DEFAULT_RETRY.maxBackoffMs,
      concurrency: d.concurrency ?? 4,
      log,
      ...(opts.now ? { now: opts.now } : {}),
      onDead: async (job, error) => {
        self.noteDead(job.batch);
        log(`alert ${job.alert.id} (${job.alert.ruleId}) dead-lettered for sink '${job.sink}' in ${outbox.deadLetterPath}: ${error}`);
        if (!fallback) return;
        const [r] = await fallback.send([deliveryFailureAlert(job, error, outbox.deadLetterPath)]);
        if (r && !r.ok) log(`the fallback sink failed too: ${r.error}`);
      },
    });
    const self: DeliveryHandoff = new DeliveryHandoff(config, sinks, log, { ...(opts.now ? { now: opts.now } : {}), trackTaken: statePath !== undefined });
    self.queue = { outbox, dispatcher };
    self.statePath = statePath;
    self.stats0.recovered = recovered.length;
    self.resumedTicket = { batches: [...new Set(recovered.map((j) => j.batch))] };
    for (const q of quarantined) {
      log(`outbox file ${q.file} is damaged (${q.damage}): moved to ${join(outbox.dir, QUARANTINE_DIR, q.file)}; ${q.recovered} alert deliver${q.recovered === 1 ? 'y' : 'ies'} recovered and re-queued`);
    }
    if (recovered.length > 0) log(`resuming ${recovered.length} undelivered alert deliver${recovered.length === 1 ? 'y' : 'ies'} from ${outbox.dir}`);
    dispatcher.enqueue(recovered);
    if (saved) self.suppressor.restore(saved); // windows that ended while we were down are due at once
    return self;
  }

  async handOff(alerts: readonly Alert[]): Promise<void> {
    await this.handOffTracked(alerts);
  }

  /** `handOff`, resolving (once the alerts are durably in the outbox, or written) to a ticket for `settle`. */
  async handOffTracked(alerts: readonly Alert[]): Promise<DeliveryTicket> {
    if (this.closed) throw new Error('handOff after close');
    if (this.queue?.dispatcher.error !== undefined) throw this.queue.dispatcher.error;
    return this.exclusive(async () => {
      // A failure changed nothing: the caller retries the same alerts.
      const ticket = await this.commit(this.suppressor.filter(alerts));
      this.stats0.accepted += alerts.length;
      return ticket;
    });
  }

  /** Enqueues what a suppression change lets out; the change is undone when that fails (then it never happened). */
  private async commit(change: Change<DeliveredAlert[]>): Promise<DeliveryTicket> {
    try {
      return await this.enqueue(change.result);
    } catch (err) {
      change.undo();
      throw err;
    }
  }

  /**
   * Saves the suppression windows (and the ids of recent alerts they took) in suppression.json, atomically; a
   * no-op without `persistSuppression` or when nothing changed. The live consumer calls it before writing
   * checkpoints. A TransientError naming the outbox directory when the file cannot be written.
   */
  async persist(): Promise<void> {
    if (this.statePath === undefined) return;
    await this.exclusive(() => this.persistLocked());
  }

  private async persistLocked(): Promise<void> {
    if (this.statePath === undefined || !this.suppressor.dirty) return;
    const state = this.suppressor.snapshot();
    // On disk, the first alert of a window is redacted as the least strict of its routes would have it: no more
    // than the outbox holds for it; each route's own redaction applies again when the digest goes out.
    // Redacted once per window (its first alert never changes), not at every checkpoint.
    state.windows = state.windows.map((w) => ({ ...w, first: this.savedFirst(w.first) }));
    try {
      await writeFileAtomic(this.statePath, JSON.stringify(state) + '\n');
    } catch (err) {
      throw unavailable(this.durable().outbox.dir, err);
    }
    this.suppressor.committed();
  }

  private readonly savedFirsts = new WeakMap<DeliveredAlert, DeliveredAlert>();

  private savedFirst(first: DeliveredAlert): DeliveredAlert {
    let saved = this.savedFirsts.get(first);
    if (saved === undefined) {
      saved = redactAlert(first, this.leastStrictFor(first));
      this.savedFirsts.set(first, saved);
    }
    return saved;
  }

  private leastStrictFor(alert: DeliveredAlert): RedactionMode {
    const modes = this.router.targets(alert).map((t) => t.redaction);
    return modes.length === 0 ? 'full' : modes.reduce(looser);
  }

  /** A suppression window ended (its timer, or found ended at open): its digest is sent under the lock. */
  private windowDue(key: string): void {
    this.due.add(key);
    if (this.dueScheduled || this.closed) return;
    this.dueScheduled = true;
    queueMicrotask(() => void this.exclusive(() => this.closeDue()));
  }

  private async closeDue(): Promise<void> {
    this.dueScheduled = false;
    if (this.closed) return; // close() sends every digest
    const keys = [...this.due];
    this.due.clear();
    try {
      await this.commit(this.suppressor.closeDue(keys));
      if (this.dueFailures > 0) this.log('suppression digests are written again');
      this.dueFailures = 0;
    } catch (err) {
      for (const k of keys) this.due.add(k);
      if (this.dueFailures++ === 0) this.log(`suppression digests cannot be written to the outbox: ${err instanceof Error ? err.message : String(err)}; retrying`);
      const d = this.config.delivery;
      const timer = setTimeout(() => {
        this.dueScheduled = false;
        for (const k of [...this.due]) this.windowDue(k);
      }, backoffDelay(this.dueFailures, d.initialBackoffMs ?? DEFAULT_RETRY.initialBackoffMs, d.maxBackoffMs ?? DEFAULT_RETRY.maxBackoffMs, 'equal'));
      timer.unref();
      this.dueScheduled = true;
    }
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.lock.then(fn);
    this.lock = p.catch(() => undefined);
    return p;
  }

  /**
   * `dasguard outbox resend`: moves the dead letters, and the readable quarantined jobs not yet acked or
   * re-queued, back into the outbox for their sink (or `to`), redacted again with the strictest redaction of the
   * routes using that sink, and queues them. Entries for a sink the config does not declare stay where they are.
   */
  async resend(opts: ResendOptions = {}): Promise<{ moved: ResendResult; ticket: DeliveryTicket; unknownSinks: Map<string, number> }> {
    const { outbox, dispatcher } = this.durable();
    if (opts.to !== undefined && !this.sinks.has(opts.to)) throw new ConfigError(`--to ${opts.to}: ${this.config.source} declares no such sink (sinks: ${[...this.sinks.keys()].join(', ') || 'none'})`);
    const unknownSinks = new Map<string, number>();
    const moved = await this.exclusive(() =>
      outbox.resend((e) => {
        if (opts.sink !== undefined && e.sink !== opts.sink) return undefined;
        const sink = opts.to ?? e.sink;
        if (!this.sinks.has(sink)) {
          unknownSinks.set(sink, (unknownSinks.get(sink) ?? 0) + 1);
          return undefined;
        }
        return { sink, alert: redactAlert(e.alert, this.strictestFor(sink)) };
      }),
    );
    dispatcher.enqueue(moved.jobs);
    return { moved, ticket: { batches: [...new Set(moved.jobs.map((j) => j.batch))] }, unknownSinks };
  }

  private strictestFor(sink: string): RedactionMode {
    const modes = this.config.routes.filter((r) => r.sinks.includes(sink)).map((r) => r.redaction ?? 'literals');
    return modes.reduce<RedactionMode>(stricter, 'literals');
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
    // A direct handoff's tickets are empty: written already.
    if (open.length === 0) return { pending: [], deadLettered: [] };
    const { dispatcher } = this.durable();
    // open[next..] may still be queued; each poll re-checks from the first one not yet seen done. The batch file
    // is the signal, not the outbox's in-memory count: it drops before the dispatcher has counted the job (and
    // noted a dead letter), while the file is removed only after that, in the same turn of the event loop.
    let next = 0;
    let seen = -1;
    for (;;) {
      const done = dispatcher.stats.delivered + dispatcher.stats.deadLettered;
      if (done !== seen) {
        seen = done;
        while (next < open.length && (await this.stillQueued([open[next]!])).length === 0) next++;
      }
      const left = end - Date.now();
      // An outbox that cannot be written stops the dispatcher: nothing more will be delivered.
      if (next === open.length || left <= 0 || dispatcher.error !== undefined) break;
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
        if (await exists(join(this.durable().outbox.dir, b))) {
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

  /**
   * Routes, redacts and persists (or, direct, writes); counts only once the outbox (or sink) has them: a failed
   * write changes nothing.
   */
  private async enqueue(alerts: readonly DeliveredAlert[]): Promise<DeliveryTicket> {
    const items: BatchJob[] = [];
    const unrouted: DeliveredAlert[] = [];
    for (const a of alerts) {
      const targets = this.router.targets(a);
      if (targets.length === 0) {
        unrouted.push(a);
        continue;
      }
      for (const t of targets) items.push({ sink: t.sink, alert: redactAlert(renderDigest(a, t.redaction), t.redaction) });
    }
    const jobs = this.queue ? await this.queue.outbox.append(items) : await this.sendNow(items);
    for (const a of unrouted) {
      if (this.stats0.unrouted++ === 0) this.log(`alert ${a.id} (${a.ruleId}) matched no route and there is no default route: not delivered (add a route with default: true)`);
    }
    if (!this.queue || jobs.length === 0) return NO_TICKET;
    this.queue.dispatcher.enqueue(jobs);
    return { batches: [...new Set(jobs.map((j) => j.batch))] };
  }

  /** A direct handoff's delivery: each run of jobs for one sink in one `send`, in order, awaited. */
  private async sendNow(items: readonly BatchJob[]): Promise<[]> {
    for (let i = 0; i < items.length; ) {
      const sink = this.sinks.get(items[i]!.sink)!;
      let end = i + 1;
      while (end < items.length && items[end]!.sink === sink.name && end - i < sink.maxBatch) end++;
      const results = await sink.send(items.slice(i, end).map((j) => j.alert));
      for (let k = 0; k < end - i; k++) {
        const r = results[k] ?? { ok: false, error: `sink '${sink.name}' returned no result` };
        if (!r.ok) throw new Error(`sink '${sink.name}' failed: ${r.error}`);
      }
      this.sent.delivered += end - i;
      i = end;
    }
    return [];
  }

  stats(): HandoffStats {
    const q = this.queue;
    return { ...(q ? q.dispatcher.stats : this.sent), ...this.stats0, suppressed: this.suppressor.suppressed, pending: q ? q.outbox.pending : 0 };
  }

  /** The outbox and dispatcher, which only a handoff opened with `open` has. */
  private durable(): Queue {
    if (!this.queue) throw new Error('this delivery handoff writes to the console directly: it has no outbox');
    return this.queue;
  }

  /** The jobs a previous run left in the outbox, resumed at open: `settle` it to wait for them too. */
  get resumed(): DeliveryTicket {
    return this.resumedTicket;
  }

  get outboxDir(): string {
    return this.durable().outbox.dir;
  }

  /** Sends the suppression digests, waits up to `deadlineMs` (default: the config's drainTimeoutMs, else 30 s). */
  async close(deadlineMs?: number): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    let failure: unknown;
    try {
      await this.exclusive(async () => {
        try {
          await this.commit(this.suppressor.flush());
          // Stopped cleanly: the consumer wrote its last checkpoints before this, no record is read again.
          this.suppressor.forget();
        } catch (err) {
          if (this.statePath === undefined) failure = err;
          else this.log(`suppression digests could not be written to the outbox (${errorMessage(err)}): their windows stay in ${this.statePath} and are sent at the next start`);
        }
        if (this.statePath === undefined) return;
        // Digests sent must not come back at the next start (and those not sent must).
        await this.persistLocked().catch((err: unknown) =>
          this.log(`the suppression state could not be updated (${errorMessage(err)}): the digests just sent may be sent again at the next start, with the same ids`),
        );
      });
      const q = this.queue;
      const drained = q ? await q.dispatcher.drain(deadlineMs ?? this.config.delivery.drainTimeoutMs ?? 30_000) : true;
      if (!drained) this.log(`${q!.outbox.pending} alert deliveries not done before the deadline: they stay in ${q!.outbox.dir} and resume on the next start`);
    } finally {
      this.queue?.dispatcher.abandon();
      await this.queue?.outbox.close();
      for (const s of new Set(this.sinks.values())) await s.close();
    }
    if (failure !== undefined) throw failure;
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
