/**
 * Correlation state shared in DynamoDB (docs/rules.md "Shared state"), on dynalite with the real SDK client configured
 * the standard way (AWS_ENDPOINT_URL_DYNAMODB): the store's contract (the same suite as the in-memory adapter), the
 * table created when absent, the Lambda handler with DASGUARD_STATE_TABLE giving replay's alerts for the samples,
 * and a brute force whose failed logins arrive on two shards, handled by two handlers (two processes: each its own
 * client and correlator), firing once, with replay's alert.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { DescribeTableCommand, DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { ConfigError } from '../../src/errors.js';
import { createEnvHandler, createHandler, type KinesisStreamRecord } from '../../src/lambda.js';
import type { Alert } from '../../src/pipeline/alert.js';
import { DynamoRuleState, TTL_ATTRIBUTE } from '../../src/pipeline/DynamoRuleState.js';
import { MemoryRuleState, itemId, type SharedRuleState } from '../../src/pipeline/SharedRuleState.js';
import type { RuleSet } from '../../src/rules/index.js';
import { MYSQL, PG } from '../../scripts/sampleData.js';
import { jsonLines } from '../support/cli.js';
import { startDynalite, dynamoEnv, type Dynalite } from '../support/dynamodb.js';
import { burst, correlationAlerts, correlationSummary, EACH_FAILURE, failedLoginRecords, packAndEachFailure, replayAlerts } from '../support/failedLogins.js';
import { kinesisRecord } from '../support/lambdaEvent.js';
import { KEY_FILE, STREAM, demoKeys, ruleSetFrom } from '../support/kinesis.js';

let db: Dynalite;
const savedEnv: Record<string, string | undefined> = {};
let tables = 0;
/** A table name no other test uses. */
const freshTable = () => `dasguard-state-test-${++tables}`;

