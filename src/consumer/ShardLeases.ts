/**
 * Shard leases: how several `run` processes (workers) on one stream share its shards, each shard read by one worker
 * at a time. The live consumer (KinesisConsumer) reads the shards it holds a lease on, and stops a shard's reader the
 * moment its lease is lost; without leases it reads every shard (one process, checkpoints in files).
 *
 * Adapter: LeaseCoordinator (src/consumer/dynamo/), a DynamoDB lease table laid out as the Kinesis Client Library's.
 * Callers import this interface only.
 */
import type { Shard } from '@aws-sdk/client-kinesis';
import type { ShardCheckpoint } from './CheckpointStore.js';
import type { StartPosition } from './types.js';

/** A shard this worker holds the lease on. */
export interface LeasedShard {
  shard: Shard;
  /** The lease's checkpoint when it was taken; undefined when the shard was never read. */
  checkpoint: ShardCheckpoint | undefined;
  /** Where the shard starts when the checkpoint has no position. */
  start: StartPosition;
  /** Aborts when the lease is lost (another worker took it, or it could not be renewed in time). */
  lost: AbortSignal;
}

export interface ShardLeases {
  /** This worker's id (`host:pid:random`, or --worker-id): the leases' owner. */
  readonly workerId: string;
  /**
   * Starts renewing and taking leases; `onTaken` is called with each lease taken (the consumer starts its reader).
   * ConfigError when the lease table cannot be used.
   */
  start(onTaken: (lease: LeasedShard) => void, signal: AbortSignal): Promise<void>;
  /**
   * The stream's shards as just listed: a lease is created for each shard that has none (a shard listed at the first
   * start of the stream starts at `from`, a child shard at its start), and only listed shards are taken.
   */
  sync(shards: readonly Shard[], from: StartPosition): Promise<void>;
  /** Looks for leases to take now (a shard was finished: its children may be free). */
  wake(): void;
  /** Stops renewing and taking; releases every lease held (after the final checkpoints), so other workers take them at once. */
  close(): Promise<void>;
}
