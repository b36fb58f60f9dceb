/** The alert: what a rule match becomes, with an id that is the same on every replay of the same input. */
import { createHash } from 'node:crypto';
import type { RuleMatch } from '../rules/index.js';
import type { ActivityEvent, RecordPosition, Severity } from '../types.js';
import { formatPosition } from '../types.js';
import { redactParams, redactSql } from '../redact.js';
import { fitAlert } from './alertSize.js';

export interface Alert {
  /** Deterministic: cluster, instance, session, statement, substatement, event time and rule. */
  id: string;
  /** What raised it: an activity event rule, an RDS event rule, or a stream-health check. */
  kind: 'activity' | 'rds-event' | 'health';
  ruleId: string;
  severity: Severity;
  tags: string[];
  description: string;
  /** The rule's message template, rendered; literals in SQL redacted. */
  message: string;
  clusterId: string | null;
  instanceId: string | null;
  /** The event's logTime as ISO 8601, or null. */
  time: string | null;
  /** Where the record came from (file:line, shard and sequence number). */
  source: string;
  /** The event that fired the rule (an ActivityEvent with SQL literals redacted unless redaction is 'none'; an
   *  RDS event; or the facts of a health check). */
  event: Record<string, unknown>;
  /** Shortened to fit a size limit (MAX_ALERT_BYTES when built, a sink's own when sent): see pipeline/alertSize.ts. */
  truncated?: boolean;
}

export type Redaction = 'literals' | 'none';

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

export function buildAlert(match: RuleMatch, event: ActivityEvent, position: RecordPosition, redaction: Redaction): Alert {
  return fitAlert({
    id: alertId(event, match.rule.id),
    kind: 'activity',
    ruleId: match.rule.id,
    severity: match.rule.severity,
    tags: [...match.rule.tags],
    description: match.rule.description,
    message: match.message,
    clusterId: event.clusterId,
    instanceId: event.instanceId,
    time: event.logTimeMs === null ? null : new Date(event.logTimeMs).toISOString(),
    source: formatPosition(position),
    event: redaction === 'none' ? event : redactEvent(event),
  }).alert;
}

/** A copy of the event with literals masked in commandText and every bind value in paramList masked. */
export function redactEvent(event: ActivityEvent): ActivityEvent {
  const copy: ActivityEvent = { ...event };
  if (typeof event.commandText === 'string') copy.commandText = redactSql(event.commandText, event.engine);
  if (event.paramList !== undefined && event.paramList !== null) copy.paramList = redactParams(event.paramList);
  return copy;
}
