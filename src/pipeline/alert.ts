/** The alert: what a rule match becomes, with an id that is the same on every replay of the same input. */
import { createHash } from 'node:crypto';
import type { RuleMatch } from '../rules/index.js';
import type { ActivityEvent, RecordPosition, Severity } from '../types.js';
import { formatPosition } from '../types.js';
import { MESSAGE_PARTS, contextOf, withMessageParts, redactEvent, redactParts, renderMessage, type MessagePart, type RedactionMode } from '../redaction/index.js';
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
  /** The rule's message template, rendered under the redaction mode (src/redaction). */
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
  /**
   * The message's parts (values redacted like `event`), for an output that must render it under a stricter mode (a
   * `redaction: full` route). Not enumerable: never serialised, never compared, and not carried over by a spread
   * copy (which may change the message: a suppression digest).
   */
  [MESSAGE_PARTS]?: readonly MessagePart[];
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

/** `redacted`: the event already redacted under `redaction`, when the caller builds several alerts from it. */
export function buildAlert(match: RuleMatch, event: ActivityEvent, position: RecordPosition, redaction: Redaction, redacted = redactEvent(event, redaction)): Alert {
  const ctx = contextOf(event);
  const parts = redactParts(match.parts, ctx, redaction);
  // Size-capped after redaction (MAX_ALERT_BYTES), so the outbox and every sink can take it.
  const alert = fitAlert<Alert>({
    id: alertId(event, match.rule.id),
    kind: 'activity',
    ruleId: match.rule.id,
    severity: match.rule.severity,
    tags: [...match.rule.tags],
    description: match.rule.description,
    message: redaction === 'literals' ? match.message : renderMessage(parts, ctx, redaction),
    clusterId: event.clusterId,
    instanceId: event.instanceId,
    time: event.logTimeMs === null ? null : new Date(event.logTimeMs).toISOString(),
    source: formatPosition(position),
    event: redacted,
  }).alert;
  return withMessageParts(alert, parts);
}
