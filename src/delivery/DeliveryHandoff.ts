/**
 * The delivery adapter of AlertHandoff: suppression -> routing -> per-route redaction -> durable outbox
 * (`handOff` resolves once the alerts are fsync'ed there) -> a background dispatcher per sink, with retries,
 * dead letters and a fallback sink for delivery-failure alerts (those two: OutboxQueue.ts). `close()` flushes
 * suppression digests and drains with a deadline; what is left stays in the outbox for the next start. `settle()`
 * waits for given hand-offs to be delivered without closing (the Lambda handler, which must not return before its
 * alerts are out).
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
 * (`persist`, the CheckpointedState hook) and restored at open, with where alerts that opened a condition went
 * (routing.ts: their resolution goes there too). A little over 400 lines: the parts above share its one lock.
 */
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
import type { DeliveryStats, SinkDeliveryStats } from './Dispatcher.js';
import { unavailable, type ResendResult } from './Outbox.js';
import { DEFAULT_RETRY, NO_TICKET, OutboxQueue, type DeliveryTicket, type SettleResult } from './OutboxQueue.js';
import { maskSecrets } from './secrets.js';
import { outboxDir } from '../config/layers.js';
import { openLog, type Log } from '../log/logger.js';
import type { OutputFormat } from '../pipeline/output.js';
import { Router } from './routing.js';
import { ClusterNames } from '../pipeline/clusterNames.js';
import { buildSinks } from './sinks/index.js';
import { SUPPRESSION_STATE_FILE, readSuppressionState } from './suppressionState.js';
import { Suppressor, renderDigest, type Change } from './Suppressor.js';
import type { DeliveredAlert, DeliveryLog, Sink } from './types.js';

export { DEFAULT_OUTBOX_DIR } from '../config/layers.js';

export interface DeliveryHandoffOptions {
  /** Wins over the config's delivery.outboxDir. */
  outboxDir?: string;
  stdout?: Writable;
  /** Delivery-failure alerts without a `delivery.fallbackSink` (and console sinks on stderr). */
  stderr?: Writable;
  /** Those alerts' format on `stderr` (default text; the Lambda's are JSON Lines). */
  failureFormat?: OutputFormat;
  /** Where delivery log lines go (one entry each, secrets masked); default: the one logger on `stderr`. */
  log?: Log;
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

// Part of the handoff's API (the Lambda settles tickets; the retry defaults are documented).
export { DEFAULT_RETRY, type DeliveryTicket, type SettleResult, type SinkDeliveryStats };

export class DeliveryHandoff implements AlertHandoff, CheckpointedState {
  private readonly stats0 = { accepted: 0, unrouted: 0, recovered: 0 };
  /** Deliveries done by a direct handoff (a durable one counts in its dispatcher). */
  private readonly sent: DeliveryStats = { delivered: 0, retries: 0, deadLettered: 0 };
  private readonly router: Router;
  private readonly suppressor: Suppressor;
  private readonly clusters: ClusterNames; // the config's `clusters:` and what `nameCluster` adds
  /** The outbox and its dispatcher; undefined for a direct handoff. Set once, by `open`. */
  private queue: OutboxQueue | undefined;
  private closed = false;
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
    private readonly log: DeliveryLog,
    opts: { now?: () => number; trackTaken: boolean },
  ) {
    this.router = new Router(config.routes);
    this.clusters = new ClusterNames(config.clusters);
    this.suppressor = new Suppressor(config.suppression, {
      ...(opts.now ? { now: opts.now } : {}),
      trackTaken: opts.trackTaken,
      onDue: (key) => this.windowDue(key),
    });
  }

