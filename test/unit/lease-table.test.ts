/**
 * The lease table dasguard opens (src/consumer/dynamo/LeaseTable.ts), on dynalite: a table that exists but is keyed
 * otherwise (the rule state table given by mistake, another application's table) is refused before anything is
 * written to it, naming its keys; a table dasguard created is accepted again.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { CreateTableCommand, ScanCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LeaseTable } from '../../src/consumer/dynamo/LeaseTable.js';
import { DynamoRuleState } from '../../src/pipeline/DynamoRuleState.js';
import { ConfigError } from '../../src/errors.js';
import { dynamoClient, startDynalite, type Dynalite } from '../support/leases.js';

let dynalite: Dynalite;
let client: DynamoDBClient;
before(async () => {
  dynalite = await startDynalite();
  client = dynamoClient(dynalite.url);
});
after(async () => {
  client.destroy();
  await dynalite.close();
});

test('the rule state table given as the lease table: a ConfigError naming both keys, and no lease written into it', async () => {
  await DynamoRuleState.open({ table: 'shared-state', client });
  const table = new LeaseTable({ client, tableName: 'shared-state' });
  await assert.rejects(
    table.ensure({ create: true }),
    (err: unknown) => err instanceof ConfigError && /the lease table "shared-state" is keyed by pk \(hash\) and sk \(range\), not leaseKey \(hash\) alone/.test(err.message),
  );
  assert.equal((await client.send(new ScanCommand({ TableName: 'shared-state' }))).Count, 0);
});

test('a table keyed by another hash key is refused; one keyed by leaseKey, created by dasguard or by hand, is used', async () => {
  await client.send(
    new CreateTableCommand({
      TableName: 'other-app',
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  await assert.rejects(new LeaseTable({ client, tableName: 'other-app' }).ensure({ create: false }), /keyed by id \(hash\), not leaseKey/);
  await new LeaseTable({ client, tableName: 'leases' }).ensure({ create: true });
  await new LeaseTable({ client, tableName: 'leases' }).ensure({ create: false });
  assert.deepEqual(await new LeaseTable({ client, tableName: 'leases' }).scan(), []);
});
