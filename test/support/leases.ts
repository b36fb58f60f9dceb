/**
 * DynamoDB for the lease tests: dynalite (test/support/dynamodb.ts), a real @aws-sdk/client-dynamodb in front of it,
 * and a reader of the lease table as a user sees it. Loopback only.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { LeaseTable, type Lease } from '../../src/consumer/dynamo/LeaseTable.js';
import { FAKE_CREDENTIALS, REGION } from './kinesis.js';

export { startDynalite, type Dynalite } from './dynamodb.js';

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
