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
  close(): Promise<void>;
}

/**
 * Opens the coordination. With files, the checkpoint directory is locked at once (a second `run` on it stops here,
 * exit 2): call it before anything is read, as the lock must be.
 */
export async function openCoordination(c: Coordination, log: (e: ConsumerLogEntry) => void, client?: DynamoDBClient): Promise<OpenCoordination> {
  if (c.type === 'file') {
    const store = await FileCheckpointStore.open(c.checkpointDir, { log: (msg) => log({ level: 'warn', msg }) });
    return { type: c.type, forStream: async (streamName) => ({ store, leases: undefined, where: store.fileFor(streamName) }), close: () => store.close() };
  }
  let dynamo: DynamoDBClient | undefined;
  let leases: LeaseCoordinator | undefined;
  return {
    type: c.type,
    async forStream(streamName) {
      dynamo = client ?? createDynamoDbClient();
      const table = new LeaseTable({ client: dynamo, tableName: c.leaseTable });
      await table.ensure({ create: c.createTable, log: (msg) => log({ level: 'info', msg }) });
      leases = new LeaseCoordinator({ table, streamName, workerId: c.workerId, leaseDurationMs: c.leaseDurationMs, createTable: c.createTable, log });
      const store = new DynamoCheckpointStore(table, leases);
      return { store, leases, where: store.location };
    },
    async close() {
      await leases?.close();
      if (!client) dynamo?.destroy();
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
  'no-create-table': { type: 'boolean', label: '--no-create-table', help: 'Do not create the lease table: exit 2 when it does not exist' },
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
