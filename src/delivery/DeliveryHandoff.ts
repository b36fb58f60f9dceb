/**
 * The delivery adapter of AlertHandoff: suppression -> routing -> per-route redaction -> durable outbox
 * (`handOff` resolves once the alerts are fsync'ed there) -> a background dispatcher per sink, with retries,
 * dead letters and a fallback sink for delivery-failure alerts. `close()` flushes suppression digests and drains
 * with a deadline; what is left stays in the outbox for the next start. `settle()` waits for given hand-offs to
 * be delivered without closing (the Lambda handler, which must not return before its alerts are out).
 *
 * Changes of state (suppression and the outbox append of a hand-off, digests of ending windows, close, persist)
 * run one at a time, and a hand-off that cannot be written (a full disk: a TransientError naming the directory)
 * changes nothing, so the drivers simply retry it. With `persistSuppression` (the live consumer), the suppression
 * windows are saved in `<outbox>/suppression.json` whenever the consumer is about to write checkpoints
 * (`persist`, the CheckpointedState hook) and restored at open.
 */
import { access, readFile } from 'node:fs/promises';
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
import type { DeliveryConfig } from './config.js';
import { Dispatcher, type DeliveryStats } from './Dispatcher.js';
import { Outbox, QUARANTINE_DIR, unavailable, type OutboxJob, type ResendResult } from './Outbox.js';
import { ALERT_TEST_ALERT, DELIVERY_FAILED_ALERT } from './ownAlerts.js';
import type { FactsOf } from '../health/healthAlert.js';
import { maskSecrets } from './secrets.js';
import { outboxDir } from '../config/layers.js';
import { terminalSafe } from '../util/escape.js';
import { fsErrorText } from '../util/fsErrors.js';
import { describeJsonError } from '../util/jsonError.js';
import { Router } from './routing.js';
import { ConsoleSink, createSink } from './sinks/index.js';
import { Suppressor, renderDigest, type SuppressionState } from './Suppressor.js';
import type { DeliveredAlert, SendResult, Sink } from './types.js';

export { DEFAULT_OUTBOX_DIR } from '../config/layers.js';
/** The suppression windows of a handoff opened with `persistSuppression`, in its outbox directory. */
export const SUPPRESSION_STATE_FILE = 'suppression.json';

export interface DeliveryHandoffOptions {
  /** Wins over the config's delivery.outboxDir. */
  outboxDir?: string;
  stdout?: Writable;
  /** Delivery log lines and, by default, delivery-failure alerts. */
  stderr?: Writable;
  /** Ready sinks by name, instead of building them from the config (tests). */
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

export class DeliveryHandoff implements AlertHandoff, CheckpointedState {
  private readonly stats0 = { accepted: 0, unrouted: 0, recovered: 0 };
  private closed = false;
  private readonly deadBatches = new Set<string>();
  private resumedTicket: DeliveryTicket = { batches: [] };
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
    private readonly outbox: Outbox,
    private readonly sinks: ReadonlyMap<string, Sink>,
    private readonly dispatcher: Dispatcher,
    private readonly router: Router,
    private readonly suppressor: Suppressor,
    private readonly log: (m: string) => void,
  ) {}

