/**
 * The lease table in DynamoDB: one item per shard, with the attribute names of the Kinesis Client Library's lease
 * table, so operators who know KCL can read it:
 *
 *   leaseKey (the hash key: the shard id)   leaseOwner (the worker id; absent when nobody holds it)
 *   leaseCounter (moved by every renewal, take, checkpoint and release)
 *   checkpoint (a sequence number, or TRIM_HORIZON, LATEST, AT_TIMESTAMP, SHARD_END: the shard was read to its end)
 *   checkpointSubSequenceNumber (always 0: DAS records are not aggregated)   ownerSwitchesSinceCheckpoint
 *   parentShardId (a string set: the shard's parents, when it was born of resharding)
 * and dasguard's own: streamName (one table per stream), startedAt (the time of an AT_TIMESTAMP checkpoint),
 * updatedAt (ISO 8601 time of the last checkpoint, for people).
 *
 * Every write but the creation of a lease is an UpdateItem conditional on the counter (and owner) the writer last
 * saw: a worker that lost a lease can no longer renew, checkpoint or release it. What a failed condition means is
 * the caller's (LeaseCoordinator); other failures come classified (src/aws/dynamodb.ts).
 * IAM: dynamodb:DescribeTable, CreateTable (unless --no-create-table), Scan, PutItem, UpdateItem, DeleteItem on the table.
 */
