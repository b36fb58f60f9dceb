/**
 * RDS events as rules see them (`target: rds-event`), built from `DescribeEvents` (or EventBridge) events.
 * DescribeEvents returns no event id: `eventId` is filled in from the documented messages dasguard knows
 * (RDS-EVENT-0179 started, RDS-EVENT-0180 stopped, failovers) and is '' otherwise; match the message instead.
 */
import type { Event as SdkEvent } from '@aws-sdk/client-rds';
import { stableId } from './healthAlert.js';

export interface RdsEvent {
  [field: string]: unknown;
  /** `RDS-EVENT-0180`... when known, else ''. */
  eventId: string;
  message: string;
  categories: string[];
  /** The cluster identifier (DescribeEvents `SourceIdentifier`). */
  sourceIdentifier: string;
  /** `db-cluster`, `db-instance`... */
  sourceType: string;
  /** ISO 8601. */
  date: string;
  sourceArn: string;
}

/** Documented messages of Aurora DB cluster events (Amazon RDS event categories and messages for Aurora). */
const KNOWN_EVENT_IDS: readonly { eventId: string; message: RegExp }[] = [
  { eventId: 'RDS-EVENT-0179', message: /activity streams? (?:is|has been|was) started/i },
  { eventId: 'RDS-EVENT-0180', message: /activity streams? (?:is|has been|was) stopped/i },
  { eventId: 'RDS-EVENT-0069', message: /cluster failover failed/i },
  { eventId: 'RDS-EVENT-0070', message: /promoting previous primary again/i },
  { eventId: 'RDS-EVENT-0071', message: /completed failover to DB instance/i },
  { eventId: 'RDS-EVENT-0072', message: /started same AZ failover/i },
  { eventId: 'RDS-EVENT-0073', message: /started cross AZ failover/i },
];

function knownEventId(message: string): string {
  for (const k of KNOWN_EVENT_IDS) if (k.message.test(message)) return k.eventId;
  return '';
}

/** An SDK `Event` from DescribeEvents as a rule event. Events without a date get `fallbackDate`. */
export function fromSdkEvent(e: SdkEvent, fallbackDate: Date): RdsEvent {
  const message = e.Message ?? '';
  const date = e.Date instanceof Date && !Number.isNaN(e.Date.getTime()) ? e.Date : fallbackDate;
  return {
    eventId: knownEventId(message),
    message,
    categories: [...(e.EventCategories ?? [])],
    sourceIdentifier: e.SourceIdentifier ?? '',
    sourceType: e.SourceType ?? '',
    date: date.toISOString(),
    sourceArn: e.SourceArn ?? '',
  };
}

/** What makes two deliveries the same event: DescribeEvents has no id, so date + source + message. */
export function eventIdentity(e: RdsEvent): string {
  return stableId([e.date, e.sourceType, e.sourceIdentifier, e.message]);
}