  static async open(config: DeliveryConfig, opts: DeliveryHandoffOptions = {}): Promise<DeliveryHandoff> {
    const stdout = opts.stdout ?? process.stdout;
    const stderr = opts.stderr ?? process.stderr;
    const log = (m: string) => void stderr.write(`dasguard: delivery: ${terminalSafe(maskSecrets(m, config.secrets))}\n`);
    const sinks = opts.sinks ?? buildSinks(config, { stdout, stderr, ...(opts.snsClient ? { snsClient: opts.snsClient } : {}) });
    const fallback = config.delivery.fallbackSink !== undefined ? sinks.get(config.delivery.fallbackSink) : new ConsoleSink('stderr', stderr, 'text');
    const dir = outboxDir({ flag: opts.outboxDir, file: config.delivery.outboxDir });
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
        self?.noteDead(job.batch);
        log(`alert ${job.alert.id} (${job.alert.ruleId}) dead-lettered for sink '${job.sink}' in ${outbox.deadLetterPath}: ${error}`);
        if (!fallback) return;
        const [r] = await fallback.send([deliveryFailureAlert(job, error, outbox.deadLetterPath)]);
        if (r && !r.ok) log(`the fallback sink failed too: ${r.error}`);
      },
    });
    let self: DeliveryHandoff | undefined;
    const suppressor = new Suppressor(config.suppression, {
      ...(opts.now ? { now: opts.now } : {}),
      trackTaken: statePath !== undefined,
      onDue: (key) => self?.windowDue(key),
    });
    self = new DeliveryHandoff(config, outbox, sinks, dispatcher, new Router(config.routes), suppressor, log);
    self.statePath = statePath;
    self.stats0.recovered = recovered.length;
    self.resumedTicket = { batches: [...new Set(recovered.map((j) => j.batch))] };
    for (const q of quarantined) {
      log(`outbox file ${q.file} is damaged (${q.damage}): moved to ${join(outbox.dir, QUARANTINE_DIR, q.file)}; ${q.recovered} alert deliver${q.recovered === 1 ? 'y' : 'ies'} recovered and re-queued`);
    }
    if (recovered.length > 0) log(`resuming ${recovered.length} undelivered alert deliver${recovered.length === 1 ? 'y' : 'ies'} from ${outbox.dir}`);
    dispatcher.enqueue(recovered);
    if (saved) suppressor.restore(saved); // windows that ended while we were down are due at once
    return self;
  }

  async handOff(alerts: readonly Alert[]): Promise<void> {
    await this.handOffTracked(alerts);
  }

  /** `handOff`, resolving (once the alerts are durably in the outbox) to a ticket for `settle`. */
  async handOffTracked(alerts: readonly Alert[]): Promise<DeliveryTicket> {
    if (this.closed) throw new Error('handOff after close');
    if (this.dispatcher.error !== undefined) throw this.dispatcher.error;
    return this.exclusive(async () => {
      const { result, undo } = this.suppressor.filter(alerts);
      try {
        const ticket = await this.enqueue(result);
        this.stats0.accepted += alerts.length;
        return ticket;
      } catch (err) {
        undo(); // nothing happened: the caller retries the same alerts
        throw err;
      }
    });
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
      throw unavailable(this.outbox.dir, err);
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
    const { result, undo } = this.suppressor.closeDue(keys);
    try {
      await this.enqueue(result);
      if (this.dueFailures > 0) this.log('suppression digests are written again');
      this.dueFailures = 0;
    } catch (err) {
      undo();
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
    if (opts.to !== undefined && !this.sinks.has(opts.to)) throw new ConfigError(`--to ${opts.to}: ${this.config.source} declares no such sink (sinks: ${[...this.sinks.keys()].join(', ') || 'none'})`);
    const unknownSinks = new Map<string, number>();
    const moved = await this.exclusive(() =>
      this.outbox.resend((e) => {
        if (opts.sink !== undefined && e.sink !== opts.sink) return undefined;
        const sink = opts.to ?? e.sink;
        if (!this.sinks.has(sink)) {
          unknownSinks.set(sink, (unknownSinks.get(sink) ?? 0) + 1);
          return undefined;
        }
        return { sink, alert: redactAlert(e.alert, this.strictestFor(sink)) };
      }),
    );
    this.dispatcher.enqueue(moved.jobs);
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
    // open[next..] may still be queued; each poll re-checks from the first one not yet seen done. The batch file
    // is the signal, not the outbox's in-memory count: it drops before the dispatcher has counted the job (and
    // noted a dead letter), while the file is removed only after that, in the same turn of the event loop.
    let next = 0;
    let seen = -1;
    for (;;) {
      const done = this.dispatcher.stats.delivered + this.dispatcher.stats.deadLettered;
      if (done !== seen) {
        seen = done;
        while (next < open.length && (await this.stillQueued([open[next]!])).length === 0) next++;
      }
      const left = end - Date.now();
      // An outbox that cannot be written stops the dispatcher: nothing more will be delivered.
      if (next === open.length || left <= 0 || this.dispatcher.error !== undefined) break;
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

  /** Routes, redacts and persists; counts only once the outbox has them (a failed write changes nothing). */
  private async enqueue(alerts: readonly DeliveredAlert[]): Promise<DeliveryTicket> {
    const items: { sink: string; alert: DeliveredAlert }[] = [];
    const unrouted: DeliveredAlert[] = [];
    for (const a of alerts) {
      const targets = this.router.targets(a);
      if (targets.length === 0) {
        unrouted.push(a);
        continue;
      }
      for (const t of targets) items.push({ sink: t.sink, alert: redactAlert(renderDigest(a, t.redaction), t.redaction) });
    }
    const jobs = await this.outbox.append(items);
    for (const a of unrouted) {
      if (this.stats0.unrouted++ === 0) this.log(`alert ${a.id} (${a.ruleId}) matched no route and there is no default route: not delivered (add a route with default: true)`);
    }
    this.dispatcher.enqueue(jobs);
    return { batches: [...new Set(jobs.map((j) => j.batch))] };
  }

  stats(): HandoffStats {
    return { ...this.dispatcher.stats, ...this.stats0, suppressed: this.suppressor.suppressed, pending: this.outbox.pending };
  }

  /** The jobs a previous run left in the outbox, resumed at open: `settle` it to wait for them too. */
  get resumed(): DeliveryTicket {
    return this.resumedTicket;
  }

  get outboxDir(): string {
    return this.outbox.dir;
  }

  /** Sends the suppression digests, waits up to `deadlineMs` (default: the config's drainTimeoutMs, else 30 s). */
  async close(deadlineMs?: number): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    let failure: unknown;
    try {
      await this.exclusive(async () => {
        const { result, undo } = this.suppressor.flush();
        try {
          await this.enqueue(result);
          // Stopped cleanly: the consumer wrote its last checkpoints before this, no record is read again.
          this.suppressor.forget();
        } catch (err) {
          undo();
          if (this.statePath === undefined) failure = err;
          else this.log(`suppression digests could not be written to the outbox (${errorMessage(err)}): their windows stay in ${this.statePath} and are sent at the next start`);
        }
        if (this.statePath === undefined) return;
        // Digests sent must not come back at the next start (and those not sent must).
        await this.persistLocked().catch((err: unknown) =>
          this.log(`the suppression state could not be updated (${errorMessage(err)}): the digests just sent may be sent again at the next start, with the same ids`),
        );
      });
      const drained = await this.dispatcher.drain(deadlineMs ?? this.config.delivery.drainTimeoutMs ?? 30_000);
      if (!drained) this.log(`${this.outbox.pending} alert deliveries not done before the deadline: they stay in ${this.outbox.dir} and resume on the next start`);
    } finally {
      this.dispatcher.abandon();
      await this.outbox.close();
      for (const s of new Set(this.sinks.values())) await s.close();
    }
    if (failure !== undefined) throw failure;
  }
}

/** The saved suppression windows; undefined when there are none. ConfigError naming the file when it is not one. */
export async function readSuppressionState(path: string): Promise<SuppressionState | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ConfigError(`cannot read the suppression state ${path}: ${fsErrorText(err)}`, { cause: err });
  }
  const bad = (why: string) =>
    new ConfigError(`the suppression state ${path} is corrupt (${why}); it was not reset. Fix or delete it (deleting it loses the counts of open suppression windows)`);
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw bad(`not JSON: ${describeJsonError(err)}`); // V8's message would quote the file: alerts
  }
  const s = v as Partial<SuppressionState> | null;
  if (!s || s.version !== 1 || !Number.isInteger(s.generation) || !Array.isArray(s.windows) || !Array.isArray(s.taken)) throw bad('not a suppression state');
  for (const w of s.windows) {
    const ok =
      typeof w === 'object' && w !== null && typeof w.key === 'string' && Array.isArray(w.keys) && Number.isFinite(w.start) &&
      Number.isFinite(w.windowMs) && Number.isInteger(w.count) && typeof w.first === 'object' && w.first !== null && typeof w.first.id === 'string';
    if (!ok) throw bad('a window is not one');
  }
  if (!s.taken.every((t) => Array.isArray(t) && typeof t[0] === 'string' && Number.isInteger(t[1]))) throw bad('"taken" is not a list of [id, generation]');
  return s as SuppressionState;
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

