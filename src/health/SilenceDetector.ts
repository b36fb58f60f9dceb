/**
 * Silence: no record and no heartbeat from an instance for N seconds (default 60). DAS sends heartbeats when
 * the database is idle, so a silent instance means the stream (or our reading of it) stopped, not a quiet
 * database. One alert when an instance falls silent, one resolved alert when its traffic resumes.
 *
 * Time is the observer's clock when a batch is seen (injectable for tests). Instances are learned from the
 * batches; until the first batch arrives, the cluster as a whole is watched (instanceId null).
 *
 * Instances come and go (a replaced reader, a scaled-in Aurora Serverless or auto-scaling replica), so the state
 * is bounded: an instance silent (already alerted) for `forgetAfterMs` (default max(1 h, 10 x the threshold)) is
 * forgotten, with an info alert saying it is no longer watched; it probably left the cluster. Should it come back,
 * it is watched again from its first batch. When the last instance is forgotten, the cluster as a whole is watched
 * again (already silent: its traffic resumed is reported), so the state never ends up watching nothing.
 */
import type { Alert } from '../pipeline/alert.js';
import type { BatchSummary } from '../types.js';
import { formatDuration, healthAlert, systemClock, type AlertKind, type Clock } from './healthAlert.js';

export const SILENCE_ALERT = {
  ruleId: 'das-stream-silence',
  facts: ['state', 'instanceId', 'silentSince', 'thresholdMs', 'start', 'end', 'durationMs', 'forgetAfterMs'],
} as const satisfies AlertKind;
const DESCRIPTION = 'No activity record and no heartbeat arrived from a database instance: its audit trail may have stopped.';

export interface SilenceOptions {
  clusterId: string | null;
  /** Default 60 s. */
  thresholdMs?: number;
  /** How long an instance is silent before it is forgotten; default `defaultForgetAfterMs(thresholdMs)`. */
  forgetAfterMs?: number;
  clock?: Clock;
  source?: string;
}

export interface InstanceLiveness {
  instanceId: string | null;
  /** Epoch ms of the last batch seen (records or heartbeats). */
  lastSeen: number;
  /** Epoch ms of the last heartbeat seen, if any. */
  lastHeartbeat: number | null;
  /** Epoch ms since which the instance is silent (an alert was raised), or null. */
  silentSince: number | null;
}

/** max(1 h, 10 x the threshold): long past any failover or restart, so a silent instance that is still there is not forgotten while it matters. */
function defaultForgetAfterMs(thresholdMs: number): number {
  return Math.max(3_600_000, 10 * thresholdMs);
}

export class SilenceDetector {
  readonly thresholdMs: number;
  readonly forgetAfterMs: number;
  readonly #clock: Clock;
  readonly #clusterId: string | null;
  readonly #source: string;
  readonly #instances = new Map<string | null, InstanceLiveness>();

  constructor(opts: SilenceOptions) {
    this.thresholdMs = opts.thresholdMs ?? 60_000;
    this.forgetAfterMs = opts.forgetAfterMs ?? defaultForgetAfterMs(this.thresholdMs);
    this.#clock = opts.clock ?? systemClock;
    this.#clusterId = opts.clusterId;
    this.#source = opts.source ?? 'stream';
    // the cluster as a whole, until an instance shows up
    this.#instances.set(null, { instanceId: null, lastSeen: this.#clock.now(), lastHeartbeat: null, silentSince: null });
  }

