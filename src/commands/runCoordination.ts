/**
 * How `run` keeps its checkpoints, shares its shards and keeps its correlation state (src/commands/run.ts), decided
 * in one place: the flags (--coordination, --lease-table, --lease-duration, --state-table, --no-create-table,
 * --worker-id) over dasguard.yaml's `coordination:` over the defaults.
 *  - file (the default): one process per stream; checkpoints in files (FileCheckpointStore), the directory locked.
 *  - dynamodb: leases and checkpoints in a DynamoDB lease table (src/consumer/dynamo/); any number of `run`s on the
 *    stream share its shards.
 *  - with a state table (either coordination): the correlation state in DynamoDB (DynamoRuleState), shared with every
 *    `run` and Lambda on it, instead of a file in --state-dir. Several `run`s with correlation rules need it: each
 *    holds some of the shards, and a threshold counts the events of all of them.
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
import { DynamoRuleState } from '../pipeline/DynamoRuleState.js';
import type { SharedRuleState } from '../pipeline/SharedRuleState.js';
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
  stateTable?: string;
}

/** The shared correlation state table, when there is one. */
export interface StateTable {
  table: string;
  /** Created when absent (false: --no-create-table). */
  create: boolean;
}

export type Coordination =
  | { type: 'file'; checkpointDir: string; stateTable?: StateTable }
  | { type: 'dynamodb'; leaseTable: string; leaseDurationMs: number; createTable: boolean; workerId: string; stateTable?: StateTable };

const TABLE_NAME = /^[A-Za-z0-9_.-]{3,255}$/;

/** The flags over the file's `coordination:`; UsageError when dynamodb has no table, or lease flags come without it. */
export function resolveCoordination(flags: CoordinationFlags, file: CoordinationConfig | undefined, checkpointDir: string): Coordination {
  const type = layered({ flag: flags.coordination, file: file?.type }, 'file' as CoordinationType).value;
  const stateTableName = layered({ flag: flags.stateTable, file: file?.stateTable }, undefined as string | undefined).value;
  if (stateTableName !== undefined && !TABLE_NAME.test(stateTableName)) throw new UsageError(`--state-table must be a DynamoDB table name (3 to 255 letters, digits, _ . -); got "${stateTableName}"`);
  const createTable = layered({ flag: flags.createTable, file: file?.createTable }, true).value;
  const stateTable = stateTableName !== undefined ? { stateTable: { table: stateTableName, create: createTable } } : {};
  if (type === 'file') {
    const stray = (['leaseTable', 'leaseDurationMs', 'workerId', ...(stateTableName === undefined ? ['createTable' as const] : [])] as const).find((k) => flags[k] !== undefined);
    if (stray !== undefined) throw new UsageError(`${FLAG_OF[stray]} needs --coordination dynamodb (or coordination: {type: dynamodb} in dasguard.yaml)${stray === 'createTable' ? ' or --state-table' : ''}`);
    return { type, checkpointDir, ...stateTable };
  }
  const leaseTable = layered({ flag: flags.leaseTable, file: file?.leaseTable }, undefined as string | undefined).value;
  if (leaseTable === undefined) throw new UsageError('--coordination dynamodb needs --lease-table NAME (or coordination.leaseTable in dasguard.yaml)');
  if (!TABLE_NAME.test(leaseTable)) throw new UsageError(`--lease-table must be a DynamoDB table name (3 to 255 letters, digits, _ . -); got "${leaseTable}"`);
  if (leaseTable === stateTableName) throw new UsageError(`--lease-table and --state-table must be two tables (their items have different keys); both are "${leaseTable}"`);
  return {
    type,
    leaseTable,
    leaseDurationMs: layered({ flag: flags.leaseDurationMs, file: file?.leaseDurationMs }, DEFAULT_LEASE_DURATION_MS).value,
    createTable,
    workerId: flags.workerId ?? defaultWorkerId(),
    ...stateTable,
  };
}

const FLAG_OF = { leaseTable: '--lease-table', leaseDurationMs: '--lease-duration', createTable: '--no-create-table', workerId: '--worker-id' } as const;

/** `host:pid:random`: unique per process, readable in the lease table. */
export function defaultWorkerId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
}

/** What the consumer is given for one stream: its checkpoint store, the leases (dynamodb), where the checkpoints are. */
export interface StreamCoordination {
  store: CheckpointStore;
  leases: ShardLeases | undefined;
  /** The checkpoint file, or `DynamoDB table …` (run's `watching` line). */
  where: string;
}

/** The coordination `run` opened; close() releases what it holds (the directory lock, the leases, the client). */
export interface OpenCoordination {
  readonly type: CoordinationType;
  /** The store and leases of the stream; for dynamodb the table is created when absent (unless --no-create-table). */
  forStream(streamName: string): Promise<StreamCoordination>;
  /** The shared correlation state (the table created when absent, unless --no-create-table); undefined without a state table. */
  sharedState(log: (e: ConsumerLogEntry) => void): Promise<SharedRuleState | undefined>;
  close(): Promise<void>;
}

