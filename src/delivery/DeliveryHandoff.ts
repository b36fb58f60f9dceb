/**
 * The delivery adapter of AlertHandoff: suppression -> routing -> per-route redaction -> durable outbox
 * (`handOff` resolves once the alerts are fsync'ed there) -> a background dispatcher per sink, with retries,
 * dead letters and a fallback sink for delivery-failure alerts. `close()` flushes suppression digests and drains
 * with a deadline; what is left stays in the outbox for the next start. `settle()` waits for given hand-offs to
 * be delivered without closing (the Lambda handler, which must not return before its alerts are out).
 */
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import type { SNSClient } from '@aws-sdk/client-sns';
import { ConfigError } from '../errors.js';
import type { AlertHandoff } from '../pipeline/AlertHandoff.js';
import type { Alert } from '../pipeline/alert.js';
import type { DeliveryConfig } from './config.js';
import { Dispatcher, type DeliveryStats } from './Dispatcher.js';
import { Outbox, type OutboxJob } from './Outbox.js';
import { ALERT_TEST_ALERT, DELIVERY_FAILED_ALERT } from './ownAlerts.js';
import type { FactsOf } from '../health/healthAlert.js';
import { maskSecrets, redactForRoute } from './redaction.js';
import { Router } from './routing.js';
import { ConsoleSink, createSink } from './sinks/index.js';
import { Suppressor } from './Suppressor.js';
import type { DeliveredAlert, SendResult, Sink } from './types.js';

export const DEFAULT_OUTBOX_DIR = '.dasguard/outbox';

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

export class DeliveryHandoff implements AlertHandoff {
  private readonly stats0 = { accepted: 0, unrouted: 0, recovered: 0 };
  private closed = false;
  private digestFailure: unknown;
  private readonly deadBatches = new Set<string>();
  private resumedTicket: DeliveryTicket = { batches: [] };

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
    const log = (m: string) => void stderr.write(`dasguard: delivery: ${maskSecrets(m, config.secrets)}\n`);
    const sinks = opts.sinks ?? buildSinks(config, { stdout, stderr, ...(opts.snsClient ? { snsClient: opts.snsClient } : {}) });
    const fallback = config.delivery.fallbackSink !== undefined ? sinks.get(config.delivery.fallbackSink) : new ConsoleSink('stderr', stderr, 'text');
    const { outbox, recovered } = await Outbox.open(opts.outboxDir ?? config.delivery.outboxDir ?? DEFAULT_OUTBOX_DIR, { log });
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
    const suppressor = new Suppressor(config.suppression, (digests) => {
      if (!self) return;
      self.enqueue(digests).catch((err: unknown) => {
        self!.digestFailure ??= err;
      });
    }, opts.now);
    self = new DeliveryHandoff(config, outbox, sinks, dispatcher, new Router(config.routes), suppressor, log);
    self.stats0.recovered = recovered.length;
    self.resumedTicket = { batches: [...new Set(recovered.map((j) => j.batch))] };
    if (recovered.length > 0) log(`resuming ${recovered.length} undelivered alert deliver${recovered.length === 1 ? 'y' : 'ies'} from ${outbox.dir}`);
    dispatcher.enqueue(recovered);
    return self;
  }

  async handOff(alerts: readonly Alert[]): Promise<void> {
    await this.handOffTracked(alerts);
  }

  /** `handOff`, resolving (once the alerts are durably in the outbox) to a ticket for `settle`. */
  async handOffTracked(alerts: readonly Alert[]): Promise<DeliveryTicket> {
    if (this.closed) throw new Error('handOff after close');
    this.rethrow();
    this.stats0.accepted += alerts.length;
    return this.enqueue(this.suppressor.filter(alerts));
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

  private rethrow(): void {
    const err = this.dispatcher.error ?? this.digestFailure;
    if (err !== undefined) throw err;
  }

  private async enqueue(alerts: readonly DeliveredAlert[]): Promise<DeliveryTicket> {
    const items: { sink: string; alert: DeliveredAlert }[] = [];
    for (const a of alerts) {
      const targets = this.router.targets(a);
      if (targets.length === 0) {
        if (this.stats0.unrouted++ === 0) this.log(`alert ${a.id} (${a.ruleId}) matched no route and there is no default route: not delivered (add a route with default: true)`);
        continue;
      }
      for (const t of targets) items.push({ sink: t.sink, alert: redactForRoute(a, t.redaction) });
    }
    const jobs = await this.outbox.append(items);
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
    try {
      await this.enqueue(this.suppressor.flush());
      const drained = await this.dispatcher.drain(deadlineMs ?? this.config.delivery.drainTimeoutMs ?? 30_000);
      if (!drained) this.log(`${this.outbox.pending} alert deliveries not done before the deadline: they stay in ${this.outbox.dir} and resume on the next start`);
    } finally {
      this.dispatcher.stop();
      await this.outbox.close();
      for (const s of new Set(this.sinks.values())) await s.close();
    }
    this.rethrow();
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
  const alert = redactForRoute(testAlert(routeName), route.redaction ?? 'literals');
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