  /** A batch (records and/or heartbeats) was seen; returns the resolved alert when the instance was silent. */
  observe(batch: Pick<BatchSummary, 'instanceId' | 'heartbeatInstances' | 'eventInstances'>): Alert[] {
    const now = this.#clock.now();
    const ids = new Set<string | null>();
    if (batch.instanceId !== null) ids.add(batch.instanceId);
    for (const id of batch.heartbeatInstances) if (id !== null) ids.add(id);
    for (const id of batch.eventInstances) if (id !== null) ids.add(id);
    if (ids.size === 0) ids.add(null);
    const alerts: Alert[] = [];
    const cluster = this.#instances.get(null);
    if (cluster && !ids.has(null)) {
      // the cluster-wide watch ends once instances are known; resolve it if it had fired
      if (cluster.silentSince !== null) alerts.push(this.#resolved(cluster, now));
      this.#instances.delete(null);
    }
    for (const id of ids) {
      const hasHeartbeat = batch.heartbeatInstances.includes(id) || (id === batch.instanceId && batch.heartbeatInstances.includes(null));
      let s = this.#instances.get(id);
      if (s === undefined) {
        s = { instanceId: id, lastSeen: now, lastHeartbeat: null, silentSince: null };
        this.#instances.set(id, s);
      }
      if (s.silentSince !== null) alerts.push(this.#resolved(s, now));
      s.silentSince = null;
      s.lastSeen = now;
      if (hasHeartbeat) s.lastHeartbeat = now;
    }
    return alerts;
  }

  /**
   * Checks every instance; returns an alert for each that has just fallen silent, and for each silent long enough
   * to be forgotten. Call it periodically.
   */
  check(): Alert[] {
    const now = this.#clock.now();
    const alerts: Alert[] = [];
    for (const s of this.#instances.values()) {
      if (s.silentSince !== null || now - s.lastSeen < this.thresholdMs) continue;
      s.silentSince = s.lastSeen;
      const who = s.instanceId === null ? `cluster ${this.#clusterId ?? '?'} (no instance seen yet)` : `instance ${s.instanceId}`;
      alerts.push(
        healthAlert(SILENCE_ALERT, {
          severity: 'high',
          description: DESCRIPTION,
          message: `no record and no heartbeat from ${who} for ${formatDuration(now - s.lastSeen)} (threshold ${formatDuration(this.thresholdMs)}), since ${new Date(s.lastSeen).toISOString()}`,
          clusterId: this.#clusterId,
          instanceId: s.instanceId,
          time: new Date(s.lastSeen),
          source: this.#source,
          facts: { state: 'open', instanceId: s.instanceId, silentSince: new Date(s.lastSeen).toISOString(), thresholdMs: this.thresholdMs },
          key: [s.instanceId, s.lastSeen, 'open'],
        }),
      );
    }
    alerts.push(...this.#forget(now));
    return alerts;
  }

  /** Drops the instances silent for `forgetAfterMs`; the cluster-wide watch is never dropped. */
  #forget(now: number): Alert[] {
    const gone = [...this.#instances.values()].filter((s) => s.instanceId !== null && s.silentSince !== null && now - s.lastSeen >= this.forgetAfterMs);
    for (const s of gone) this.#instances.delete(s.instanceId);
    const last = this.#instances.size === 0 ? gone.reduce((a, b) => (b.lastSeen > a.lastSeen ? b : a), gone[0]!) : undefined;
    if (last) this.#instances.set(null, { instanceId: null, lastSeen: last.lastSeen, lastHeartbeat: null, silentSince: last.lastSeen });
    return gone.map((s) =>
      healthAlert(SILENCE_ALERT, {
        severity: 'info',
        description: DESCRIPTION,
        message:
          `instance ${s.instanceId} sent nothing for ${formatDuration(now - s.lastSeen)} since ${new Date(s.lastSeen).toISOString()}: no longer watched ` +
          `(it probably left the cluster; if it comes back, it is watched again)${s === last ? '; the cluster as a whole is watched' : ''}`,
        clusterId: this.#clusterId,
        instanceId: s.instanceId,
        time: new Date(now),
        source: this.#source,
        facts: { state: 'forgotten', instanceId: s.instanceId, silentSince: new Date(s.lastSeen).toISOString(), forgetAfterMs: this.forgetAfterMs },
        key: [s.instanceId, s.lastSeen, 'forgotten'],
        tags: ['stream-health', 'forgotten'],
      }),
    );
  }

  /** Per-instance liveness (for status and the persisted heartbeat state). */
  snapshot(): InstanceLiveness[] {
    return [...this.#instances.values()].map((s) => ({ ...s }));
  }

  #resolved(s: InstanceLiveness, now: number): Alert {
    const since = s.silentSince as number;
    return healthAlert(SILENCE_ALERT, {
      severity: 'info',
      description: DESCRIPTION,
      message: `traffic resumed from ${s.instanceId === null ? `cluster ${this.#clusterId ?? '?'}` : `instance ${s.instanceId}`} after ${formatDuration(now - since)} of silence (${new Date(since).toISOString()} to ${new Date(now).toISOString()})`,
      clusterId: this.#clusterId,
      instanceId: s.instanceId,
      time: new Date(now),
      source: this.#source,
      facts: { state: 'resolved', instanceId: s.instanceId, start: new Date(since).toISOString(), end: new Date(now).toISOString(), durationMs: now - since },
      key: [s.instanceId, since, 'resolved'],
      resolvesKey: [s.instanceId, since, 'open'],
      tags: ['stream-health', 'resolved'],
    });
  }
}
