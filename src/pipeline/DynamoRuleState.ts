/**
 * The shared rule state (SharedRuleState.ts) in one DynamoDB table: `run --state-table NAME`, the Lambda's
 * DASGUARD_STATE_TABLE (docs/rules.md "Shared state"). One item per rule and item key:
 *   pk (S)        the rule id and its fingerprint (`brute-force#1a2b...`: a rule whose meaning changed starts afresh)
 *   sk (S)        the item key (src/rules/stateItems.ts: `g` and the group's values as JSON; `l` a learning period)
 *   v (N)         the version: 1 at the first write, one more at each; every write is conditional on the one read
 *   state (B)     the item's JSON, gzipped (it holds redacted events as alerts show them)
 *   expiresAt (N) epoch seconds after which DynamoDB's TTL may delete the item (absent: kept)
 * Reads are consistent (BatchGetItem, ConsistentRead), writes are conditional PutItems, one per item, the independent
 * chains concurrently (SharedRuleState.writeChains): a conflict stops its chain there (the earlier ones are written;
 * the record applied again finds its events in them: duplicates, counted once). `open` creates the table when it is absent (on-demand, TTL on expiresAt) unless told not to.
 * IAM: dynamodb:BatchGetItem, PutItem, DescribeTable (and CreateTable, UpdateTimeToLive to create it).
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import {
  BatchGetItemCommand,
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  PutItemCommand,
  UpdateTimeToLiveCommand,
  type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import { createDynamoDbClient } from '../aws/dynamodb.js';
import { STATE_TABLE_LAYOUT } from '../aws/dynamoTableLayouts.js';
import { awsErrorInfo, classifyAwsError } from '../aws/errors.js';
import { ConfigError, TransientError } from '../errors.js';
import { itemId, writeChains, type ItemKey, type ItemWrite, type SharedRuleState, type StoredItem } from './SharedRuleState.js';

/** The TTL attribute. */
export const TTL_ATTRIBUTE = STATE_TABLE_LAYOUT.ttlAttribute;
const { hashKey: HASH, rangeKey: RANGE } = STATE_TABLE_LAYOUT;
/** Keys per BatchGetItem (DynamoDB's limit). */
const BATCH_GET = 100;
/** An item's gzipped state above this cannot be written (DynamoDB items hold at most 400 KB). */
export const MAX_STATE_BYTES = 380 * 1024;
/** How long `open` waits for a table it created to become ACTIVE. */
const ACTIVE_WAIT_MS = 60_000;

export interface DynamoRuleStateOptions {
  table: string;
  /** Default: a client from the standard SDK configuration (region, credentials, AWS_ENDPOINT_URL_DYNAMODB). */
  client?: DynamoDBClient;
  /** Create the table when it is absent (default true). */
  create?: boolean;
}

export class DynamoRuleState implements SharedRuleState {
  readonly name: string;
  readonly #client: DynamoDBClient;
  readonly #table: string;

  private constructor(table: string, client: DynamoDBClient) {
    this.#table = table;
    this.#client = client;
    this.name = `the rule state table ${table}`;
  }

  /**
   * The table's store, the table created when absent (unless `create: false`: then a ConfigError). `notes`: what the
   * caller should log (the table created; TTL that could not be turned on).
   */
  static async open(o: DynamoRuleStateOptions): Promise<{ state: DynamoRuleState; notes: string[] }> {
    const client = o.client ?? createDynamoDbClient();
    const state = new DynamoRuleState(o.table, client);
    const notes = await state.#ensureTable(o.create ?? true);
    return { state, notes };
  }

