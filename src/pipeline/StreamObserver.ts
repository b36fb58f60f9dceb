/**
 * Signals about the stream itself (not its content) that health checks listen to: every decoded batch (records
 * and heartbeats show an instance is alive), and data that was trimmed before it was read. The live consumer
 * and the Lambda handler call these; replay may too.
 */
import type { BatchSummary } from '../types.js';

export interface TrimmedData {
  streamName: string;
  shardId: string;
  /** The last sequence number read before the gap (the checkpoint), if any. */
  afterSequenceNumber?: string;
  /** Time of the last record read before the gap, if known. */
  from?: Date;
  /** Arrival time of the first record read after the gap, if known. */
  to?: Date;
  reason: string;
}

export interface StreamObserver {
  onBatch?(batch: BatchSummary, info: { shardId?: string; arrivalTime?: number }): void;
  onTrimmed?(gap: TrimmedData): void;
}
