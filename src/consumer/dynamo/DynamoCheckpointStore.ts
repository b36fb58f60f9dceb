/**
 * CheckpointStore on the lease table (src/consumer/dynamo/LeaseTable.ts): a shard's checkpoint is its lease item's
 * `checkpoint`, written by the LeaseCoordinator conditionally on this worker still holding the lease. `save` writes
 * every shard it is given; the shards whose lease was lost are reported together as one LeaseLostError once the
 * others were written (the consumer stops those readers and goes on); any other failure is thrown as classified
 * (a TransientError is retried by the consumer).
 */
import { LeaseLostError } from '../../errors.js';
import type { CheckpointStore, ShardCheckpoint } from '../CheckpointStore.js';
import type { LeaseCoordinator } from './LeaseCoordinator.js';
import { leaseCheckpoint, type LeaseTable } from './LeaseTable.js';

export class DynamoCheckpointStore implements CheckpointStore {
  readonly #table: LeaseTable;
  readonly #leases: LeaseCoordinator;

  constructor(table: LeaseTable, leases: LeaseCoordinator) {
    this.#table = table;
    this.#leases = leases;
  }

  /** Where people find the checkpoints (`run`'s start line). */
  get location(): string {
    return `DynamoDB table ${this.#table.name}`;
  }

  async load(streamName: string): Promise<Map<string, ShardCheckpoint>> {
    const out = new Map<string, ShardCheckpoint>();
    for (const l of await this.#table.scan()) {
      if (l.streamName !== undefined && l.streamName !== streamName) continue;
      const { checkpoint } = leaseCheckpoint(l);
      if (checkpoint) out.set(l.shardId, checkpoint);
    }
    return out;
  }

  async save(_streamName: string, shards: ReadonlyMap<string, ShardCheckpoint>): Promise<void> {
    const results = await Promise.allSettled([...shards].map(([id, cp]) => this.#leases.checkpoint(id, cp)));
    const lost: string[] = [];
    for (const r of results) {
      if (r.status === 'fulfilled') continue;
      if (r.reason instanceof LeaseLostError) lost.push(...r.reason.shardIds);
      else throw r.reason;
    }
    if (lost.length > 0) throw new LeaseLostError(`checkpoints refused, leases lost: ${lost.join(', ')}`, lost);
  }

  async close(): Promise<void> {}
}
