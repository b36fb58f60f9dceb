/**
 * The live consumer against kinesalite (a real Kinesis implementation) with the real SDK client: end to end,
 * resharding, throttling and 5xx through a fault proxy, transient and poison records, stop and resume.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import { ConfigError, DataKeyError, TransientError } from '../../src/errors.js';
import { plaintextEnvelope } from '../../src/codec/encode.js';
import { DATA_KEY_FAILURE_RULE } from '../../src/health/dataKeyFailure.js';
import { KmsKeyProvider } from '../../src/keys/KmsKeyProvider.js';
import { benchRecords, PG } from '../../scripts/sampleData.js';
import { startKmsServer } from '../support/kmsServer.js';
import { FileCheckpointStore } from '../../src/consumer/FileCheckpointStore.js';
import { KinesisConsumer, parseStartPosition, type KinesisConsumerOptions } from '../../src/consumer/KinesisConsumer.js';
import type { ConsumerLogEntry } from '../../src/consumer/types.js';
import type { KeyProvider } from '../../src/keys/KeyProvider.js';
import type { RuleSet } from '../../src/rules/index.js';
import type { BatchSummary } from '../../src/types.js';
import type { Alert } from '../../src/pipeline/alert.js';
import {
  FAKE_CREDENTIALS,
  REGION,
  RESOURCE_ID,
  RecordingHandoff,
  createStream,
  demoKeys,
  encryptedRecords,
  everyEventRules,
  kinesisClient,
  listShards,
  putRecords,
  replayAlertIds,
  ruleSetFrom,
  splitShard,
  startFaultProxy,
  startKinesalite,
  tempDir,
  readToLatest,
  waitFor,
  type Kinesalite,
} from '../support/kinesis.js';
import { MiB, deepEventRecord, gzipBombRecord } from '../support/poison.js';

let kinesalite: Kinesalite;
let client: KinesisClient;
let everyRules: string;
let rules: RuleSet;
let streamNo = 0;

before(async () => {
  kinesalite = await startKinesalite();
  client = kinesisClient(kinesalite.url);
  everyRules = everyEventRules();
  rules = await ruleSetFrom(['rules', everyRules]);
});

after(async () => {
  client.destroy();
  await kinesalite.close();
});

/** A fresh DAS-named stream per test (kinesalite keeps them all). */
async function newStream(shards: number): Promise<string> {
  const name = `aws-rds-das-${RESOURCE_ID}-t${++streamNo}`;
  await createStream(client, name, shards);
  return name;
}

interface Harness {
  consumer: KinesisConsumer;
  handoff: RecordingHandoff;
  logs: ConsumerLogEntry[];
  batches: { shardId: string | undefined; batch: BatchSummary }[];
  stop: () => Promise<void>;
  done: Promise<void>;
}

function startConsumer(stream: string, dir: string, extra: Partial<KinesisConsumerOptions> = {}): Harness {
  const handoff = new RecordingHandoff();
  const logs: ConsumerLogEntry[] = [];
  const batches: Harness['batches'] = [];
  // a store holds its directory's lock from its first write until closed (stop() closes it, as `run` does)
  const checkpoints = new FileCheckpointStore(dir);
  const consumer = new KinesisConsumer({
    client,
    streamName: stream,
    resourceId: RESOURCE_ID,
    deps: { keys: demoKeys(), rules },
    handoff,
    checkpoints,
    from: { type: 'trim-horizon' },
    observer: { onBatch: (batch, info) => batches.push({ shardId: info.shardId, batch }) },
    log: (e) => logs.push(e),
    pollIntervalMs: 50,
    discoveryIntervalMs: 200,
    checkpointIntervalMs: 100,
    baseDelayMs: 10,
    maxDelayMs: 100,
    ...extra,
  });
  const ac = new AbortController();
  const done = consumer.run(ac.signal);
  done.catch(() => undefined); // observed by the test that awaits it
  return {
    consumer,
    handoff,
    logs,
    batches,
    done,
    stop: async () => {
      ac.abort();
      try {
        await done;
      } finally {
        await checkpoints.close();
      }
    },
  };
}

function readCheckpoints(dir: string, stream: string): Record<string, { sequenceNumber?: string; finished?: boolean }> {
  return (JSON.parse(readFileSync(join(dir, `${stream}.json`), 'utf8')) as { shards: Record<string, { sequenceNumber?: string }> }).shards;
}