  /** The sinks and the delivery log of a config and its options. */
  private static parts(config: DeliveryConfig, opts: DeliveryHandoffOptions): { sinks: ReadonlyMap<string, Sink>; stderr: Writable; log: DeliveryLog } {
    const stdout = opts.stdout ?? process.stdout;
    const stderr = opts.stderr ?? process.stderr;
    const out = opts.log ?? openLog(stderr).log;
    // Secrets masked in the message and every field (an error text may hold a webhook URL).
    const log: DeliveryLog = (msg, { level = 'warn', ...fields } = {}) =>
      out({ level, msg: maskSecrets(msg, config.secrets), component: 'delivery', ...(masked(fields, config.secrets) as Record<string, unknown>) });
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
    const dir = outboxDir({ flag: opts.outboxDir, file: config.delivery.outboxDir });
    const statePath = opts.persistSuppression ? join(dir, SUPPRESSION_STATE_FILE) : undefined;
    const queue = await OutboxQueue.open(dir, sinks, config, { stderr, log, ...(opts.failureFormat ? { failureFormat: opts.failureFormat } : {}), ...(opts.now ? { now: opts.now } : {}) });
    let saved: Awaited<ReturnType<typeof readSuppressionState>> | undefined;
    try {
      // Read under the outbox's lock: a previous holder still closing rewrites it until it lets go.
      saved = statePath !== undefined ? await readSuppressionState(statePath) : undefined;
    } catch (err) {
      await queue.close();
      throw err;
    }
    const self = new DeliveryHandoff(config, sinks, log, { ...(opts.now ? { now: opts.now } : {}), trackTaken: statePath !== undefined });
    self.queue = queue;
    self.statePath = statePath;
    self.stats0.recovered = queue.recoveredCount;
    queue.start();
    if (saved) self.suppressor.restore(saved); // windows that ended while we were down are due at once
    if (saved?.opened) self.router.remember(saved.opened);
    return self;
  }

  /** The cluster of resource id `resourceId` is called `name` (run --cluster, from DescribeDBClusters): alerts say so. */
  nameCluster(resourceId: string, name: string): void {
    this.clusters.add(resourceId, name);
  }

  async handOff(alerts: readonly Alert[]): Promise<void> {
    await this.handOffTracked(alerts);
  }

