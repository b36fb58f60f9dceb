/**
 * The keys of dasguard's two DynamoDB tables, in one dependency-free place: the code that creates and checks them
 * (src/consumer/dynamo/LeaseTable.ts, src/pipeline/DynamoRuleState.ts) and the deploy/ stacks' tests, which assert
 * that the tables the stacks make are the ones dasguard opens.
 */

/** The rule state table (`--state-table`, DASGUARD_STATE_TABLE): one item per rule (hash) and item key (range). */
export const STATE_TABLE_LAYOUT = { hashKey: 'pk', rangeKey: 'sk', ttlAttribute: 'expiresAt' } as const;

/** The lease table (`--lease-table`): KCL's layout, one item per shard, keyed by the shard id. */
export const LEASE_TABLE_LAYOUT = { hashKey: 'leaseKey' } as const;