export function buildSinks(config: DeliveryConfig, deps: { stdout: Writable; stderr: Writable; snsClient?: SNSClient }): Map<string, Sink> {
  const sinks = new Map<string, Sink>();
  for (const [name, sc] of Object.entries(config.sinks)) sinks.set(name, createSink(name, sc, { ...deps, secrets: config.secrets }));
  return sinks;
}

export function deliveryFailureAlert(job: OutboxJob, error: string, deadLetterPath: string): DeliveredAlert {
  const a = job.alert;
  return {
    id: `${a.id}-undelivered-${job.sink}`.slice(0, 128),
    kind: 'health',
    ruleId: DELIVERY_FAILED_ALERT.ruleId,
    severity: 'high',
    tags: ['dasguard:delivery'],
    description: 'An alert could not be delivered to a sink; it was kept in the dead-letter file.',
    message: `alert ${a.id} (${a.ruleId}, ${a.severity}) could not be delivered to sink '${job.sink}' after ${job.attempts} attempt${job.attempts === 1 ? '' : 's'}: ${error}; kept in ${deadLetterPath}`,
    clusterId: a.clusterId,
    instanceId: a.instanceId,
    time: new Date().toISOString(),
    source: a.source,
    event: { alertId: a.id, ruleId: a.ruleId, sink: job.sink, attempts: job.attempts, error } satisfies FactsOf<typeof DELIVERY_FAILED_ALERT>,
  };
}

