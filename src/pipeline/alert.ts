/**
 * The alert: what a rule match becomes, with an id that is the same on every replay of the same input; and what a
 * correlation firing (src/rules/CorrelationEngine.ts) becomes, with an id made of the rule, the group values and the
 * first contributing event.
 */
import { createHash } from 'node:crypto';
import type { CorrelationFiring, RuleMatch } from '../rules/index.js';
import type { ActivityEvent, RecordPosition, Severity } from '../types.js';
import { formatPosition } from '../types.js';
import { CONTRIBUTING_EVENTS, MESSAGE_PARTS, contextOf, withMessageParts, redactEvent, redactParts, renderMessage, type MessagePart, type RedactionMode } from '../redaction/index.js';
import { fitAlert } from './alertSize.js';

export interface Alert {
  /** Deterministic: cluster, instance, session, statement, substatement, event time and rule. */
  id: string;
  /** What raised it: an activity event rule, an RDS event rule, or a stream-health check. */
  kind: 'activity' | 'rds-event' | 'health';
  ruleId: string;
  /**
   * The version of the rule set that raised it (RuleSet.version: a digest of the rule files), for an alert raised by
   * a rule; absent on the alerts dasguard raises itself (stream health, delivery). Not part of the id.
   */
  rulesVersion?: string;
  severity: Severity;
  tags: string[];
  description: string;
  /** The rule's `runbook:` (what to check first), when it has one. */
  runbook?: string;
  /** The rule's message template, rendered under the redaction mode (src/redaction). */
  message: string;
  /** The cluster as the event names it: the DAS resource id (`cluster-…`) for activity alerts; for dasguard's own
   *  alerts the cluster identifier it was given (`--cluster`), else the resource id. */
  clusterId: string | null;
  instanceId: string | null;
  /** The cluster's name (DBClusterIdentifier) and resource id, when the name is known (src/pipeline/clusterNames.ts). */
  cluster?: ClusterRef;
  /** On an alert that ends a condition (a loss window closed, traffic resumed): the id of the alert it resolves.
   *  Delivery sends it wherever that alert went (src/delivery/routing.ts). */
  resolves?: string;
  /** The event's logTime as ISO 8601, or null. */
  time: string | null;
  /** Where the record came from (file:line, shard and sequence number). */
  source: string;
  /** The event that fired the rule (an ActivityEvent with SQL literals redacted unless redaction is 'none'; an
   *  RDS event; or the facts of a health check). */
  event: Record<string, unknown>;
  /** Shortened to fit a size limit (MAX_ALERT_BYTES when built, a sink's own when sent): see pipeline/alertSize.ts. */
  truncated?: boolean;
  /**
   * The message's parts (values redacted like `event`), for an output that must render it under a stricter mode (a
   * `redaction: full` route). Not enumerable: never serialised, never compared, and not carried over by a spread
   * copy (which may change the message: a suppression digest).
   */
  [MESSAGE_PARTS]?: readonly MessagePart[];
}

/** A cluster by name (DBClusterIdentifier) and DAS resource id (DbClusterResourceId), each null when unknown. */
export interface ClusterRef {
  name: string | null;
  resourceId: string | null;
}

/**
 * The activity event an alert is about, for a reader's columns (user, host, database): its event, or a correlation
 * alert's last contributing event; for dasguard's own alerts their facts (which have none of those fields).
 */
export function eventOf(a: Pick<Alert, 'event'>): Record<string, unknown> {
  const last = a.event[CONTRIBUTING_EVENTS[1]];
  return a.event.correlation !== undefined && typeof last === 'object' && last !== null ? (last as Record<string, unknown>) : a.event;
}

/** The redaction mode of the pipeline (--redaction): every alert, log and output it produces follows it. */
export type Redaction = RedactionMode;

export function alertId(event: ActivityEvent, ruleId: string): string {
  const key = JSON.stringify([
    event.clusterId,
    event.instanceId,
    event.sessionId ?? null,
    event.statementId ?? null,
    event.substatementId ?? null,
    event.logTime ?? null,
    event.class ?? null,
    ruleId,
  ]);
  return createHash('sha256').update(key).digest('hex').slice(0, 32);
}

/**
 * `redacted`: the event already redacted under `redaction`, when the caller builds several alerts from it;
 * `rulesVersion`: the version of the rule set that matched (RuleSet.version).
 */
export function buildAlert(match: RuleMatch, event: ActivityEvent, position: RecordPosition, redaction: Redaction, redacted = redactEvent(event, redaction), rulesVersion?: string): Alert {
  const ctx = contextOf(event);
  const parts = redactParts(match.parts, ctx, redaction);
  // Size-capped after redaction (MAX_ALERT_BYTES), so the outbox and every sink can take it.
  const alert = fitAlert<Alert>({
    id: alertId(event, match.rule.id),
    kind: 'activity',
    ruleId: match.rule.id,
    ...(rulesVersion !== undefined ? { rulesVersion } : {}),
    severity: match.rule.severity,
    tags: [...match.rule.tags],
    description: match.rule.description,
    ...(match.rule.runbook !== undefined ? { runbook: match.rule.runbook } : {}),
    message: redaction === 'literals' ? match.message : renderMessage(parts, ctx, redaction),
    clusterId: event.clusterId,
    instanceId: event.instanceId,
    time: event.logTimeMs === null ? null : new Date(event.logTimeMs).toISOString(),
    source: formatPosition(position),
    event: redacted,
  }).alert;
  return withMessageParts(alert, parts);
}