  async #ensureTable(create: boolean): Promise<string[]> {
    const what = `DynamoDB DescribeTable for the rule state table "${this.#table}"`;
    try {
      const out = await this.#client.send(new DescribeTableCommand({ TableName: this.#table }));
      const keys = out.Table?.KeySchema ?? [];
      const hash = keys.find((k) => k.KeyType === 'HASH')?.AttributeName;
      const range = keys.find((k) => k.KeyType === 'RANGE')?.AttributeName;
      if (hash !== HASH || range !== RANGE) {
        throw new ConfigError(`the rule state table ${this.#table} has the key ${JSON.stringify([hash, range])}, not ${HASH} (hash) and ${RANGE} (range): is it another application's table?`);
      }
      return [];
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      if (awsErrorInfo(err).name !== 'ResourceNotFoundException') throw classifyAwsError(err, what, { configHint: 'the dynamodb:DescribeTable permission, region and table name' });
      if (!create) throw new ConfigError(`the rule state table ${this.#table} does not exist (in this region and account); create it, or let dasguard create it`, { cause: err });
    }
    return this.#createTable();
  }

  async #createTable(): Promise<string[]> {
    const table = this.#table;
    const hint = { configHint: 'the dynamodb:CreateTable and dynamodb:UpdateTimeToLive permissions, or create the table beforehand' };
    try {
      await this.#client.send(
        new CreateTableCommand({
          TableName: table,
          BillingMode: 'PAY_PER_REQUEST',
          AttributeDefinitions: [
            { AttributeName: HASH, AttributeType: 'S' },
            { AttributeName: RANGE, AttributeType: 'S' },
          ],
          KeySchema: [
            { AttributeName: HASH, KeyType: 'HASH' },
            { AttributeName: RANGE, KeyType: 'RANGE' },
          ],
        }),
      );
    } catch (err) {
      // Another process created it meanwhile: fine, it is waited for below.
      if (awsErrorInfo(err).name !== 'ResourceInUseException') throw classifyAwsError(err, `DynamoDB CreateTable "${table}"`, hint);
    }
    const deadline = Date.now() + ACTIVE_WAIT_MS;
    for (let wait = 50; ; wait = Math.min(wait * 2, 1_000)) {
      const out = await this.#client.send(new DescribeTableCommand({ TableName: table })).catch((err: unknown) => {
        throw classifyAwsError(err, `DynamoDB DescribeTable "${table}"`, hint);
      });
      if (out.Table?.TableStatus === 'ACTIVE') break;
      if (Date.now() > deadline) throw new TransientError(`the rule state table ${table} was created but is not ACTIVE after ${ACTIVE_WAIT_MS / 1000} s`);
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
    const notes = [`created the rule state table ${table} (on-demand)`];
    try {
      await this.#client.send(new UpdateTimeToLiveCommand({ TableName: table, TimeToLiveSpecification: { AttributeName: TTL_ATTRIBUTE, Enabled: true } }));
      notes[0] += `, TTL on ${TTL_ATTRIBUTE}`;
    } catch (err) {
      // Not fatal (the state is right without it; items only stay): said, with what to do.
      notes.push(`the rule state table ${table}: TTL could not be turned on (${awsErrorInfo(err).summary}): expired windows stay in the table until TTL is enabled on the attribute ${TTL_ATTRIBUTE}`);
    }
    return notes;
  }

  async read(keys: readonly ItemKey[]): Promise<Map<string, StoredItem>> {
    const out = new Map<string, StoredItem>();
    for (let i = 0; i < keys.length; i += BATCH_GET) {
      let pending: Record<string, AttributeValue>[] = keys.slice(i, i + BATCH_GET).map((k) => ({ pk: { S: k.rule }, sk: { S: k.key } }));
      for (let wait = 50; pending.length > 0; wait = Math.min(wait * 2, 2_000)) {
        let res;
        try {
          res = await this.#client.send(new BatchGetItemCommand({ RequestItems: { [this.#table]: { Keys: pending, ConsistentRead: true } } }));
        } catch (err) {
          throw this.#failed(err, 'BatchGetItem', 'dynamodb:BatchGetItem');
        }
        for (const item of res.Responses?.[this.#table] ?? []) {
          const at = { rule: item.pk?.S ?? '', key: item.sk?.S ?? '' };
          out.set(itemId(at), { version: Number(item.v?.N ?? '0'), value: this.#decode(at, item.state?.B) });
        }
        pending = res.UnprocessedKeys?.[this.#table]?.Keys ?? [];
        // Keys the table could not read now (throughput): asked again, after a pause.
        if (pending.length > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      }
    }
    return out;
  }

  async write(items: readonly ItemWrite[]): Promise<boolean> {
    // Every item encoded and checked before any is written: a state too large writes nothing.
    const encoded: { at: ItemKey; w: ItemWrite; item: Record<string, AttributeValue> }[] = [];
    for (const w of items) {
      const state = gzipSync(JSON.stringify(w.value));
      if (state.length > MAX_STATE_BYTES) {
        throw new Error(`${this.name}: the state of rule ${w.at.rule.replace(/#[0-9a-f]+$/, '')} for group ${w.at.key.slice(1)} is ${state.length} bytes gzipped, more than a DynamoDB item holds (${MAX_STATE_BYTES}): use a shorter window or a finer groupBy`);
      }
      const item: Record<string, AttributeValue> = { pk: { S: w.at.rule }, sk: { S: w.at.key }, v: { N: String(w.expected + 1) }, state: { B: state } };
      if (w.expiresAtMs !== undefined) item[TTL_ATTRIBUTE] = { N: String(Math.ceil(w.expiresAtMs / 1000)) };
      encoded.push({ at: w.at, w, item });
    }
    // The chains at once, each in order (SharedRuleState.writeChains): a record's writes take one round trip, or as
    // many as a first_seen rule's chain holds, not one per item.
    const settled = await Promise.allSettled(writeChains(encoded).map((chain) => this.#writeChain(chain)));
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    return settled.every((r) => r.status === 'fulfilled' && r.value);
  }

  /** One chain's items, in order, up to the first whose version changed meanwhile (false). */
  async #writeChain(chain: readonly { w: ItemWrite; item: Record<string, AttributeValue> }[]): Promise<boolean> {
    for (const { w, item } of chain) {
      try {
        await this.#client.send(
          new PutItemCommand({
            TableName: this.#table,
            Item: item,
            ...(w.expected === 0
              ? { ConditionExpression: 'attribute_not_exists(pk)' }
              : { ConditionExpression: 'v = :v', ExpressionAttributeValues: { ':v': { N: String(w.expected) } } }),
          }),
        );
      } catch (err) {
        if (awsErrorInfo(err).name === 'ConditionalCheckFailedException') return false;
        throw this.#failed(err, 'PutItem', 'dynamodb:PutItem');
      }
    }
    return true;
  }

  #failed(err: unknown, call: string, permission: string): Error {
    if (awsErrorInfo(err).name === 'ResourceNotFoundException') return new ConfigError(`${this.name} does not exist any more (${call})`, { cause: err });
    return classifyAwsError(err, `DynamoDB ${call} on ${this.name}`, { configHint: `the ${permission} permission, region and table name` });
  }

  #decode(at: ItemKey, state: Uint8Array | undefined): unknown {
    try {
      if (state === undefined) throw new Error('no state attribute');
      return JSON.parse(gunzipSync(state).toString('utf8')) as unknown;
    } catch (err) {
      throw new ConfigError(`${this.name}: the item ${JSON.stringify([at.rule, at.key])} cannot be read (${(err as Error).message}); delete it to start that group afresh`, { cause: err });
    }
  }
}
