/**
 * A MySQL statement whose MAIN and AUX events straddle two Kinesis records (encrypted, as a stream holds them), end to
 * end: `replay` of the file joins them (AUX first or MAIN first) into the alert a statement within one record gives,
 * same id, with its SQL, at any --concurrency, and counts nothing unjoined; `run`'s consumer (kinesalite) and the
 * Lambda join them within one GetRecords batch / one invocation with the same id, and a batch boundary between the
 * halves (two invocations) evaluates them unjoined, as docs/rules.md ("MySQL statements") says, counted in its
 * `batch` line.
 */
import { kinesisRecord } from '../support/lambdaEvent.js';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { encodeRecord } from '../../src/codec/encode.js';
import { FileCheckpointStore } from '../../src/consumer/FileCheckpointStore.js';
import { KinesisConsumer } from '../../src/consumer/KinesisConsumer.js';
import { LocalKeyProvider } from '../../src/keys/LocalKeyProvider.js';
import { createHandler, type KinesisStreamRecord } from '../../src/lambda.js';
import type { Alert } from '../../src/pipeline/alert.js';
import { loadRules, type RuleSet } from '../../src/rules/index.js';
import { MYSQL, MyTraffic, prng, type RawEvent } from '../../scripts/sampleData.js';
import { jsonLines, runCli } from '../support/cli.js';
import { RecordingHandoff, createStream, kinesisClient, putRecords, readToLatest, startKinesalite, tempDir, waitFor } from '../support/kinesis.js';

const KEY = 'samples/demo-master-key.json';
const keys = LocalKeyProvider.fromFile(KEY);
const STREAM = `aws-rds-das-${MYSQL.clusterId}`;
const SQL = 'SELECT number, holder FROM cards WHERE customer_id = 12';

let dir: string;
/** The events: a read of cards ([AUX, MAIN]), a read of orders before it, a statement after it. */
let read: RawEvent[];
let before_: RawEvent[];
let after_: RawEvent[];

interface Line { StreamName: string; ShardId: string; SequenceNumber: string; PartitionKey: string; ApproximateArrivalTimestamp: number; Data: string }

async function lines(records: RawEvent[][]): Promise<Line[]> {
  const out: Line[] = [];
  for (const [r, events] of records.entries()) {
    const data = await encodeRecord({ clusterId: MYSQL.clusterId, instanceId: MYSQL.instanceId, databaseActivityEventList: events }, { resourceId: MYSQL.clusterId, version: MYSQL.version, wrapper: keys });
    out.push({ StreamName: STREAM, ShardId: 'shardId-000000000000', SequenceNumber: String(1000 + r), PartitionKey: 'pk', ApproximateArrivalTimestamp: 1791968400.75, Data: Buffer.from(data).toString('base64') });
  }
  return out;
}

async function file(name: string, records: RawEvent[][]): Promise<string> {
  const f = join(dir, name);
  await writeFile(f, (await lines(records)).map((l) => JSON.stringify(l)).join('\n') + '\n');
  return f;
}

async function replay(f: string, ...extra: string[]): Promise<{ alerts: Alert[]; stderr: string }> {
  const r = await runCli(['replay', f, '--key-file', KEY, '--rules', 'rules', '--output', 'jsonl', ...extra]);
  assert.equal(r.code, 0, r.stderr);
  return { alerts: jsonLines(r.stdout) as unknown as Alert[], stderr: r.stderr };
}
const reads = (alerts: readonly Alert[]) => alerts.filter((a) => a.ruleId === 'sensitive-table-read');

const lambdaRecord = (l: Line): KinesisStreamRecord =>
  kinesisRecord(STREAM, 'shardId-000000000000', l.SequenceNumber, l.Data, { partitionKey: l.PartitionKey, arrival: l.ApproximateArrivalTimestamp });

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dasguard-myjoin-'));
  const traffic = new MyTraffic(Date.parse('2026-10-14T09:30:00.000Z'), prng(11));
  const s = traffic.session('shop_app', 'shop', '10.0.1.30', 2);
  before_ = traffic.statement(s, 'SELECT id, status FROM orders WHERE id = 86628', { objects: [{ name: 'orders', command: 'READ' }] });
  read = traffic.statement(s, SQL, { objects: [{ name: 'cards', command: 'READ' }] });
  after_ = traffic.statement(s, "UPDATE orders SET status = 'shipped' WHERE id = 86628", { objects: [{ name: 'orders', command: 'UPDATE' }] });
  assert.deepEqual(read.map((e) => e.class), ['AUX', 'MAIN']);
});
after(() => rm(dir, { recursive: true, force: true }));