/** A correlation alert's id: the rule, the group values and the first contributing event (stable across sources). */
export function correlationAlertId(f: CorrelationFiring): string {
  const key = JSON.stringify(['correlation', f.rule.id, f.spec.groupBy.map((g) => f.group[g] ?? null), f.firstKey]);
  return createHash('sha256').update(key).digest('hex').slice(0, 32);
}

const WHAT = { event_count: 'events', value_count: 'distinct values of', value_sum: 'sum of' } as const;

/** `field=value, ...`, a missing (null) value shown as such. */
function pairs(names: readonly string[], values: Record<string, unknown>): string {
  return names.map((g) => `${g}=${values[g] === null || values[g] === undefined ? 'null (missing)' : String(values[g])}`).join(', ');
}

/** The message's summary: `(5 events within 1m for remoteHost=…)`, `(5 then 1 events within 10m for …)`, `(first time remoteHost=… for …)`. */
function summaryOf(f: CorrelationFiring): string {
  // clusterId is left out of the text: the alert names its cluster already (event.correlation.group keeps it).
  const group = pairs(f.spec.groupBy.filter((g) => g !== 'clusterId'), f.group);
  const forGroup = group !== '' ? ` for ${group}` : '';
  const s = f.spec;
  if (s.type === 'first_seen') return ` (first time ${pairs(s.fields, f.values ?? {})}${forGroup})`;
  const what = s.type === 'sequence' ? `${(f.steps ?? []).join(' then ')} events` : s.type === 'event_count' ? `${f.value} events` : `${f.value} ${WHAT[s.type]} ${s.field}`;
  return ` (${what} within ${s.window}${forGroup})`;
}

/** `event.correlation` of the alert: the facts of the firing, by type. */
function factsOf(f: CorrelationFiring): Record<string, unknown> {
  const s = f.spec;
  const times = { firstTime: new Date(f.firstTimeMs).toISOString(), lastTime: new Date(f.lastTimeMs).toISOString() };
  if (s.type === 'first_seen') {
    return {
      type: s.type,
      field: s.fields.length === 1 ? s.fields[0] : [...s.fields],
      values: { ...f.values },
      learning: s.learning,
      ...(s.forget !== undefined ? { forget: s.forget } : {}),
      events: f.events,
      group: f.group,
      ...times,
    };
  }
  if (s.type === 'sequence') {
    return { type: s.type, steps: s.steps.map((st, i) => ({ gte: st.gte, events: f.steps?.[i] ?? 0 })), events: f.events, window: s.window, group: f.group, ...times };
  }
  return { type: s.type, ...(s.field !== undefined ? { field: s.field } : {}), value: f.value, gte: s.gte, events: f.events, window: s.window, group: f.group, ...times };
}

/**
 * The one alert of a correlation firing. `event` is the last contributing event (the rule's message template is
 * rendered on it), `templateParts` its message parts; the summary (value, window, group; a sequence's events per
 * step; first_seen's new values) follows them. `event` of the alert holds the correlation's facts and the first and
 * last contributing events (stored already redacted).
 */
export function buildCorrelationAlert(f: CorrelationFiring, event: ActivityEvent, templateParts: readonly MessagePart[], position: RecordPosition, redaction: Redaction, rulesVersion?: string): Alert {
  const ctx = contextOf(event);
  const summary = summaryOf(f);
  const raw = [...templateParts, summary];
  const parts = redactParts(raw, ctx, redaction);
  const alert = fitAlert<Alert>({
    id: correlationAlertId(f),
    kind: 'activity',
    ruleId: f.rule.id,
    ...(rulesVersion !== undefined ? { rulesVersion } : {}),
    severity: f.rule.severity,
    tags: [...f.rule.tags],
    description: f.rule.description,
    ...(f.rule.runbook !== undefined ? { runbook: f.rule.runbook } : {}),
    message: renderMessage(redaction === 'literals' ? raw : parts, ctx, redaction),
    clusterId: event.clusterId,
    instanceId: event.instanceId,
    time: new Date(f.lastTimeMs).toISOString(),
    source: formatPosition(position),
    event: {
      correlation: factsOf(f),
      // The names redactAlert knows (CONTRIBUTING_EVENTS): a stricter route redacts these events too.
      [CONTRIBUTING_EVENTS[0]]: f.first,
      [CONTRIBUTING_EVENTS[1]]: f.last,
    },
  }).alert;
  return withMessageParts(alert, parts);
}