/** The last sequence number put to each shard. */
function lastPerShard(puts: { shardId: string; sequenceNumber: string }[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of puts) out[p.shardId] = p.sequenceNumber;
  return out;
}

describe('KinesisConsumer', () => {
  test('end to end on 2 shards: every record evaluated, the same alerts as replay, checkpoints at the last records', async () => {
    const stream = await newStream(2);
    const data = await encryptedRecords(60, 3, 11);
    const puts = await putRecords(client, stream, data);
    assert.equal(new Set(puts.map((p) => p.shardId)).size, 2, 'records land on both shards');
    const dir = tempDir();
    const h = startConsumer(stream, dir);
    await waitFor(() => h.consumer.stats().pipeline.records === data.length, 'all records');
    await h.stop();
    const expected = await replayAlertIds(data, ['rules', everyRules]);
    assert.ok(expected.length >= data.length * 3, 'the every-event rule fired for each event');
    assert.deepEqual(h.handoff.ids(), expected);
    assert.equal(h.consumer.stats().pipeline.events, data.length * 3);
    assert.equal(h.consumer.stats().pipeline.quarantined, 0);
    // Alerts name shard and sequence number; within a shard they come in sequence order.
    for (const shardId of new Set(puts.map((p) => p.shardId))) {
      const seqs = h.handoff.alerts.filter((a) => a.source.includes(shardId)).map((a) => BigInt(/sequence (\d+)/.exec(a.source)![1]!));
      assert.ok(seqs.length > 0);
      for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i]! >= seqs[i - 1]!, `shard ${shardId} in order`);
    }
    const cps = readCheckpoints(dir, stream);
    for (const [shardId, seq] of Object.entries(lastPerShard(puts))) assert.equal(cps[shardId]?.sequenceNumber, seq);
  });

  test('a restart resumes after the checkpoints: new records only', async () => {
    const stream = await newStream(2);
    const dir = tempDir();
    const first = await encryptedRecords(20, 2, 21);
    await putRecords(client, stream, first);
    const h1 = startConsumer(stream, dir);
    await waitFor(() => h1.consumer.stats().pipeline.records === first.length, 'first records');
    await h1.stop();
    const second = await encryptedRecords(10, 2, 22);
    const puts = await putRecords(client, stream, second);
    const h2 = startConsumer(stream, dir);
    // Read to the latest record of every shard: a re-read of old records would have come before.
    await waitFor(() => readToLatest(h2.consumer.stats().shards, puts), 'shards read to the latest record');
    await h2.stop();
    assert.equal(h2.consumer.stats().pipeline.records, second.length);
    assert.deepEqual(h2.handoff.ids(), await replayAlertIds(second, ['rules', everyRules]));
  });

  test('from latest: records put before the start are not read; a restart before any record still misses nothing', async () => {
    const stream = await newStream(1);
    const dir = tempDir();
    await putRecords(client, stream, await encryptedRecords(5, 1, 31), { spread: 1 });
    const h1 = startConsumer(stream, dir, { from: { type: 'latest' } });
    await waitFor(() => h1.logs.some((l) => l.msg === 'consumer started') && existsSync(join(dir, `${stream}.json`)), 'iterator taken');
    await h1.stop();
    // Put while the consumer is down, after it started from `latest`: the restart must read these.
    const later = await encryptedRecords(4, 1, 32);
    const puts = await putRecords(client, stream, later, { spread: 1 });
    const h2 = startConsumer(stream, dir, { from: { type: 'latest' } });
    await waitFor(() => readToLatest(h2.consumer.stats().shards, puts), 'the shard read to the latest record');
    await h2.stop();
    assert.equal(h1.consumer.stats().pipeline.records, 0);
    assert.equal(h2.consumer.stats().pipeline.records, later.length);
  });

  test('resharding: a split parent is read to its end before its children; every record processed', async () => {
    const stream = await newStream(1);
    const dir = tempDir();
    const before = await encryptedRecords(40, 2, 41);
    await putRecords(client, stream, before, { spread: 1 });
    const h = startConsumer(stream, dir);
    await waitFor(() => h.consumer.stats().pipeline.records >= 10, 'some records of the parent');
    const [parent] = await listShards(client, stream);
    await splitShard(client, stream, parent!.ShardId!);
    const afterSplit = await encryptedRecords(40, 2, 42);
    const puts = await putRecords(client, stream, afterSplit, { spread: 2 });
    const children = new Set(puts.map((p) => p.shardId));
    assert.equal(children.size, 2);
    assert.ok(!children.has(parent!.ShardId!));
    await waitFor(() => h.consumer.stats().pipeline.records === before.length + afterSplit.length, 'every record');
    await h.stop();
    assert.deepEqual(h.handoff.ids(), (await replayAlertIds([...before, ...afterSplit], ['rules', everyRules])));
    const order = h.batches.map((b) => b.shardId);
    const lastParent = order.lastIndexOf(parent!.ShardId!);
    const firstChild = order.findIndex((s) => s !== parent!.ShardId);
    assert.equal(lastParent, before.length - 1);
    assert.ok(firstChild > lastParent, 'no child record before the last parent record');
    const cps = readCheckpoints(dir, stream);
    assert.equal(cps[parent!.ShardId!]?.finished, true);
    for (const [shardId, seq] of Object.entries(lastPerShard(puts))) assert.equal(cps[shardId]?.sequenceNumber, seq);
  });

  test('throttling and 500s for a while: the consumer backs off, recovers and loses nothing', async () => {
    const stream = await newStream(2);
    const dir = tempDir();
    const data = await encryptedRecords(50, 2, 51);
    await putRecords(client, stream, data);
    const proxy = await startFaultProxy(kinesalite.url);
    proxy.fail(2, 'LimitExceededException', 400, 'ListShards');
    proxy.fail(3, 'InternalFailure', 500, 'GetShardIterator');
    proxy.fail(12, 'ProvisionedThroughputExceededException', 400, 'GetRecords');
    proxy.fail(8, 'InternalFailure', 500, 'GetRecords');
    const proxied = kinesisClient(proxy.url);
    try {
      const h = startConsumer(stream, dir, { client: proxied });
      await waitFor(() => h.consumer.stats().pipeline.records === data.length, 'all records through the faults');
      await h.stop();
      assert.equal(proxy.faultsServed, 25);
      assert.deepEqual(h.handoff.ids(), await replayAlertIds(data, ['rules', everyRules]));
      assert.ok(h.logs.some((l) => l.msg.includes('backing off')));
    } finally {
      proxied.destroy();
      await proxy.close();
    }
  });

  test('a transient processing failure (KMS throttling) is retried, never skipped; a poison record is quarantined and passed', async () => {
    const stream = await newStream(1);
    const dir = tempDir();
    const good = await encryptedRecords(10, 2, 61);
    const poison = new TextEncoder().encode('{"type":"DatabaseActivityMonitoringRecords","version":"1.1","key":"!!"}');
    const data = [...good.slice(0, 5), poison, ...good.slice(5)];
    const puts = await putRecords(client, stream, data, { spread: 1 });
    const real = demoKeys();
    let failures = 6;
    const flaky: KeyProvider = {
      async getDataKey(c, ctx) {
        if (failures > 0) {
          failures--;
          throw new TransientError('KMS Decrypt failed, worth retrying (ThrottlingException)');
        }
        return real.getDataKey(c, ctx);
      },
      stats: () => real.stats(),
    };
    const h = startConsumer(stream, dir, { deps: { keys: flaky, rules } });
    await waitFor(() => h.consumer.stats().pipeline.records === data.length, 'all records');
    await h.stop();
    assert.equal(failures, 0);
    assert.equal(h.consumer.stats().pipeline.quarantined, 1);
    const q = h.logs.find((l) => l.msg === 'quarantined');
    assert.equal(q?.sequenceNumber, puts[5]!.sequenceNumber);
    assert.equal(q?.shardId, puts[5]!.shardId);
    assert.deepEqual(h.handoff.ids(), await replayAlertIds(good, ['rules', everyRules]));
    assert.equal(readCheckpoints(dir, stream)[puts[0]!.shardId]?.sequenceNumber, puts.at(-1)!.sequenceNumber);
  });

  test('poison that crashed dasguard (an event 5,000 levels deep, a gzip bomb) is quarantined with its reason and passed; the checkpoint moves on', async () => {
    const stream = await newStream(1);
    const dir = tempDir();
    const good = await encryptedRecords(6, 2, 71);
    const deep = await deepEventRecord(5000, 3, 1);
    const data = [...good.slice(0, 3), deep, await gzipBombRecord(128 * MiB), ...good.slice(3)];
    const puts = await putRecords(client, stream, data, { spread: 1 });
    const h = startConsumer(stream, dir);
    await waitFor(() => h.consumer.stats().pipeline.records === data.length, 'all records');
    await h.stop();
    const q = h.logs.filter((l) => l.msg === 'quarantined');
    assert.deepEqual(
      q.map((l) => [l.sequenceNumber, l.reason, l.eventIndex]),
      [
        [puts[3]!.sequenceNumber, 'too-deep', 1],
        [puts[4]!.sequenceNumber, 'payload-too-large', undefined],
      ],
    );
    // The deep record's other two events are evaluated like any others.
    assert.deepEqual(h.handoff.ids(), await replayAlertIds([...good, deep], ['rules', everyRules]));
    assert.equal(readCheckpoints(dir, stream)[puts[0]!.shardId]?.sequenceNumber, puts.at(-1)!.sequenceNumber);
  });

  test('a handoff that fails transiently (a full outbox) is retried: the shard holds, nothing is skipped or handed off twice', async () => {
    const stream = await newStream(1);
    const dir = tempDir();
    const data = await encryptedRecords(6, 1, 63);
    await putRecords(client, stream, data, { spread: 1 });
    let failures = 4;
    const real = new RecordingHandoff();
    const handoff = {
      async handOff(alerts: readonly Alert[]) {
        if (failures > 0 && alerts.length > 0) {
          failures--;
          throw new TransientError('cannot write to the outbox directory /x: no space left on the device');
        }
        await real.handOff(alerts);
      },
      close: async () => undefined,
    };
    const h = startConsumer(stream, dir, { handoff });
    await waitFor(() => h.consumer.stats().pipeline.records === data.length, 'all records');
    await h.stop();
    assert.equal(failures, 0);
    assert.deepEqual(real.ids(), await replayAlertIds(data, ['rules', everyRules]));
    assert.ok(h.logs.some((l) => l.level === 'warn' && /handoff failed transiently: retrying/.test(l.msg)));
  });

  test('checkpointed state is persisted before the checkpoints are written; while it cannot be, no checkpoint moves', async () => {
    const stream = await newStream(1);
    const data = await encryptedRecords(4, 1, 64);
    await putRecords(client, stream, data, { spread: 1 });
    const dir = tempDir();
    const file = join(dir, `${stream}.json`);
    const seenAtPersist: boolean[] = [];
    const ok = startConsumer(stream, dir, { state: [{ persist: async () => void seenAtPersist.push(existsSync(file)) }] });
    await waitFor(() => ok.consumer.stats().pipeline.records === data.length, 'all records');
    await ok.stop();
    assert.equal(seenAtPersist[0], false, 'the first persist came before the first checkpoint write');

    const dir2 = tempDir();
    let persists = 0;
    const failing = startConsumer(stream, dir2, {
      state: [
        {
          persist: async () => {
            persists++;
            throw new TransientError('cannot write the suppression state: no space left on the device');
          },
        },
      ],
    });
    await waitFor(() => failing.consumer.stats().pipeline.records >= 1 && persists >= 2, 'records handed off and persists tried');
    await assert.rejects(failing.stop(), TransientError);
    assert.equal(existsSync(join(dir2, `${stream}.json`)), false, 'no checkpoint was written');
  });

  test('a data key refused before any has decrypted (wrong key policy) stops the consumer; the checkpoint stays before the record', async () => {
    const stream = await newStream(1);
    const dir = tempDir();
    // Plaintext records first: they prove nothing about the key.
    const plain = benchRecords(3, 1, 70).map((r) => new TextEncoder().encode(JSON.stringify(plaintextEnvelope(r, PG.version))));
    const data = [...plain, ...(await encryptedRecords(3, 1, 71))];
    const puts = await putRecords(client, stream, data, { spread: 1 });
    const real = demoKeys();
    const denied: KeyProvider = {
      async getDataKey() {
        throw new ConfigError('KMS Decrypt failed (AccessDeniedException): fix the permissions');
      },
      stats: () => real.stats(),
    };
    const h = startConsumer(stream, dir, { deps: { keys: denied, rules }, concurrency: 1 });
    await assert.rejects(h.done, (err: unknown) => err instanceof DataKeyError && err.problem === 'never-decrypted' && /AccessDenied/.test(err.message) && err.message.includes(puts[3]!.sequenceNumber));
    assert.equal(h.consumer.stats().pipeline.records, 3);
    assert.equal(readCheckpoints(dir, stream)[puts[0]!.shardId]?.sequenceNumber, puts[2]!.sequenceNumber);
    assert.ok(!h.handoff.alerts.some((a) => a.ruleId === DATA_KEY_FAILURE_RULE), 'a startup misconfiguration exits, it does not alert');
  });

  test('KMS starts refusing mid-stream (AccessDenied): a critical alert, the shard holds the record; KMS recovers: resolved, nothing skipped (also when the alarm hand-offs fail once)', async () => {
    const kms = await startKmsServer({ keys: demoKeys() });
    const keys = new KmsKeyProvider({ clientConfig: { endpoint: kms.url, region: REGION, credentials: FAKE_CREDENTIALS, maxAttempts: 1 } });
    try {
      const stream = await newStream(1);
      const dir = tempDir();
      const data = await encryptedRecords(6, 1, 81); // a data key per record: each one asks KMS
      const first = await putRecords(client, stream, data.slice(0, 3), { spread: 1 });
      const shardId = first[0]!.shardId;
      // Each hand-off of a data-key alert fails once (a full outbox): the alert must still arrive, once.
      const real = new RecordingHandoff();
      const failedOnce = new Set<string>();
      const handoff = {
        async handOff(alerts: readonly Alert[]) {
          const key = alerts.find((a) => a.ruleId === DATA_KEY_FAILURE_RULE);
          if (key && !failedOnce.has(key.id)) {
            failedOnce.add(key.id);
            throw new TransientError('cannot write to the outbox directory /x: no space left on the device');
          }
          await real.handOff(alerts);
        },
        close: async () => undefined,
      };
      const h = startConsumer(stream, dir, { deps: { keys, rules }, clusterId: 'demo', keyFailureMaxDelayMs: 50, handoff });
      const saved = () => (existsSync(join(dir, `${stream}.json`)) ? readCheckpoints(dir, stream)[shardId]?.sequenceNumber : undefined);
      await waitFor(() => saved() === first[2]!.sequenceNumber, 'the first records checkpointed');
      kms.failAll('AccessDeniedException');
      const held = await putRecords(client, stream, data.slice(3), { spread: 1 });
      const keyAlerts = () => real.alerts.filter((a) => a.ruleId === DATA_KEY_FAILURE_RULE);
      await waitFor(() => keyAlerts().length === 1, 'the data key failure alert');
      const open = keyAlerts()[0]!;
      assert.equal(open.kind, 'health');
      assert.equal(open.severity, 'critical');
      assert.equal(open.clusterId, 'demo');
      assert.equal((open.event as { state: string }).state, 'open');
      assert.match(open.message, /AccessDeniedException/);
      assert.ok(open.message.includes(held[0]!.sequenceNumber), open.message);
      const holds = () => h.logs.filter((l) => l.msg.startsWith('data key failure'));
      await waitFor(() => holds().length >= 4, 'the held records retried');
      assert.equal(holds()[0]!.level, 'error');
      assert.equal(keyAlerts().length, 1, 'one alert for the condition, not one per retry');
      assert.equal(h.consumer.stats().pipeline.records, 3);
      assert.equal(readCheckpoints(dir, stream)[shardId]?.sequenceNumber, first[2]!.sequenceNumber, 'the checkpoint did not pass the held record');

      kms.failAll(undefined);
      await waitFor(() => h.consumer.stats().pipeline.records === data.length, 'the held records, once KMS answers again');
      await h.stop();
      const [, resolved] = keyAlerts();
      assert.equal(keyAlerts().length, 2);
      assert.equal((resolved!.event as { state: string }).state, 'resolved');
      assert.equal(resolved!.severity, 'info');
      assert.equal(failedOnce.size, 2, 'both alarm hand-offs failed once and were retried');
      assert.equal(h.consumer.stats().pipeline.quarantined, 0);
      const activity = real.alerts.filter((a) => a.kind !== 'health').map((a) => a.id).sort();
      assert.deepEqual(activity, await replayAlertIds(data, ['rules', everyRules]));
      assert.equal(readCheckpoints(dir, stream)[shardId]?.sequenceNumber, held[2]!.sequenceNumber);
    } finally {
      await kms.close();
    }
  });

  test('a checkpointed shard that is gone before it was read to its end is reported as trimmed data', async () => {
    const stream = await newStream(1);
    const dir = tempDir();
    const earlier = new FileCheckpointStore(dir);
    await earlier.save(stream, new Map([['shardId-000000000777', { sequenceNumber: '4242' }]]));
    await earlier.close();
    const gaps: unknown[] = [];
    const h = startConsumer(stream, dir, { observer: { onTrimmed: (g) => gaps.push(g) } });
    await waitFor(() => gaps.length > 0, 'onTrimmed');
    await h.stop();
    assert.deepEqual(gaps, [
      {
        streamName: stream,
        shardId: 'shardId-000000000777',
        afterSequenceNumber: '4242',
        reason: 'the shard is no longer in the stream (past the retention period) but was not read to its end',
      },
    ]);
    assert.ok(h.logs.some((l) => l.level === 'error' && l.msg.startsWith('records lost')));
  });

  test('a stream that does not exist is a ConfigError naming it', async () => {
    const h = startConsumer('aws-rds-das-cluster-NOSUCHSTREAM', tempDir());
    await assert.rejects(h.done, (err: unknown) => err instanceof ConfigError && /NOSUCHSTREAM/.test(err.message));
  });
});

