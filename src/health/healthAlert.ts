/** Alerts raised by stream-health checks and RDS events: same `Alert` shape as activity alerts, deterministic ids. */
import { createHash } from 'node:crypto';
import type { Alert } from '../pipeline/alert.js';
import type { Severity } from '../types.js';

/** A stable id from the parts that identify one occurrence: the same occurrence always gets the same id. */
export function stableId(parts: readonly unknown[]): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 32);
}

export interface HealthAlertInput {
  ruleId: string;
  severity: Severity;
  description: string;
  message: string;
  clusterId: string | null;
  instanceId?: string | null;
  /** When the condition started (or ended, for a resolved alert). */
  time: Date | null;
  source: string;
  /** The facts of the check; `state: 'open' | 'resolved'` for conditions that end. */
  facts: Record<string, unknown>;
  /** What makes this occurrence unique (with the rule id): e.g. the instance and the start of a silence. */
  key: readonly unknown[];
  tags?: string[];
}

export function healthAlert(a: HealthAlertInput): Alert {
  return {
    id: stableId(['health', a.ruleId, a.clusterId, ...a.key]),
    kind: 'health',
    ruleId: a.ruleId,
    severity: a.severity,
    tags: a.tags ?? ['stream-health'],
    description: a.description,
    message: a.message,
    clusterId: a.clusterId,
    instanceId: a.instanceId ?? null,
    time: a.time === null ? null : a.time.toISOString(),
    source: a.source,
    event: a.facts,
  };
}

/** `1h 2m 3s` style, for messages. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?';
  let s = Math.round(ms / 1000);
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const parts: string[] = [];
  if (d) parts.push(`${d}d`);
  if (h) parts.push(`${h}h`);
  if (m) parts.push(`${m}m`);
  if (s || parts.length === 0) parts.push(`${s}s`);
  return parts.join(' ');
}

/** An injectable clock: tests pass their own. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