/**
 * Opens the coordination. With files, the checkpoint directory is locked at once (a second `run` on it stops here,
 * exit 2): call it before anything is read, as the lock must be.
 */
export async function openCoordination(c: Coordination, log: (e: ConsumerLogEntry) => void, client?: DynamoDBClient): Promise<OpenCoordination> {
  // One DynamoDB client for both tables, made when first needed.
  let dynamo: DynamoDBClient | undefined;
  const dynamoClient = (): DynamoDBClient => (dynamo ??= client ?? createDynamoDbClient());
  const sharedState = async (log: (e: ConsumerLogEntry) => void): Promise<SharedRuleState | undefined> => {
    if (c.stateTable === undefined) return undefined;
    const { state, notes } = await DynamoRuleState.open({ table: c.stateTable.table, create: c.stateTable.create, client: dynamoClient() });
    for (const msg of notes) log({ level: msg.includes('could not') ? 'warn' : 'info', msg });
    log({ level: 'info', msg: `correlation state: ${state.name}, shared with every process using it` });
    return state;
  };
  const destroy = (): void => {
    if (!client) dynamo?.destroy();
  };
  if (c.type === 'file') {
    const store = await FileCheckpointStore.open(c.checkpointDir, { log: (msg) => log({ level: 'warn', msg }) });
    return {
      type: c.type,
      forStream: async (streamName) => ({ store, leases: undefined, where: store.fileFor(streamName) }),
      sharedState,
      close: async () => {
        await store.close();
        destroy();
      },
    };
  }
  let leases: LeaseCoordinator | undefined;
  return {
    type: c.type,
    sharedState,
    async forStream(streamName) {
      const dynamo = dynamoClient();
      const table = new LeaseTable({ client: dynamo, tableName: c.leaseTable });
      await table.ensure({ create: c.createTable, log: (msg) => log({ level: 'info', msg }) });
      leases = new LeaseCoordinator({ table, streamName, workerId: c.workerId, leaseDurationMs: c.leaseDurationMs, createTable: c.createTable, log });
      const store = new DynamoCheckpointStore(table, leases);
      return { store, leases, where: store.location };
    },
    async close() {
      await leases?.close();
      destroy();
    },
  };
}

// ---- The flags (run's declaration lists them: src/commands/run.ts).
import type { OptionTable } from './command.js';
import { durationOption } from './options.js';

export const COORDINATION_OPTIONS = {
  coordination: { type: 'string', label: '--coordination C', help: 'file (default: one process, checkpoints in --checkpoint-dir) or dynamodb: leases and checkpoints\nin a DynamoDB table, the shards shared by every run on the stream (docs/leases.md)' },
  'lease-table': { type: 'string', label: '--lease-table NAME', help: 'With --coordination dynamodb: the lease table, one per stream (created when absent)' },
  'lease-duration': { type: 'string', label: '--lease-duration D', help: "A lease not renewed for D (this worker's clock) is taken over (default 10s)" },
  'state-table': { type: 'string', label: '--state-table NAME', help: "Keep correlation rules' state in this DynamoDB table, shared with every run and Lambda\nusing it (created when absent: on-demand, TTL); default: a file in --state-dir" },
  'no-create-table': { type: 'boolean', label: '--no-create-table', help: 'Do not create the lease or state table: exit 2 when one does not exist' },
  'worker-id': { type: 'string', label: '--worker-id ID', help: 'This process in the lease table (default host:pid:random)' },
} as const satisfies OptionTable;

/** --coordination and the lease flags, checked (what they mean together: resolveCoordination). */
export function coordinationFlags(v: Record<string, string | boolean | string[] | undefined>): CoordinationFlags {
  const out: CoordinationFlags = {};
  const c = v.coordination;
  if (typeof c === 'string') {
    if (!(COORDINATIONS as readonly string[]).includes(c)) throw new UsageError(`--coordination must be one of ${COORDINATIONS.join(', ')}; got "${c}"`);
    out.coordination = c as CoordinationType;
  }
  if (typeof v['lease-table'] === 'string') out.leaseTable = v['lease-table'];
  if (typeof v['state-table'] === 'string') out.stateTable = v['state-table'];
  if (typeof v['lease-duration'] === 'string') {
    out.leaseDurationMs = durationOption('lease-duration', v['lease-duration']);
    if (out.leaseDurationMs < 300) throw new UsageError(`--lease-duration must be at least 300ms; got "${v['lease-duration']}"`);
  }
  if (v['no-create-table'] === true) out.createTable = false;
  if (typeof v['worker-id'] === 'string') {
    if (!/^[\x21-\x7e]{1,256}$/.test(v['worker-id'])) throw new UsageError('--worker-id must be 1 to 256 printable characters without spaces');
    out.workerId = v['worker-id'];
  }
  return out;
}
