/**
 * How `run` keeps its checkpoints and shares its shards (src/commands/run.ts), decided in one place: the flags
 * (--coordination, --lease-table, --lease-duration, --no-create-table, --worker-id) over dasguard.yaml's
 * `coordination:` over the defaults.
 *  - file (the default): one process per stream; checkpoints in files (FileCheckpointStore), the directory locked.
 *  - dynamodb: leases and checkpoints in a DynamoDB lease table (src/consumer/dynamo/); any number of `run`s on the
 *    stream share its shards.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { createDynamoDbClient } from '../aws/dynamodb.js';
import type { CoordinationConfig } from '../delivery/config.js';
import { UsageError } from '../errors.js';
import type { CheckpointStore } from '../consumer/CheckpointStore.js';
import { FileCheckpointStore } from '../consumer/FileCheckpointStore.js';
import { DynamoCheckpointStore } from '../consumer/dynamo/DynamoCheckpointStore.js';
import { DEFAULT_LEASE_DURATION_MS, LeaseCoordinator } from '../consumer/dynamo/LeaseCoordinator.js';
import { LeaseTable } from '../consumer/dynamo/LeaseTable.js';
import type { ShardLeases } from '../consumer/ShardLeases.js';
import type { ConsumerLogEntry } from '../consumer/types.js';
import { layered } from '../config/layers.js';

export const COORDINATIONS = ['file', 'dynamodb'] as const;
export type CoordinationType = (typeof COORDINATIONS)[number];

/** The coordination flags of `run` (each absent when not given). */
export interface CoordinationFlags {
  coordination?: CoordinationType;
  leaseTable?: string;
  leaseDurationMs?: number;
  /** --no-create-table: false. */
  createTable?: boolean;
  workerId?: string;
}

export type Coordination =
  | { type: 'file'; checkpointDir: string }
  | { type: 'dynamodb'; leaseTable: string; leaseDurationMs: number; createTable: boolean; workerId: string };

/** The flags over the file's `coordination:`; UsageError when dynamodb has no table, or lease flags come without it. */
export function resolveCoordination(flags: CoordinationFlags, file: CoordinationConfig | undefined, checkpointDir: string): Coordination {
  const type = layered({ flag: flags.coordination, file: file?.type }, 'file' as CoordinationType).value;
  if (type === 'file') {
    const stray = (['leaseTable', 'leaseDurationMs', 'createTable', 'workerId'] as const).find((k) => flags[k] !== undefined);
    if (stray !== undefined) throw new UsageError(`${FLAG_OF[stray]} needs --coordination dynamodb (or coordination: {type: dynamodb} in dasguard.yaml)`);
    return { type, checkpointDir };
  }
  const leaseTable = layered({ flag: flags.leaseTable, file: file?.leaseTable }, undefined as string | undefined).value;
  if (leaseTable === undefined) throw new UsageError('--coordination dynamodb needs --lease-table NAME (or coordination.leaseTable in dasguard.yaml)');
  if (!/^[A-Za-z0-9_.-]{3,255}$/.test(leaseTable)) throw new UsageError(`--lease-table must be a DynamoDB table name (3 to 255 letters, digits, _ . -); got "${leaseTable}"`);
  return {
    type,
    leaseTable,
    leaseDurationMs: layered({ flag: flags.leaseDurationMs, file: file?.leaseDurationMs }, DEFAULT_LEASE_DURATION_MS).value,
    createTable: layered({ flag: flags.createTable, file: file?.createTable }, true).value,
    workerId: flags.workerId ?? defaultWorkerId(),
  };
}

const FLAG_OF = { leaseTable: '--lease-table', leaseDurationMs: '--lease-duration', createTable: '--no-create-table', workerId: '--worker-id' } as const;

/** `host:pid:random`: unique per process, readable in the lease table. */
export function defaultWorkerId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
}

/** What the consumer is given: its checkpoint store, the leases (dynamodb), where the checkpoints are (for the log). */
export interface OpenCoordination {
  store: CheckpointStore;
  leases: ShardLeases | undefined;
  /** `the file …` or `DynamoDB table …`. */
  where: string;
  close(): Promise<void>;
}

/**
 * The file store, locked at once (a second `run` on the directory stops here, exit 2). Called before anything is
 * read, as the lock must be.
 */
export async function openFileCoordination(c: Extract<Coordination, { type: 'file' }>, log: (e: ConsumerLogEntry) => void): Promise<FileCheckpointStore> {
  return FileCheckpointStore.open(c.checkpointDir, { log: (msg) => log({ level: 'warn', msg }) });
}

/** The lease table's store and leases, for the stream; the table is created when absent (unless --no-create-table). */
export async function openDynamoCoordination(
  c: Extract<Coordination, { type: 'dynamodb' }>,
  streamName: string,
  log: (e: ConsumerLogEntry) => void,
  client?: DynamoDBClient,
): Promise<OpenCoordination> {
  const dynamo = client ?? createDynamoDbClient();
  const table = new LeaseTable({ client: dynamo, tableName: c.leaseTable });
  try {
    await table.ensure({ create: c.createTable, log: (msg) => log({ level: 'info', msg }) });
  } catch (err) {
    if (!client) dynamo.destroy();
    throw err;
  }
  const leases = new LeaseCoordinator({ table, streamName, workerId: c.workerId, leaseDurationMs: c.leaseDurationMs, createTable: c.createTable, log });
  const store = new DynamoCheckpointStore(table, leases);
  return {
    store,
    leases,
    where: store.location,
    close: async () => {
      await leases.close();
      if (!client) dynamo.destroy();
    },
  };
}
