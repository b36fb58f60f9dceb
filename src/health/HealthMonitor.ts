/**
 * Stream health for `run`: a StreamObserver (every batch feeds the silence detector; trimmed data becomes an
 * alert) that also polls RDS events (loss windows, `target: rds-event` rules). Health alerts go through the
 * same AlertHandoff as activity alerts, one at a time, in order.
 *
 * Wiring (src/commands/run.ts):
 *   const health = new HealthMonitor({ clusterId, handoff, rds, rules, stateDir });
 *   const alert = streamNotStartedAlert(info, Date.now()); if (alert) await handoff.handOff([alert]);
 *   health.start();  ... consumer({ observer: health }) ...  await health.stop();
 * Failures of background work (an RDS poll, a handoff) are passed to `onError`, and the first one is thrown
 * again by `flush()` / `stop()`: never swallowed.
 */
import type { RDSClient } from '@aws-sdk/client-rds';
import { TransientError } from '../errors.js';
import type { AlertHandoff } from '../pipeline/AlertHandoff.js';
import type { Alert } from '../pipeline/alert.js';
import type { StreamObserver, TrimmedData } from '../pipeline/StreamObserver.js';
import type { RuleSet } from '../rules/index.js';
import type { BatchSummary } from '../types.js';
import { systemClock, type Clock } from './healthAlert.js';
import type { LossWindowPatterns } from './lossWindows.js';
import { RdsEventsWatcher, type PollResult } from './RdsEventsWatcher.js';
import { SilenceDetector, type InstanceLiveness } from './SilenceDetector.js';
import { DEFAULT_STATE_DIR, readJsonState, statePath, writeJsonState } from './stateFile.js';
import { trimmedAlert } from './trimmed.js';

export interface HealthMonitorOptions {
  /** The cluster identifier. */
  clusterId: string;
  handoff: AlertHandoff;
  /** When given, RDS events are polled every `eventsIntervalMs`. */
  rds?: RDSClient;
  rules?: RuleSet;
  stateDir?: string;
  patterns?: LossWindowPatterns;
  /** Default 60 s. */
  eventsIntervalMs?: number;
  /** Silence threshold, default 60 s. */
  silenceMs?: number;
  /** How often silence is checked (and liveness persisted); default min(5 s, silenceMs / 4). */
  silenceCheckMs?: number;
  clock?: Clock;
  onError?: (err: unknown) => void;
}

export interface LivenessState {
  version: 1;
  clusterId: string;
  updatedAt: string;
  thresholdMs: number;
  instances: { instanceId: string | null; lastSeen: string; lastHeartbeat: string | null; silentSince: string | null }[];
}

function livenessStatePath(stateDir: string, clusterId: string): string {
  return statePath(stateDir, 'liveness', clusterId);
}

export async function readLivenessState(stateDir: string, clusterId: string): Promise<LivenessState | undefined> {
  return readJsonState<LivenessState>(livenessStatePath(stateDir, clusterId));
}

export class HealthMonitor implements StreamObserver {
  readonly silence: SilenceDetector;
  readonly watcher: RdsEventsWatcher | undefined;
  readonly #o: HealthMonitorOptions;
  readonly #clock: Clock;
  readonly #stateDir: string;
  #chain: Promise<void> = Promise.resolve();
  #firstError: unknown;
  #failed = false;
  #timers: NodeJS.Timeout[] = [];
  #polling: Promise<unknown> | undefined;
  readonly #abort = new AbortController();

  constructor(opts: HealthMonitorOptions) {
    this.#o = opts;
    this.#clock = opts.clock ?? systemClock;
    this.#stateDir = opts.stateDir ?? DEFAULT_STATE_DIR;
    this.silence = new SilenceDetector({
      clusterId: opts.clusterId,
      thresholdMs: opts.silenceMs ?? 60_000,
      clock: this.#clock,
      source: `stream ${opts.clusterId}`,
    });
    this.watcher = opts.rds
      ? new RdsEventsWatcher({
          client: opts.rds,
          clusterId: opts.clusterId,
          stateDir: this.#stateDir,
          clock: this.#clock,
          ...(opts.rules ? { rules: opts.rules } : {}),
          ...(opts.patterns ? { patterns: opts.patterns } : {}),
        })
      : undefined;
  }