before(async () => {
  db = await startDynalite();
  for (const [k, v] of Object.entries(dynamoEnv(db.url))) {
    savedEnv[k] = process.env[k];
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});
after(async () => {
  for (const [k, v] of Object.entries(savedEnv)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  await db.close();
});

const open = async (table: string) => (await DynamoRuleState.open({ table })).state;

describe('the shared rule state contract', () => {
  const adapters: [string, () => Promise<SharedRuleState>][] = [
    ['in memory', async () => new MemoryRuleState()],
    ['DynamoDB', () => open(freshTable())],
  ];
  for (const [name, make] of adapters) {
    it(`${name}: versioned items, each written only while its version is the one read; a first_seen rule's group and learning period in order, other groups independently`, async () => {
      const s = await make();
      const a = { rule: 'brute-force#0123456789abcdef', key: 'g["203.0.113.9"]' };
      const b = { rule: 'new-host#fedcba9876543210', key: 'l' };
      assert.equal((await s.read([a, b])).size, 0, 'nothing at first');
      assert.equal(await s.write([{ at: a, expected: 0, value: { entries: [{ t: 1, v: null, used: false }], maxT: 1 } }]), true);
      let held = await s.read([a, b]);
      assert.deepEqual(held.get(itemId(a)), { version: 1, value: { entries: [{ t: 1, v: null, used: false }], maxT: 1 } });
      assert.equal(await s.write([{ at: a, expected: 0, value: { stale: true } }]), false, 'created meanwhile by another');
      assert.equal(await s.write([{ at: a, expected: 1, value: { n: 2 } }, { at: b, expected: 0, value: { start: 5 } }]), true);
      // A first_seen rule's group and learning period are one chain: a stale group stops its learning period too.
      const g = { rule: b.rule, key: 'g["alice","10.0.0.1"]' };
      assert.equal(await s.write([{ at: g, expected: 1, value: { stale: true } }, { at: b, expected: 1, value: { start: 6 } }]), false);
      held = await s.read([g, b]);
      assert.equal(held.get(itemId(g)), undefined);
      assert.deepEqual(held.get(itemId(b)), { version: 1, value: { start: 5 } });
      // Any other group is independent: written though another's conflict (the record applied again finds it
      // already holding its events), in another rule or the same one.
      const a2 = { rule: a.rule, key: 'g["198.51.100.7"]' };
      assert.equal(await s.write([{ at: a, expected: 1, value: { n: 3 } }, { at: a2, expected: 0, value: { n: 1 } }, { at: b, expected: 1, value: { start: 6 } }]), false);
      held = await s.read([a, a2, b]);
      assert.deepEqual(held.get(itemId(a)), { version: 2, value: { n: 2 } });
      assert.deepEqual(held.get(itemId(a2)), { version: 1, value: { n: 1 } });
      assert.deepEqual(held.get(itemId(b)), { version: 2, value: { start: 6 } });
    });
  }

  it('DynamoDB: the table is created when absent (pk, sk, on-demand); an expiry is the TTL attribute in epoch seconds', async () => {
    const table = freshTable();
    const { state, notes } = await DynamoRuleState.open({ table });
    assert.match(notes[0]!, new RegExp(`^created the rule state table ${table} \\(on-demand`));
    // dynalite has no UpdateTimeToLive: the note says what is left to do, and the rest works.
    assert.match(notes.join('\n'), new RegExp(`TTL could not be turned on .*enabled on the attribute ${TTL_ATTRIBUTE}|TTL on ${TTL_ATTRIBUTE}`));
    const client = new DynamoDBClient({});
    const t = (await client.send(new DescribeTableCommand({ TableName: table }))).Table!;
    assert.deepEqual(t.KeySchema, [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }]);
    assert.equal(t.BillingModeSummary?.BillingMode, 'PAY_PER_REQUEST');
    const at = { rule: 'r#00', key: 'g[]' };
    assert.equal(await state.write([{ at, expected: 0, value: {}, expiresAtMs: 1_800_000_000_500 }]), true);
    const item = (await client.send(new GetItemCommand({ TableName: table, Key: { pk: { S: at.rule }, sk: { S: at.key } } }))).Item!;
    assert.equal(item[TTL_ATTRIBUTE]?.N, '1800000001');
    assert.deepEqual((await DynamoRuleState.open({ table })).notes, [], 'an existing table is used as it is');
  });

  it('DynamoDB: told not to create it, a missing table is a ConfigError naming it', async () => {
    await assert.rejects(DynamoRuleState.open({ table: 'no-such-table', create: false }), (err: unknown) => err instanceof ConfigError && /the rule state table no-such-table does not exist/.test((err as Error).message));
  });
});

describe('the Lambda handler with a state table (DASGUARD_STATE_TABLE)', () => {
  const PG_STREAM = `samples/streams/aws-rds-das-${PG.clusterId}.jsonl`;
  const MY_STREAM = `samples/streams/aws-rds-das-${MYSQL.clusterId}.jsonl`;
  const withoutSource = (alerts: readonly Record<string, unknown>[]) => alerts.map(({ source: _s, ...rest }) => rest);

  it('gives the alerts replay gives for the samples, correlation ones included, with the same ids', async () => {
    for (const [file, golden] of [[PG_STREAM, 'postgresql'], [MY_STREAM, 'mysql']] as const) {
      const table = freshTable();
      const chunks: Buffer[] = [];
      const stdout = new PassThrough().on('data', (c: Buffer) => chunks.push(c));
      const logs: Buffer[] = [];
      const logOut = new PassThrough().on('data', (c: Buffer) => logs.push(c));
      const h = createEnvHandler({ env: { DASGUARD_RULES: 'rules', DASGUARD_KEY_FILE: KEY_FILE, DASGUARD_STATE_TABLE: table }, stdout, logOut });
      const lines = jsonLines(await readFile(file, 'utf8')) as unknown as { StreamName: string; ShardId: string; SequenceNumber: string; Data: string }[];
      const records = lines.map((l) => kinesisRecord(l.StreamName, l.ShardId, l.SequenceNumber, l.Data));
      // Two invocations: the windows carry over through the table.
      const half = Math.floor(records.length / 2);
      assert.deepEqual(await h({ Records: records.slice(0, half) }), { batchItemFailures: [] });
      assert.deepEqual(await h({ Records: records.slice(half) }), { batchItemFailures: [] });
      const expected = jsonLines(await readFile(`samples/expected/${golden}-alerts.jsonl`, 'utf8'));
      assert.deepEqual(withoutSource(jsonLines(Buffer.concat(chunks).toString('utf8'))), withoutSource(expected), file);
      const init = jsonLines(Buffer.concat(logs).toString('utf8')).find((l) => l.msg === 'init');
      assert.equal(init?.stateTable, table);
      await h.close();
    }
  });
});

describe('a threshold whose events arrive on two shards, in two processes sharing the table', () => {
  const RULES = packAndEachFailure();
  let rules: RuleSet;
  let data: Uint8Array[];
  let shards: [KinesisStreamRecord[], KinesisStreamRecord[]];
  before(async () => {
    rules = await ruleSetFrom(RULES);
    // 12 failed logins from one host, 2 s apart (brute-force: 10 within 1 min), alternating between two shards.
    data = await failedLoginRecords(burst('203.0.113.50', 12, { every: 2 }));
    shards = [[], []];
    data.forEach((d, i) => shards[i % 2]!.push(kinesisRecord(STREAM, `shardId-00000000000${i % 2}`, String(49650000000000000000000000000000000000000000000000000000n + BigInt(i)), Buffer.from(d).toString('base64'))));
  });

  /** One process: a handler with its own client and correlator on the table, and what it alerted. */
  async function process(table: string) {
    const alerts: Alert[] = [];
    const sharedState = await open(table);
    const h = createHandler({ rules, keys: demoKeys(), sharedState, handoff: { handOff: async (a) => void alerts.push(...a), close: async () => undefined }, log: () => undefined });
    return { alerts, invoke: async (rs: KinesisStreamRecord[]) => assert.deepEqual(await h({ Records: rs }), { batchItemFailures: [] }) };
  }
  const bruteForce = (alerts: readonly Alert[]) => correlationAlerts(alerts).filter((a) => a.ruleId === 'brute-force');

  it('batches of each shard in turn: fires once, in one of them, with the alert replay gives for the records in that order', async () => {
    const table = freshTable();
    const a = await process(table);
    const b = await process(table);
    const handled: Uint8Array[] = [];
    for (let i = 0; i < 6; i += 2) {
      await a.invoke(shards[0].slice(i, i + 2));
      await b.invoke(shards[1].slice(i, i + 2));
      handled.push(data[2 * i]!, data[2 * i + 2]!, data[2 * i + 1]!, data[2 * i + 3]!);
    }
    // The tenth failure handled is the 11th of the burst (20 s): the alert replay of that order gives.
    const expected = bruteForce(await replayAlerts(handled, RULES));
    assert.equal(expected.length, 1);
    assert.equal(expected[0]!.time, '2026-10-14T09:00:20.000Z');
    const fired = bruteForce([...a.alerts, ...b.alerts]);
    assert.deepEqual(fired.map(correlationSummary), expected.map(correlationSummary));
    assert.equal([...a.alerts, ...b.alerts].filter((x) => x.ruleId === EACH_FAILURE).length, 12, 'every failure evaluated');
  });

  it('both shards at once (the writes race): fires once, counting both shards\' failures', async () => {
    const table = freshTable();
    const a = await process(table);
    const b = await process(table);
    const feed = async (p: Awaited<ReturnType<typeof process>>, rs: KinesisStreamRecord[]) => {
      for (const r of rs) await p.invoke([r]);
    };
    await Promise.all([feed(a, shards[0]), feed(b, shards[1])]);
    const fired = bruteForce([...a.alerts, ...b.alerts]);
    assert.equal(fired.length, 1, 'once, whichever process saw the tenth failure');
    assert.equal((fired[0]!.event as { correlation: { events: number } }).correlation.events, 10);
  });
});
