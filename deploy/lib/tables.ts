/**
 * The DynamoDB tables of dasguard, their keys and the actions dasguard calls on them: one place, shared by the
 * Lambda stack and the `run` stack (and by the tests that check both).
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, Table } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';

/**
 * Shared rule state (correlation windows, suppression; `DASGUARD_STATE_TABLE` for the Lambda, `--state-table` for
 * `run`): one item per rule (hash key `pk`) and group key (range key `sk`), the layout src/pipeline/DynamoRuleState.ts
 * checks when it opens the table; items expire through DynamoDB TTL on `expiresAt` (epoch seconds). dasguard reads
 * with BatchGetItem and writes with conditional PutItem only. The stack creates the table, so neither `run` nor the
 * Lambda needs dynamodb:CreateTable or UpdateTimeToLive.
 */
export const STATE_TABLE = {
  partitionKey: 'pk',
  sortKey: 'sk',
  ttlAttribute: 'expiresAt',
  actions: ['dynamodb:DescribeTable', 'dynamodb:BatchGetItem', 'dynamodb:PutItem'],
} as const;

/**
 * `run --coordination dynamodb --lease-table NAME`: one item per shard, KCL's layout (hash key `leaseKey`, the shard
 * id; leaseOwner, leaseCounter, checkpoint...). The stack creates the table, so `run` needs no dynamodb:CreateTable.
 */
export const LEASE_TABLE = {
  partitionKey: 'leaseKey',
  // src/consumer/dynamo/LeaseTable.ts: a consistent Scan lists the leases, conditional Put / Update / Delete change them.
  actions: ['dynamodb:DescribeTable', 'dynamodb:Scan', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'],
} as const;

/** The rule-state table: pk + sk strings, on demand, TTL on expiresAt, kept when the stack is deleted. */
export function stateTable(scope: Construct, id: string): Table {
  return new Table(scope, id, {
    partitionKey: { name: STATE_TABLE.partitionKey, type: AttributeType.STRING },
    sortKey: { name: STATE_TABLE.sortKey, type: AttributeType.STRING },
    timeToLiveAttribute: STATE_TABLE.ttlAttribute,
    billingMode: BillingMode.PAY_PER_REQUEST,
    removalPolicy: RemovalPolicy.RETAIN,
  });
}

/** The lease table: on demand, point-in-time recovery (it holds the checkpoints), kept when the stack is deleted. */
export function leaseTable(scope: Construct, id: string): Table {
  return new Table(scope, id, {
    partitionKey: { name: LEASE_TABLE.partitionKey, type: AttributeType.STRING },
    billingMode: BillingMode.PAY_PER_REQUEST,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    removalPolicy: RemovalPolicy.RETAIN,
  });
}

/** dasguard's actions on one table, on that table only (no index: dasguard queries none). */
export function tableStatement(sid: string, table: Table, actions: readonly string[]): PolicyStatement {
  return new PolicyStatement({ sid, actions: [...actions], resources: [table.tableArn] });
}
