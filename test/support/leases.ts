/**
 * DynamoDB for the lease tests: dynalite (a DynamoDB implementation on LevelDB, in memory) in this process, the real
 * @aws-sdk/client-dynamodb in front of it, and a reader of the lease table as a user sees it. Loopback only.
 */
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { LeaseTable, type Lease } from '../../src/consumer/dynamo/LeaseTable.js';
import { FAKE_CREDENTIALS, REGION } from './kinesis.js';

const require = createRequire(import.meta.url);
type DynaliteServer = { listen(port: number, host: string, cb: () => void): void; close(cb: (err?: Error) => void): void; address(): AddressInfo };

export interface Dynalite {
  /** `http://127.0.0.1:PORT` */
  url: string;
  close(): Promise<void>;
}

/** dynalite in this process; tables become ACTIVE at once. */
export async function startDynalite(): Promise<Dynalite> {
  const dynalite = require('dynalite') as (opts: Record<string, unknown>) => DynaliteServer;
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}`;
  return { url, close: () => new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve()))) };
}

export function dynamoClient(url: string): DynamoDBClient {
  return new DynamoDBClient({ endpoint: url, region: REGION, credentials: FAKE_CREDENTIALS, requestHandler: new NodeHttpHandler() });
}

/** Every lease of a table, by shard id (none when the table does not exist yet). */
export async function leasesIn(client: DynamoDBClient, tableName: string): Promise<Map<string, Lease>> {
  try {
    return new Map((await new LeaseTable({ client, tableName }).scan()).map((l) => [l.shardId, l]));
  } catch (err) {
    if (/does not exist/.test(String(err))) return new Map();
    throw err;
  }
}

/** Owner -> the shards it holds (finished shards left out). */
export function byOwner(leases: Map<string, Lease>): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const l of [...leases.values()].sort((a, b) => (a.shardId < b.shardId ? -1 : 1))) {
    if (l.owner === null || l.checkpoint === 'SHARD_END') continue;
    out.set(l.owner, [...(out.get(l.owner) ?? []), l.shardId]);
  }
  return out;
}
