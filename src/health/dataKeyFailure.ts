/**
 * A data key failure mid-stream: data keys of the stream's encryption context decrypted before, and now the key
 * service refuses (KMS access denied, key disabled, deleted or pending deletion: a DataKeyError
 * 'stopped-decrypting'). Exiting would crash-loop a service and alert nobody, so `run` holds the shard at the
 * record instead (its checkpoint does not move) and retries it; this alarm says so, once per encryption context
 * when the first record is held, and once more (resolved) when a held record decrypts again.
 */
import type { Alert } from '../pipeline/alert.js';
import { formatDuration, healthAlert, systemClock, type AlertKind, type Clock } from './healthAlert.js';

export const DATA_KEY_FAILURE_ALERT = {
  ruleId: 'das-data-key-failure',
  facts: ['state', 'encryptionContext', 'streamName', 'shardId', 'sequenceNumber', 'error', 'since', 'start', 'end', 'durationMs'],
} as const satisfies AlertKind;
export const DATA_KEY_FAILURE_RULE = DATA_KEY_FAILURE_ALERT.ruleId;
const DESCRIPTION =
  'Data keys of the activity stream no longer decrypt (KMS access denied, key disabled or deleted): dasguard holds ' +
  'the stream at the first record it cannot decrypt and checks nothing after it until the key works again.';

/** Where the key failed: the first record held. */
export interface HeldRecord {
  /** Canonical JSON of the encryption context. */
  context: string;
  streamName: string;
  shardId: string;
  sequenceNumber: string;
  /** The DataKeyError's message (KMS error code and message; no audit data). */
  error: string;
}

interface Open extends HeldRecord {
  since: number;
}

export class DataKeyAlarm {
  readonly #clusterId: string | null;
  readonly #clock: Clock;
  /** Open conditions, by encryption context. */
  readonly #open = new Map<string, Open>();

  constructor(opts: { clusterId: string | null; clock?: Clock }) {
    this.#clusterId = opts.clusterId;
    this.#clock = opts.clock ?? systemClock;
  }

  /** A record is held: the critical alert when this is the first under its context, else nothing. */
  held(record: HeldRecord): Alert[] {
    if (this.#open.has(record.context)) return [];
    const since = this.#clock.now();
    this.#open.set(record.context, { ...record, since });
    return [
      healthAlert(DATA_KEY_FAILURE_ALERT, {
        severity: 'critical',
        description: DESCRIPTION,
        message:
          `data keys under encryption context ${record.context} stopped decrypting: ${record.streamName} shard ` +
          `${record.shardId} is held at sequence ${record.sequenceNumber}, retried until the key works again (${record.error})`,
        clusterId: this.#clusterId,
        time: new Date(since),
        source: `${record.streamName} shard ${record.shardId}`,
        facts: { state: 'open', encryptionContext: record.context, streamName: record.streamName, shardId: record.shardId, sequenceNumber: record.sequenceNumber, error: record.error, since: new Date(since).toISOString() },
        key: [record.context, since, 'open'],
      }),
    ];
  }

  /** A held record of `context` decrypted: the resolved alert when the condition was open, else nothing. */
  recovered(context: string): Alert[] {
    const open = this.#open.get(context);
    if (open === undefined) return [];
    this.#open.delete(context);
    const now = this.#clock.now();
    return [
      healthAlert(DATA_KEY_FAILURE_ALERT, {
        severity: 'info',
        description: DESCRIPTION,
        message:
          `data keys under encryption context ${context} decrypt again after ${formatDuration(now - open.since)} ` +
          `(${new Date(open.since).toISOString()} to ${new Date(now).toISOString()}); ${open.streamName} goes on from sequence ${open.sequenceNumber}`,
        clusterId: this.#clusterId,
        time: new Date(now),
        source: `${open.streamName} shard ${open.shardId}`,
        facts: { state: 'resolved', encryptionContext: context, start: new Date(open.since).toISOString(), end: new Date(now).toISOString(), durationMs: now - open.since },
        key: [context, open.since, 'resolved'],
        resolvesKey: [context, open.since, 'open'],
        tags: ['stream-health', 'resolved'],
      }),
    ];
  }
}