  onBatch(batch: BatchSummary): void {
    const alerts = this.silence.observe(batch);
    if (alerts.length > 0) this.#enqueue(alerts);
  }

  onTrimmed(gap: TrimmedData): void {
    this.#enqueue([trimmedAlert(gap, this.#o.clusterId)]);
  }

  /** Checks silence now, hands its alerts off and persists liveness (what the timer does). */
  async checkSilence(): Promise<Alert[]> {
    const alerts = this.silence.check();
    if (alerts.length > 0) this.#enqueue(alerts);
    await this.#chain;
    await this.#persistLiveness();
    return alerts;
  }

  /** Polls RDS events once (what the timer does); undefined without an RDS client. */
  async pollEvents(): Promise<PollResult | undefined> {
    if (!this.watcher) return undefined;
    const watcher = this.watcher;
    // serialised with the other handoffs so alerts keep their order
    let result: PollResult | undefined;
    const run = this.#chain.then(async () => {
      result = await watcher.poll(this.#o.handoff, this.#abort.signal);
    });
    // A failed poll loses nothing (its state was not written: the next poll asks again), so only a ConfigError
    // (permissions, unknown cluster) is fatal; a transient one is reported and retried at the next tick.
    this.#chain = run.catch((err: unknown) => {
      if (err instanceof TransientError) this.#o.onError?.(err);
      else this.#fail(err);
    });
    await run;
    return result;
  }

  /** Starts the timers (unref'd: they never keep the process alive on their own). */
  start(): void {
    const silenceMs = this.silence.thresholdMs;
    const every = this.#o.silenceCheckMs ?? Math.max(250, Math.min(5000, Math.floor(silenceMs / 4)));
    const t1 = setInterval(() => {
      this.checkSilence().catch((err: unknown) => this.#fail(err));
    }, every);
    t1.unref();
    this.#timers.push(t1);
    if (this.watcher) {
      const tick = () => {
        if (this.#polling) return; // the previous poll is still running
        this.#polling = this.pollEvents()
          .catch(() => undefined) // already recorded by pollEvents' chain
          .finally(() => {
            this.#polling = undefined;
          });
      };
      tick();
      const t2 = setInterval(tick, this.#o.eventsIntervalMs ?? 60_000);
      t2.unref();
      this.#timers.push(t2);
    }
  }

  /** Waits for queued handoffs; throws the first background failure, if any. */
  async flush(): Promise<void> {
    await this.#chain;
    if (this.#failed) throw this.#firstError;
  }

  /** Stops the timers, waits for pending work, persists liveness; throws the first background failure. */
  async stop(): Promise<void> {
    for (const t of this.#timers) clearInterval(t);
    this.#timers = [];
    this.#abort.abort();
    if (this.#polling) await this.#polling;
    await this.#chain;
    await this.#persistLiveness();
    if (this.#failed) throw this.#firstError;
  }

  liveness(): InstanceLiveness[] {
    return this.silence.snapshot();
  }

  #enqueue(alerts: Alert[]): void {
    this.#chain = this.#chain.then(() => this.#o.handoff.handOff(alerts)).catch((err: unknown) => this.#fail(err));
  }

  #fail(err: unknown): void {
    if (!this.#failed) {
      this.#failed = true;
      this.#firstError = err;
    }
    this.#o.onError?.(err);
  }

  async #persistLiveness(): Promise<void> {
    const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
    const state: LivenessState = {
      version: 1,
      clusterId: this.#o.clusterId,
      updatedAt: new Date(this.#clock.now()).toISOString(),
      thresholdMs: this.silence.thresholdMs,
      instances: this.silence.snapshot().map((s) => ({
        instanceId: s.instanceId,
        lastSeen: new Date(s.lastSeen).toISOString(),
        lastHeartbeat: iso(s.lastHeartbeat),
        silentSince: iso(s.silentSince),
      })),
    };
    await writeJsonState(livenessStatePath(this.#stateDir, this.#o.clusterId), state);
  }
}
