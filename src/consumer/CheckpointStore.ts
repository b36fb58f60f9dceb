/**
 * Where the live consumer remembers how far it got, per stream and per shard. A checkpoint names the last
 * sequence number whose record was fully processed AND whose alerts were handed off (AlertHandoff.handOff
 * resolved): a restart resumes AFTER it, so every record is processed at least once. A shard that was closed
 * (resharding) and read to its end is marked `finished`, so its children may start and it is never re-read.
 *
 * Adapters: FileCheckpointStore (one JSON file per stream, the default); a DynamoDB table later (one item per
 * stream + shard: `load` is a Query on the stream, `save` a PutItem). Callers import this interface only.
 */
export interface ShardCheckpoint {
  /** The last sequence number fully processed and handed off; absent when nothing was read yet. */
  sequenceNumber?: string;
  /**
   * When reading started from `latest` or a time and no record was processed yet: a restart resumes
   * AT_TIMESTAMP of it (ISO 8601), so records that arrived while the consumer was down are not missed.
   */
  startedAt?: string;
  /** The shard is closed and was read to its end (GetRecords returned no NextShardIterator). */
  finished?: boolean;
  /** ISO 8601 time of the save, for people reading the store. */
  updatedAt?: string;
}

export interface CheckpointStore {
  /** Every shard checkpoint of a stream; an empty map on first start. ConfigError when the store is unusable. */
  load(streamName: string): Promise<Map<string, ShardCheckpoint>>;
  /**
   * Saves the checkpoints of some shards of a stream (others untouched); resolves once they are durable.
   * Saves of one stream are applied in call order.
   */
  save(streamName: string, shards: ReadonlyMap<string, ShardCheckpoint>): Promise<void>;
  /** Waits for pending saves; no save after close. */
  close(): Promise<void>;
}