describe('a MySQL statement straddling two records', () => {
  it('replay joins it, AUX first or MAIN first, into the alert of the statement within one record (same id, its SQL), at any concurrency', async () => {
    const whole = reads((await replay(await file('whole.jsonl', [[...before_, ...read], after_]), '--quiet')).alerts);
    assert.equal(whole.length, 1);
    const want = whole[0]!;
    assert.equal(want.message, 'shop_app read cards on shop from 10.0.1.30: SELECT number, holder FROM cards WHERE customer_id = ?');
    const auxFirst = await file('aux-first.jsonl', [[...before_, read[0]!], [read[1]!, ...after_]]);
    const mainFirst = await file('main-first.jsonl', [[...before_, read[1]!], [read[0]!, ...after_]]);
    for (const f of [auxFirst, mainFirst]) {
      for (const concurrency of ['1', '8']) {
        const { alerts, stderr } = await replay(f, '--concurrency', concurrency);
        const got = reads(alerts);
        assert.deepEqual(got.map((a) => [a.id, a.message, a.event.class]), [[want.id, want.message, 'MAIN']], `${f} --concurrency ${concurrency}`);
        assert.deepEqual(got[0]!.event.objects, [{ name: 'cards', command: 'READ', type: 'TABLE', database: 'shop' }]);
        assert.doesNotMatch(stderr, /MySQL statements/, 'nothing evaluated unjoined');
        assert.match(stderr, /2 records/);
      }
    }
    // Halves two records apart: each evaluated alone (the AUX part, without SQL), and the summary says so.
    const { alerts, stderr } = await replay(await file('apart.jsonl', [[...before_, read[1]!], after_, [read[0]!]]));
    assert.deepEqual(reads(alerts).map((a) => [a.event.class, a.message]), [['AUX', 'shop_app read cards on shop from 10.0.1.30: cards']]);
    assert.match(stderr, /MySQL statements: 2 MAIN or AUX parts evaluated without their other part/);
  });

  it('the Lambda joins it within one invocation (same id as replay); a batch boundary between the halves leaves them unjoined, counted', async () => {
    const fromReplay = reads((await replay(await file('lambda.jsonl', [[...before_, read[1]!], [read[0]!, ...after_]]), '--quiet')).alerts);
    const records = (await lines([[...before_, read[1]!], [read[0]!, ...after_]])).map(lambdaRecord);
    const rules = (await loadRules(['rules'])).ruleSet as RuleSet;
    const run = async (batches: KinesisStreamRecord[][]) => {
      const got: Alert[] = [];
      const logs: Record<string, unknown>[] = [];
      const h = createHandler({ rules, keys, handoff: { handOff: async (a) => void got.push(...a), close: async () => undefined }, log: (e) => void logs.push(e as Record<string, unknown>) });
      const failures = [];
      for (const b of batches) failures.push(...(await h({ Records: b })).batchItemFailures);
      assert.deepEqual(failures, []);
      return { got, batches: logs.filter((l) => l.msg === 'batch') };
    };
    const one = await run([records]);
    assert.deepEqual(reads(one.got).map((a) => a.id), fromReplay.map((a) => a.id));
    assert.deepEqual(one.batches.map((b) => [b.processed, b.mysqlUnjoined]), [[2, 0]]);

    const two = await run([records.slice(0, 1), records.slice(1)]);
    assert.deepEqual(reads(two.got).map((a) => [a.event.class, a.message]), [['AUX', 'shop_app read cards on shop from 10.0.1.30: cards']]);
    assert.deepEqual(two.batches.map((b) => [b.processed, b.mysqlUnjoined]), [[1, 1], [1, 1]]);
  });

  it("run's consumer reads the halves in one GetRecords batch and joins them: the ids replay gives", async () => {
    const records: RawEvent[][] = [[...before_, read[1]!], [read[0]!, ...after_]];
    const fromReplay = reads((await replay(await file('run.jsonl', records), '--quiet')).alerts);
    assert.equal(fromReplay[0]!.event.class, 'MAIN');
    const kinesalite = await startKinesalite();
    const client = kinesisClient(kinesalite.url);
    const checkpoints = new FileCheckpointStore(tempDir());
    try {
      await createStream(client, STREAM, 1);
      // Put before the consumer starts: its first GetRecords call returns both records.
      const puts = await putRecords(client, STREAM, (await lines(records)).map((l) => Buffer.from(l.Data, 'base64')), { spread: 1 });
      const handoff = new RecordingHandoff();
      const consumer = new KinesisConsumer({
        client, streamName: STREAM, resourceId: MYSQL.clusterId, deps: { keys, rules: (await loadRules(['rules'])).ruleSet as RuleSet },
        handoff, checkpoints, from: { type: 'trim-horizon' }, log: () => undefined, pollIntervalMs: 50, discoveryIntervalMs: 200, checkpointIntervalMs: 100,
      });
      const ac = new AbortController();
      const done = consumer.run(ac.signal);
      await waitFor(() => readToLatest(consumer.stats().shards, puts), 'the shard read to its last record');
      ac.abort();
      await done;
      assert.deepEqual(reads(handoff.alerts).map((a) => [a.id, a.message]), fromReplay.map((a) => [a.id, a.message]));
      assert.equal(consumer.stats().pipeline.mysqlUnjoined, 0);
    } finally {
      await checkpoints.close();
      client.destroy();
      await kinesalite.close();
    }
  });
});
