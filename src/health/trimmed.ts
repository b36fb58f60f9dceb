/**
 * Trimmed data: records the stream dropped (retention, 24 h for DAS streams) before dasguard read them. They
 * are gone for good: an audit gap. `trimmedAlert` turns the consumer's `StreamObserver.onTrimmed(gap)` into an
 * alert; `staleCheckpoints` lets `run` see at startup that a checkpoint is older than the retention (so the
 * records after it are already trimmed); src/aws/kinesis.ts asks Kinesis for the retention
 * (kept apart so that this file, and the alert kinds it declares, load no AWS SDK).
 */
import type { Alert } from '../pipeline/alert.js';
import type { TrimmedData } from '../pipeline/StreamObserver.js';
import { formatDuration, healthAlert, type AlertKind } from './healthAlert.js';

export const TRIMMED_ALERT = {
  ruleId: 'das-records-trimmed',
  facts: ['streamName', 'shardId', 'afterSequenceNumber', 'from', 'to', 'reason'],
} as const satisfies AlertKind;
export const DEFAULT_RETENTION_HOURS = 24;
const DESCRIPTION = 'Activity records were removed from the Kinesis stream (retention) before dasguard read them: they are lost to the audit trail.';

export function trimmedAlert(gap: TrimmedData, clusterId: string | null): Alert {
  const from = gap.from ? gap.from.toISOString() : 'an unknown time';
  const to = gap.to ? gap.to.toISOString() : 'an unknown time';
  const after = gap.afterSequenceNumber ? ` after sequence ${gap.afterSequenceNumber}` : '';
  return healthAlert(TRIMMED_ALERT, {
    severity: 'critical',
    description: DESCRIPTION,
    message: `records between ${from} and ${to} were trimmed before they were read (stream ${gap.streamName}, shard ${gap.shardId}${after}): ${gap.reason}`,
    clusterId,
    time: gap.from ?? gap.to ?? null,
    source: `${gap.streamName} shard ${gap.shardId}`,
    facts: {
      streamName: gap.streamName,
      shardId: gap.shardId,
      afterSequenceNumber: gap.afterSequenceNumber ?? null,
      from: gap.from?.toISOString() ?? null,
      to: gap.to?.toISOString() ?? null,
      reason: gap.reason,
    },
    key: [gap.streamName, gap.shardId, gap.afterSequenceNumber ?? null, gap.from?.getTime() ?? null, gap.to?.getTime() ?? null],
  });
}

export interface CheckpointAge {
  shardId: string;
  sequenceNumber?: string;
  /** When the checkpointed record arrived in the stream (best), or when the checkpoint was written. */
  time: Date;
}

/**
 * Checkpoints older than the retention: the records after them have (at least partly) been trimmed. Returns
 * one TrimmedData per such shard, ready for `onTrimmed` / `trimmedAlert`.
 */
export function staleCheckpoints(
  streamName: string,
  checkpoints: readonly CheckpointAge[],
  retentionHours: number,
  now: number,
): TrimmedData[] {
  const retentionMs = retentionHours * 3600_000;
  const horizon = now - retentionMs;
  return checkpoints
    .filter((c) => c.time.getTime() < horizon)
    .map((c) => ({
      streamName,
      shardId: c.shardId,
      ...(c.sequenceNumber !== undefined ? { afterSequenceNumber: c.sequenceNumber } : {}),
      from: c.time,
      to: new Date(horizon),
      reason: `the checkpoint is ${formatDuration(now - c.time.getTime())} old, beyond the stream's ${retentionHours} h retention`,
    }));
}