import {
  CreateTableCommand,
  DeleteItemCommand,
  DescribeTableCommand,
  PutItemCommand,
  ScanCommand,
  UpdateItemCommand,
  type AttributeValue,
  type TableDescription,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { classifyDynamoError, isConditionFailed } from '../../aws/dynamodb.js';
import { awsErrorInfo } from '../../aws/errors.js';
import { ConfigError } from '../../errors.js';
import { sleep } from '../../util/backoff.js';
import type { ShardCheckpoint } from '../CheckpointStore.js';
import type { StartPosition } from '../types.js';
import { LEASE_TABLE_LAYOUT } from '../../aws/dynamoTableLayouts.js';

/** The KCL's sentinel checkpoints. */
export const Sentinel = { trimHorizon: 'TRIM_HORIZON', latest: 'LATEST', atTimestamp: 'AT_TIMESTAMP', shardEnd: 'SHARD_END' } as const;

export interface Lease {
  shardId: string;
  owner: string | null;
  counter: number;
  /** A sequence number or a Sentinel. */
  checkpoint: string;
  /** With checkpoint AT_TIMESTAMP: from when (ISO 8601). */
  startedAt?: string;
  parents: string[];
  ownerSwitches: number;
  streamName?: string;
  updatedAt?: string;
}

/** A lease's checkpoint as the consumer keeps it, and where its shard starts without a position. */
export function leaseCheckpoint(lease: Pick<Lease, 'checkpoint' | 'startedAt' | 'updatedAt'>): { checkpoint: ShardCheckpoint | undefined; start: StartPosition } {
  const at = lease.updatedAt !== undefined ? { updatedAt: lease.updatedAt } : {};
  switch (lease.checkpoint) {
    case Sentinel.shardEnd:
      return { checkpoint: { finished: true, ...at }, start: { type: 'trim-horizon' } };
    case Sentinel.latest:
      return { checkpoint: undefined, start: { type: 'latest' } };
    case Sentinel.trimHorizon:
      return { checkpoint: undefined, start: { type: 'trim-horizon' } };
    case Sentinel.atTimestamp:
      return lease.startedAt !== undefined
        ? { checkpoint: { startedAt: lease.startedAt, ...at }, start: { type: 'at-timestamp', time: new Date(lease.startedAt) } }
        : { checkpoint: undefined, start: { type: 'trim-horizon' } };
    default:
      return { checkpoint: { sequenceNumber: lease.checkpoint, ...at }, start: { type: 'trim-horizon' } };
  }
}

/** The `checkpoint` (and `startedAt`) a start position gives a new lease. */
export function initialCheckpoint(from: StartPosition): Pick<Lease, 'checkpoint' | 'startedAt'> {
  if (from.type === 'latest') return { checkpoint: Sentinel.latest };
  if (from.type === 'trim-horizon') return { checkpoint: Sentinel.trimHorizon };
  return { checkpoint: Sentinel.atTimestamp, startedAt: from.time.toISOString() };
}

export interface LeaseTableOptions {
  client: DynamoDBClient;
  tableName: string;
  /** How long a CreateTable may take to become ACTIVE (default 5 min). */
  createTimeoutMs?: number;
}

/** Outcome of a conditional write: the new counter, or 'lost' when the item was not as expected. */
export type Conditional<T> = T | 'lost';

export class LeaseTable {
  readonly name: string;
  readonly #client: DynamoDBClient;
  readonly #createTimeoutMs: number;

  constructor(o: LeaseTableOptions) {
    this.#client = o.client;
    this.name = o.tableName;
    this.#createTimeoutMs = o.createTimeoutMs ?? 300_000;
  }

  /** The table, created (on-demand billing, leaseKey as hash key) when absent and `create`; waits until ACTIVE. */
  async ensure(opts: { create: boolean; log?: (msg: string) => void; signal?: AbortSignal }): Promise<void> {
    let status = await this.#status();
    if (status === undefined) {
      if (!opts.create) {
        throw new ConfigError(`the lease table "${this.name}" does not exist (--no-create-table): create it (hash key leaseKey, a string) or let run create it`);
      }
      try {
        await this.#client.send(
          new CreateTableCommand({
            TableName: this.name,
            AttributeDefinitions: [{ AttributeName: LEASE_TABLE_LAYOUT.hashKey, AttributeType: 'S' }],
            KeySchema: [{ AttributeName: LEASE_TABLE_LAYOUT.hashKey, KeyType: 'HASH' }],
            BillingMode: 'PAY_PER_REQUEST',
          }),
        );
        opts.log?.(`lease table "${this.name}" created (on-demand billing)`);
      } catch (err) {
        // Another worker creating it at the same time: wait for it like ours.
        if (awsErrorInfo(err).name !== 'ResourceInUseException') throw classifyDynamoError(err, `DynamoDB CreateTable "${this.name}"`, this.name);
      }
      status = await this.#status();
    }
    const end = Date.now() + this.#createTimeoutMs;
    while (status !== 'ACTIVE') {
      if (Date.now() > end) throw new ConfigError(`the lease table "${this.name}" is ${status ?? 'missing'}, not ACTIVE, after ${this.#createTimeoutMs / 1000} s`);
      await sleep(200, opts.signal);
      if (opts.signal?.aborted) return;
      status = await this.#status();
    }
  }

  /** The table's status (undefined: absent); a table keyed otherwise than leaseKey alone is refused. */
  async #status(): Promise<string | undefined> {
    let table: TableDescription | undefined;
    try {
      table = (await this.#client.send(new DescribeTableCommand({ TableName: this.name }))).Table;
    } catch (err) {
      if (awsErrorInfo(err).name === 'ResourceNotFoundException') return undefined;
      throw classifyDynamoError(err, `DynamoDB DescribeTable "${this.name}"`, this.name);
    }
    const keys = (table?.KeySchema ?? []).map((k) => `${k.AttributeName ?? '?'} (${k.KeyType === 'HASH' ? 'hash' : 'range'})`);
    if (keys.length > 0 && (keys.length !== 1 || keys[0] !== `${LEASE_TABLE_LAYOUT.hashKey} (hash)`)) {
      // Before any item is written: another application's table (or dasguard's rule state table) stays untouched.
      throw new ConfigError(`the lease table "${this.name}" is keyed by ${keys.join(' and ')}, not ${LEASE_TABLE_LAYOUT.hashKey} (hash) alone: is it another table (the rule state table, another application's)? Give run a table of its own`);
    }
    return table?.TableStatus ?? 'UNKNOWN';
  }

  /** Every lease (a consistent Scan, every page). */
  async scan(): Promise<Lease[]> {
    const out: Lease[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      let page;
      try {
        page = await this.#client.send(new ScanCommand({ TableName: this.name, ConsistentRead: true, ...(start ? { ExclusiveStartKey: start } : {}) }));
      } catch (err) {
        throw classifyDynamoError(err, `DynamoDB Scan of the lease table "${this.name}"`, this.name);
      }
      for (const item of page.Items ?? []) {
        const lease = fromItem(item);
        if (lease) out.push(lease);
      }
      start = page.LastEvaluatedKey;
    } while (start !== undefined);
    return out;
  }

  /** A new lease, nobody's; false when it exists already (another worker created it). */
  async create(lease: Pick<Lease, 'shardId' | 'checkpoint' | 'startedAt' | 'parents' | 'streamName'>): Promise<boolean> {
    const item: Record<string, AttributeValue> = {
      leaseKey: { S: lease.shardId },
      leaseCounter: { N: '0' },
      checkpoint: { S: lease.checkpoint },
      checkpointSubSequenceNumber: { N: '0' },
      ownerSwitchesSinceCheckpoint: { N: '0' },
    };
    if (lease.parents.length > 0) item.parentShardId = { SS: lease.parents };
    if (lease.startedAt !== undefined) item.startedAt = { S: lease.startedAt };
    if (lease.streamName !== undefined) item.streamName = { S: lease.streamName };
    try {
      await this.#client.send(new PutItemCommand({ TableName: this.name, Item: item, ConditionExpression: 'attribute_not_exists(leaseKey)' }));
      return true;
    } catch (err) {
      if (isConditionFailed(err)) return false;
      throw classifyDynamoError(err, `DynamoDB PutItem (lease of ${lease.shardId})`, this.name);
    }
  }

  /** Takes `lease` as last seen (same counter, same owner) for `me`: the lease as it is now, or 'lost'. */
  async take(lease: Lease, me: string): Promise<Conditional<Lease>> {
    const values: Record<string, AttributeValue> = { ':me': { S: me }, ':one': { N: '1' }, ':c': { N: String(lease.counter) } };
    let owned = 'attribute_not_exists(leaseOwner)';
    if (lease.owner !== null) {
      values[':owner'] = { S: lease.owner };
      owned = 'leaseOwner = :owner';
    }
    try {
      const out = await this.#client.send(
        new UpdateItemCommand({
          TableName: this.name,
          Key: { leaseKey: { S: lease.shardId } },
          UpdateExpression: 'SET leaseOwner = :me, leaseCounter = leaseCounter + :one, ownerSwitchesSinceCheckpoint = ownerSwitchesSinceCheckpoint + :one',
          ConditionExpression: `leaseCounter = :c AND ${owned}`,
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        }),
      );
      return (out.Attributes && fromItem(out.Attributes)) ?? 'lost';
    } catch (err) {
      if (isConditionFailed(err)) return 'lost';
      throw classifyDynamoError(err, `DynamoDB UpdateItem (taking the lease of ${lease.shardId})`, this.name);
    }
  }

  /** Moves the counter of a lease `me` holds at `counter`: the new counter, or 'lost'. */
  renew(shardId: string, me: string, counter: number): Promise<Conditional<number>> {
    return this.#update(shardId, me, counter, 'SET leaseCounter = leaseCounter + :one', {}, `renewing the lease of ${shardId}`);
  }

  /**
   * Writes a checkpoint of a lease `me` holds at `counter` (and the owner switches go back to 0). A finished shard's
   * checkpoint (SHARD_END) also releases the lease: nobody reads that shard again.
   */
  checkpoint(shardId: string, me: string, counter: number, cp: ShardCheckpoint): Promise<Conditional<number>> {
    const values: Record<string, AttributeValue> = { ':zero': { N: '0' }, ':now': { S: new Date().toISOString() } };
    const set = ['leaseCounter = leaseCounter + :one', 'checkpointSubSequenceNumber = :zero', 'ownerSwitchesSinceCheckpoint = :zero', 'updatedAt = :now', 'checkpoint = :cp'];
    const remove: string[] = [];
    if (cp.finished) {
      values[':cp'] = { S: Sentinel.shardEnd };
      remove.push('leaseOwner', 'startedAt');
    } else if (cp.sequenceNumber !== undefined) {
      values[':cp'] = { S: cp.sequenceNumber };
      remove.push('startedAt');
    } else if (cp.startedAt !== undefined) {
      values[':cp'] = { S: Sentinel.atTimestamp };
      values[':t'] = { S: cp.startedAt };
      set.push('startedAt = :t');
    } else {
      throw new Error(`LeaseTable.checkpoint: a checkpoint of ${shardId} with no position`);
    }
    const expr = `SET ${set.join(', ')}${remove.length > 0 ? ` REMOVE ${remove.join(', ')}` : ''}`;
    return this.#update(shardId, me, counter, expr, values, `checkpointing ${shardId}`);
  }

  /** Deletes the lease of a shard read to its end (SHARD_END); false when it is not that any more, or gone. */
  async deleteFinished(shardId: string): Promise<boolean> {
    try {
      await this.#client.send(
        new DeleteItemCommand({
          TableName: this.name,
          Key: { leaseKey: { S: shardId } },
          ConditionExpression: 'checkpoint = :end',
          ExpressionAttributeValues: { ':end': { S: Sentinel.shardEnd } },
        }),
      );
      return true;
    } catch (err) {
      if (isConditionFailed(err)) return false;
      throw classifyDynamoError(err, `DynamoDB DeleteItem (lease of ${shardId})`, this.name);
    }
  }

  /** Gives up a lease `me` holds at `counter`: nobody's, for another worker to take at once. */
  release(shardId: string, me: string, counter: number): Promise<Conditional<number>> {
    return this.#update(shardId, me, counter, 'SET leaseCounter = leaseCounter + :one REMOVE leaseOwner', {}, `releasing the lease of ${shardId}`);
  }

  async #update(shardId: string, me: string, counter: number, expr: string, values: Record<string, AttributeValue>, what: string): Promise<Conditional<number>> {
    try {
      const out = await this.#client.send(
        new UpdateItemCommand({
          TableName: this.name,
          Key: { leaseKey: { S: shardId } },
          UpdateExpression: expr,
          ConditionExpression: 'leaseOwner = :me AND leaseCounter = :c',
          ExpressionAttributeValues: { ...values, ':me': { S: me }, ':c': { N: String(counter) }, ':one': { N: '1' } },
          ReturnValues: 'UPDATED_NEW',
        }),
      );
      const n = Number(out.Attributes?.leaseCounter?.N);
      return Number.isFinite(n) ? n : counter + 1;
    } catch (err) {
      if (isConditionFailed(err)) return 'lost';
      throw classifyDynamoError(err, `DynamoDB UpdateItem (${what})`, this.name);
    }
  }
}

/** An item as a Lease; undefined when it is not one (no leaseKey): left alone. */
export function fromItem(item: Record<string, AttributeValue>): Lease | undefined {
  const key = item.leaseKey?.S;
  if (key === undefined) return undefined;
  const lease: Lease = {
    shardId: key,
    owner: item.leaseOwner?.S ?? null,
    counter: Number(item.leaseCounter?.N ?? '0'),
    checkpoint: item.checkpoint?.S ?? Sentinel.trimHorizon,
    parents: item.parentShardId?.SS ?? [],
    ownerSwitches: Number(item.ownerSwitchesSinceCheckpoint?.N ?? '0'),
  };
  if (item.startedAt?.S !== undefined) lease.startedAt = item.startedAt.S;
  if (item.streamName?.S !== undefined) lease.streamName = item.streamName.S;
  if (item.updatedAt?.S !== undefined) lease.updatedAt = item.updatedAt.S;
  return lease;
}
