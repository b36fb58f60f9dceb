/** Alerts raised by stream-health checks and RDS events: same `Alert` shape as activity alerts, deterministic ids. */
import { createHash } from 'node:crypto';
import type { Alert } from '../pipeline/alert.js';
import type { Severity } from '../types.js';

/** A stable id from the parts that identify one occurrence: the same occurrence always gets the same id. */
export function stableId(parts: readonly unknown[]): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 32);
}

/**
 * One kind of alert that dasguard raises itself (not from a rule file): its rule id and every key its `event`
 * (the facts) may carry. Declared once, beside the code that raises it; src/builtinAlerts.ts collects them so that
 * `dasguard.yaml` can be checked against them (route and suppression `rules:` patterns, suppression `keys`).
 */
export interface AlertKind {
  readonly ruleId: string;
  readonly facts: readonly string[];
}

/** The facts an alert of `kind` may carry: only its declared keys (the typecheck rejects any other). */
export type FactsOf<K extends AlertKind> = { [P in K['facts'][number]]?: unknown };

export interface HealthAlertInput<F extends Record<string, unknown> = Record<string, unknown>> {
  severity: Severity;
  description: string;
  message: string;
  clusterId: string | null;
  instanceId?: string | null;
  /** When the condition started (or ended, for a resolved alert). */
  time: Date | null;
  source: string;
  /** The facts of the check; `state: 'open' | 'resolved'` for conditions that end. */
  facts: F;
  /** What makes this occurrence unique (with the rule id): e.g. the instance and the start of a silence. */
  key: readonly unknown[];
  /** On an alert that ends a condition: the `key` of the alert that opened it (its id becomes `resolves`). */
  resolvesKey?: readonly unknown[];
  tags?: string[];
}

export function healthAlert<K extends AlertKind>(kind: K, a: HealthAlertInput<FactsOf<K>>): Alert {
  return {
    id: healthAlertId(kind, a.clusterId, a.key),
    kind: 'health',
    ruleId: kind.ruleId,
    severity: a.severity,
    tags: a.tags ?? ['stream-health'],
    description: a.description,
    message: a.message,
    clusterId: a.clusterId,
    instanceId: a.instanceId ?? null,
    time: a.time === null ? null : a.time.toISOString(),
    source: a.source,
    event: a.facts,
    ...(a.resolvesKey !== undefined ? { resolves: healthAlertId(kind, a.clusterId, a.resolvesKey) } : {}),
  };
}

/** The id healthAlert gives the occurrence `key` of `kind` on `clusterId`. */
function healthAlertId(kind: AlertKind, clusterId: string | null, key: readonly unknown[]): string {
  return stableId(['health', kind.ruleId, clusterId, ...key]);
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