  /** `handOff`, resolving (once the alerts are durably in the outbox, or written) to a ticket for `settle`. */
  async handOffTracked(alerts: readonly Alert[]): Promise<DeliveryTicket> {
    if (this.closed) throw new Error('handOff after close');
    if (this.queue?.error !== undefined) throw this.queue.error;
    return this.exclusive(async () => {
      // A failure changed nothing: the caller retries the same alerts.
      const ticket = await this.commit(this.suppressor.filter(this.clusters.stamp(alerts)));
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
    if (this.statePath === undefined || (!this.suppressor.dirty && !this.router.dirty)) return;
    const state = { ...this.suppressor.snapshot(), opened: this.router.remembered() };
    // On disk, the first alert of a window is redacted as the least strict of its routes would have it: no more
    // than the outbox holds for it; each route's own redaction applies again when the digest goes out.
    // Redacted once per window (its first alert never changes), not at every checkpoint.
    state.windows = state.windows.map((w) => ({ ...w, first: this.savedFirst(w.first) }));
    try {
      await writeFileAtomic(this.statePath, JSON.stringify(state) + '\n');
    } catch (err) {
      throw unavailable(this.durable().dir, err);
    }
    this.suppressor.committed();
    this.router.saved();
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
      if (this.dueFailures > 0) this.log('suppression digests are written again', { level: 'info' });
      this.dueFailures = 0;
    } catch (err) {
      for (const k of keys) this.due.add(k);
      if (this.dueFailures++ === 0) this.log(`suppression digests cannot be written to the outbox: ${errorMessage(err)}; retrying`, { error: errorMessage(err) });
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
    const queue = this.durable();
    if (opts.to !== undefined && !this.sinks.has(opts.to)) throw new ConfigError(`--to ${opts.to}: ${this.config.source} declares no such sink (sinks: ${[...this.sinks.keys()].join(', ') || 'none'})`);
    const unknownSinks = new Map<string, number>();
    const { moved, ticket } = await this.exclusive(() =>
      queue.resend((e) => {
        if (opts.sink !== undefined && e.sink !== opts.sink) return undefined;
        const sink = opts.to ?? e.sink;
        if (!this.sinks.has(sink)) {
          unknownSinks.set(sink, (unknownSinks.get(sink) ?? 0) + 1);
          return undefined;
        }
        return { sink, alert: redactAlert(e.alert, this.strictestFor(sink)) };
      }),
    );
    return { moved, ticket, unknownSinks };
  }

  private strictestFor(sink: string): RedactionMode {
    const modes = this.config.routes.filter((r) => r.sinks.includes(sink)).map((r) => r.redaction ?? 'literals');
    return modes.reduce<RedactionMode>(stricter, 'literals');
  }

  /**
   * Waits until every job of `tickets` is done (delivered or dead-lettered) or `deadlineMs` passes, whichever
   * comes first; delivery goes on afterwards (OutboxQueue.settle). A direct handoff's tickets are done already.
   */
  async settle(tickets: readonly DeliveryTicket[], deadlineMs: number): Promise<SettleResult> {
    return this.queue ? this.queue.settle(tickets, deadlineMs) : { pending: [], deadLettered: [] };
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
    const ticket = this.queue ? await this.queue.put(items) : await this.sendNow(items);
    for (const a of unrouted) {
      if (this.stats0.unrouted++ === 0) this.log(`alert ${a.id} (${a.ruleId}) matched no route and there is no default route: not delivered (add a route with default: true)`, { alertId: a.id, ruleId: a.ruleId });
    }
    return ticket;
  }

  /** A direct handoff's delivery: each run of jobs for one sink in one `send`, in order, awaited. */
  private async sendNow(items: readonly BatchJob[]): Promise<DeliveryTicket> {
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
    return NO_TICKET;
  }

  stats(): HandoffStats {
    const q = this.queue;
    return { ...(q ? q.stats : this.sent), ...this.stats0, suppressed: this.suppressor.suppressed, pending: q ? q.pending : 0 };
  }

  /** Per sink (the outbox's dispatcher); none for a direct handoff, which has nothing pending. */
  sinkStats(): SinkDeliveryStats[] {
    return this.queue?.sinkStats() ?? [];
  }

  /** The outbox queue, which only a handoff opened with `open` has (not a direct one). */
  private durable(): OutboxQueue {
    if (!this.queue) throw new Error('this delivery handoff writes to the console directly: it has no outbox');
    return this.queue;
  }

  /** The jobs a previous run left in the outbox, resumed at open: `settle` it to wait for them too. */
  get resumed(): DeliveryTicket {
    return this.queue?.resumed ?? NO_TICKET;
  }

  get outboxDir(): string {
    return this.durable().dir;
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
          else this.log(`suppression digests could not be written to the outbox (${errorMessage(err)}): their windows stay in ${this.statePath} and are sent at the next start`, { error: errorMessage(err) });
        }
        if (this.statePath === undefined) return;
        // Digests sent must not come back at the next start (and those not sent must).
        await this.persistLocked().catch((err: unknown) =>
          this.log(`the suppression state could not be updated (${errorMessage(err)}): the digests just sent may be sent again at the next start, with the same ids`, { error: errorMessage(err) }),
        );
      });
      await this.queue?.drain(deadlineMs ?? this.config.delivery.drainTimeoutMs ?? 30_000);
    } finally {
      await this.queue?.close();
      for (const s of new Set(this.sinks.values())) await s.close();
    }
    if (failure !== undefined) throw failure;
  }
}

/** `value` with the secrets masked in every string it holds. */
function masked(value: unknown, secrets: readonly string[]): unknown {
  if (typeof value === 'string') return maskSecrets(value, secrets);
  if (Array.isArray(value)) return value.map((v) => masked(v, secrets));
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, masked(v, secrets)]));
  return value;
}
