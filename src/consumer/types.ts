/**
 * The types the live consumer (KinesisConsumer) and its shard readers (ShardReader) share: where a shard starts,
 * a shard's status, the consumer's stats and log entries. Here, not in either class's file, so neither imports
 * the other for them (no import cycle).
 */
import type { KeyProviderStats } from '../keys/KeyProvider.js';
import type { PipelineSnapshot } from '../pipeline/PipelineStats.js';
import type { LogEntry } from '../log/logger.js';

/** Where a shard with no checkpoint starts, on the first start of a stream. */
export type StartPosition = { type: 'latest' } | { type: 'trim-horizon' } | { type: 'at-timestamp'; time: Date };

/** One operational log entry (the one logger's, src/log/logger.ts): `run` prints them as JSON lines or readable lines. */
export type ConsumerLogEntry = LogEntry;

export interface ShardStatus {
  shardId: string;
  state: 'reading' | 'finished';
  /** MillisBehindLatest of the last GetRecords answer. */
  lagMs: number | null;
  /** Last sequence number processed and handed off. */
  sequenceNumber: string | null;
  records: number;
  /**
   * Epoch ms of the shard's last progress: a GetRecords answer or a record committed (the reader's start before
   * either). What `run`'s /healthz judges a shard by (src/metrics/health.ts).
   */
  lastProgressAt: number;
}

/** The consumer's totals (the snapshot of its PipelineStats, shared by every shard) and its shards. */
export interface ConsumerStats {
  pipeline: PipelineSnapshot;
  keys: KeyProviderStats | undefined;
  shards: ShardStatus[];
  startedAt: number;
  /** Epoch ms of the last checkpoint write that succeeded; null before the first. */
  lastCheckpointAt: number | null;
}
