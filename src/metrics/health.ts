/**
 * The verdict of `run`'s /healthz: healthy while every open shard is being read and no sink's delivery is stuck. A pure
 * function of the consumer's and the outbox's snapshots and the time, so the rules are unit tested without a server.
 *
 * - A shard is "not read" when its reader made no progress (no GetRecords answer, no record committed) for
 *   `shardStallMs` (DEFAULT_SHARD_STALL_MS, at least 3 poll intervals): Kinesis stopped answering, or a record is held
 *   (a data key that stopped decrypting, a hand-off that keeps failing) and the shard waits behind it.
 * - Delivery to a sink is "stuck" when its oldest pending alert has waited `deliveryStallMs` (DEFAULT_DELIVERY_STALL_MS)
 *   in this process: the sink keeps failing (retries, then the dead-letter file after maxAttempts) or cannot keep up.
 * - Before the consumer exists (`run` still starting), nothing is read yet: unhealthy, "starting".
 */
import type { ConsumerStats } from '../consumer/types.js';
import type { SinkDeliveryStats } from '../delivery/Dispatcher.js';

/** A shard without progress for this long is not being read (the reader retries Kinesis with at most 10 s between tries). */
export const DEFAULT_SHARD_STALL_MS = 60_000;
/**
 * An alert pending this long for a sink means its delivery is stuck: 5 minutes, less than the default retries ride out
 * (20 attempts, at least 6.5 minutes: src/delivery/OutboxQueue.ts DEFAULT_RETRY), so an outage shows before alerts
 * are dead-lettered.
 */
export const DEFAULT_DELIVERY_STALL_MS = 300_000;

export interface HealthThresholds {
  shardStallMs: number;
  deliveryStallMs: number;
}

/** The shard stall threshold for a poll interval: DEFAULT_SHARD_STALL_MS, or 3 poll intervals when that is longer. */
export function shardStallFor(pollIntervalMs: number): number {
  return Math.max(DEFAULT_SHARD_STALL_MS, 3 * pollIntervalMs);
}

export interface HealthInput {
  /** Undefined while `run` is starting (the consumer does not exist yet). */
  consumer: ConsumerStats | undefined;
  /** Per sink; empty without an outbox (alerts on stdout). */
  sinks: readonly SinkDeliveryStats[];
}

export interface HealthVerdict {
  status: 'ok' | 'unhealthy';
  /** Why it is unhealthy, one line each (empty when ok). */
  reasons: string[];
}

export function healthVerdict(input: HealthInput, now: number, t: HealthThresholds): HealthVerdict {
  const reasons: string[] = [];
  if (input.consumer === undefined) reasons.push('starting: the stream is not being read yet');
  for (const s of input.consumer?.shards ?? []) {
    if (s.state !== 'reading') continue;
    const idle = now - s.lastProgressAt;
    if (idle >= t.shardStallMs) reasons.push(`shard ${s.shardId} not read for ${seconds(idle)} s`);
  }
  for (const s of input.sinks) {
    if (s.oldestPendingAt === null) continue;
    const waited = now - s.oldestPendingAt;
    if (waited >= t.deliveryStallMs) reasons.push(`delivery to sink '${s.sink}' stuck: oldest pending ${seconds(waited)} s (${s.pending} pending)`);
  }
  return { status: reasons.length === 0 ? 'ok' : 'unhealthy', reasons };
}

function seconds(ms: number): number {
  return Math.floor(ms / 1000);
}