describe('FileCheckpointStore', () => {
  test('saves atomically (no temporary file left), merges shards, and a new store resumes from the file', async () => {
    const dir = join(tempDir(), 'nested', 'checkpoints');
    const store = new FileCheckpointStore(dir);
    assert.equal((await store.load('s1')).size, 0);
    await store.save('s1', new Map([['shardId-000000000000', { sequenceNumber: '100' }]]));
    await store.save('s1', new Map([['shardId-000000000001', { sequenceNumber: '200', finished: true }]]));
    await Promise.all([
      store.save('s1', new Map([['shardId-000000000000', { sequenceNumber: '101' }]])),
      store.save('s1', new Map([['shardId-000000000000', { sequenceNumber: '102' }]])),
    ]);
    await store.close();
    assert.deepEqual(readdirSync(dir), ['s1.json']);
    const again = await new FileCheckpointStore(dir).load('s1');
    assert.equal(again.get('shardId-000000000000')?.sequenceNumber, '102');
    assert.equal(again.get('shardId-000000000001')?.finished, true);
  });

  test('a corrupt file is a ConfigError naming it, and it is left untouched', async () => {
    const dir = tempDir();
    const file = join(dir, 's2.json');
    writeFileSync(file, '{"version": 1, "streamName": "s2", "shards": {"shardId-0": {"sequenceNumber": "12');
    const store = new FileCheckpointStore(dir);
    await assert.rejects(store.load('s2'), (err: unknown) => err instanceof ConfigError && err.message.includes(file) && /corrupt/.test(err.message));
    await assert.rejects(store.save('s2', new Map([['shardId-0', { sequenceNumber: '1' }]])), ConfigError);
    assert.match(readFileSync(file, 'utf8'), /"12$/);
    writeFileSync(file, JSON.stringify({ version: 1, streamName: 's2', shards: { 'shardId-0': { sequenceNumber: 'abc' } } }));
    await assert.rejects(store.load('s2'), /shardId-0: "sequenceNumber" is not a sequence number/);
  });

  test('a write that fails is an error, and the previous checkpoint survives', async () => {
    const dir = tempDir();
    const store = new FileCheckpointStore(dir);
    await store.save('s3', new Map([['shardId-0', { sequenceNumber: '5' }]]));
    // A directory where the temporary file would go makes the write fail.
    const blocked = new FileCheckpointStore(join(dir, 's3.json'));
    await assert.rejects(blocked.save('x', new Map([['shardId-0', { sequenceNumber: '6' }]])), ConfigError);
    assert.equal((await new FileCheckpointStore(dir).load('s3')).get('shardId-0')?.sequenceNumber, '5');
  });
});

test('parseStartPosition', () => {
  assert.deepEqual(parseStartPosition('latest'), { type: 'latest' });
  assert.deepEqual(parseStartPosition('trim-horizon'), { type: 'trim-horizon' });
  assert.deepEqual(parseStartPosition('2026-05-01T12:00:00Z'), { type: 'at-timestamp', time: new Date('2026-05-01T12:00:00Z') });
  assert.throws(() => parseStartPosition('yesterday'), ConfigError);
});