/** A synthetic alert for `alert-test`: its statement holds a literal, so the route's redaction shows. */
export function testAlert(route: string): DeliveredAlert {
  const now = new Date();
  return {
    id: `alert-test-${now.getTime()}`,
    kind: 'health',
    ruleId: ALERT_TEST_ALERT.ruleId,
    severity: 'info',
    tags: ['dasguard:test'],
    description: 'A test alert sent by dasguard alert-test.',
    message: `dasguard alert-test: route '${route}' works`,
    clusterId: 'cluster-ALERTTEST',
    instanceId: 'db-ALERTTEST',
    time: now.toISOString(),
    source: 'dasguard alert-test',
    event: {
      engine: 'postgresql',
      clusterId: 'cluster-ALERTTEST',
      instanceId: 'db-ALERTTEST',
      dbUserName: 'alert_test',
      remoteHost: '127.0.0.1',
      databaseName: 'postgres',
      commandText: "SELECT 'alert-test literal' AS check",
      paramList: [],
    } satisfies FactsOf<typeof ALERT_TEST_ALERT>,
  };
}

/**
 * Sends one synthetic alert straight to every sink of `routeName` (no outbox, one attempt): what `alert-test`
 * does. One result per sink.
 */
export async function sendTestAlert(
  config: DeliveryConfig,
  routeName: string,
  deps: { stdout: Writable; stderr: Writable; snsClient?: SNSClient },
): Promise<{ sink: string; result: SendResult }[]> {
  const route = new Router(config.routes).route(routeName);
  if (!route) throw new ConfigError(`no route named '${routeName}' in ${config.source} (routes: ${config.routes.map((r) => r.name).join(', ') || 'none'})`);
  const sinks = buildSinks({ ...config, sinks: Object.fromEntries(route.sinks.map((s) => [s, config.sinks[s]!])) }, deps);
  const alert = redactAlert(testAlert(routeName), route.redaction ?? 'literals');
  const out: { sink: string; result: SendResult }[] = [];
  try {
    for (const [name, sink] of sinks) {
      const [result] = await sink.send([alert]);
      out.push({ sink: name, result: result ?? { ok: false, retryable: false, error: 'no result' } });
    }
  } finally {
    for (const s of sinks.values()) await s.close();
  }
  return out;
}
