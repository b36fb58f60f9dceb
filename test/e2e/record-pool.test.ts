/**
 * --workers N (RecordPool): records decoded and evaluated in worker threads gives exactly what the main thread gives, in the
 * same order; poison stays poison (same reason, same message); a dead worker fails its job as transient and is
 * replaced; a closed pool leaves nothing behind (the process exits), from sources (tsx) and from dist/.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { RecordPool, defaultWorkerUrl } from '../../src/pipeline/workers/RecordPool.js';
import { decryptAndGunzip, unsealedBatch } from '../../src/codec/decode.js';
import { loadRuleTexts } from '../../src/rules/load.js';
import { evaluateBatch, processRecord } from '../../src/pipeline/processRecord.js';
import { AutoRecordPool } from '../../src/pipeline/workers/AutoRecordPool.js';
import { AUTO_START_BYTES, autoWorkers, openPool } from '../../src/commands/common.js';
import { encodeRecord } from '../../src/codec/encode.js';
import { encryptionContextFor } from '../../src/keys/KeyProvider.js';
import { LocalKeyProvider } from '../../src/keys/LocalKeyProvider.js';
import { PoisonRecordError, TransientError } from '../../src/errors.js';
import { withRetry } from '../../src/pipeline/drive.js';
import { PG, benchRecords } from '../../scripts/sampleData.js';
import { capturedIo, jsonLines, runCli } from '../support/cli.js';
import { runCommand } from '../../src/commands/run.js';
import {
  EVERY_EVENT_RULE,
  KEY_FILE,
  createStream,
  encryptedRecords,
  everyEventRules,
  kinesisClient,
  loopbackEnv,
  putRecords,
  replayAlertIds,
  startKinesalite,
  tempDir,
  waitFor,
} from '../support/kinesis.js';

const KEY = 'samples/demo-master-key.json';
const STREAM = `aws-rds-das-${PG.clusterId}`;
const run = promisify(execFile);

let dir: string;
let bigFile: string;
/** ESDK message + its data key, from one real record; and a tampered copy of the message. */
let message: Uint8Array;
let dataKey: Uint8Array;
let tampered: Uint8Array;

function parts(envelope: Uint8Array): { message: Buffer; key: Buffer } {
  const e = JSON.parse(Buffer.from(envelope).toString('utf8')) as { databaseActivityEvents: string; key: string };
  return { message: Buffer.from(e.databaseActivityEvents, 'base64'), key: Buffer.from(e.key, 'base64') };
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dasguard-pool-'));
  const keys = LocalKeyProvider.fromFile(KEY);
  // 120 records of 1 to 40 events (uneven sizes, so workers finish out of order), one tampered in the middle.
  const lines: string[] = [];
  for (let i = 0; i < 120; i++) {
    const per = 1 + ((i * 7) % 40);
    const envelope = await encodeRecord(benchRecords(1, per, 100 + i)[0]!, { resourceId: PG.clusterId, version: PG.version, wrapper: keys });
    let data = Buffer.from(envelope);
    if (i === 0) {
      const p = parts(envelope);
      message = p.message;
      dataKey = await keys.getDataKey(p.key, encryptionContextFor(PG.clusterId));
    }
    if (i === 60) {
      const env = JSON.parse(data.toString('utf8')) as Record<string, string>;
      const payload = Buffer.from(env.databaseActivityEvents!, 'base64');
      payload[Math.floor(payload.length / 2)]! ^= 0x40;
      env.databaseActivityEvents = payload.toString('base64');
      data = Buffer.from(JSON.stringify(env));
    }
    lines.push(JSON.stringify({ StreamName: STREAM, ShardId: 'shardId-000000000000', SequenceNumber: String(1000 + i), PartitionKey: PG.instanceId, Data: data.toString('base64') }));
  }
  bigFile = join(dir, `${STREAM}.jsonl`);
  writeFileSync(bigFile, lines.join('\n') + '\n');
  tampered = Buffer.from(message);
  tampered[Math.floor(tampered.length / 2)]! ^= 0x40;
});

after(() => rmSync(dir, { recursive: true, force: true }));

describe('--workers gives the same results as the main thread', () => {
  it('replay of the sample streams: same alerts (ids, in order)', async () => {
    const base = ['replay', 'samples/streams', '--key-file', KEY, '--output', 'jsonl', '--quiet'];
    const one = await runCli(base);
    const pooled = await runCli([...base, '--workers', '2']);
    assert.equal(one.code, 0, one.stderr);
    assert.equal(pooled.code, 0, pooled.stderr);
    const ids = jsonLines(one.stdout).map((a) => a.id);
    assert.ok(ids.length > 0, 'the samples raise alerts');
    assert.deepEqual(jsonLines(pooled.stdout).map((a) => a.id), ids);
    assert.equal(pooled.stdout, one.stdout);
  });

  it('decode of 120 uneven records: byte-identical output, tampered record quarantined with the same reason', async () => {
    const run1 = async (workers: string[]) => {
      const q = join(dir, `q-${workers.length}.jsonl`);
      const r = await runCli(['decode', bigFile, '--key-file', KEY, '--quarantine-file', q, ...workers]);
      return { ...r, quarantined: jsonLines(readFileSync(q, 'utf8')) };
    };
    const one = await run1([]);
    const pooled = await run1(['--workers', '2', '--concurrency', '32']);
    assert.equal(one.code, 0, one.stderr);
    assert.equal(pooled.code, 0, pooled.stderr);
    assert.equal(jsonLines(one.stdout).length, 120 * 20.5 - (1 + ((60 * 7) % 40)), 'every event of every good record');
    assert.equal(pooled.stdout, one.stdout);
    assert.equal(one.quarantined.length, 1);
    assert.equal(one.quarantined[0]!.reason, 'payload-decrypt-failed');
    assert.deepEqual(pooled.quarantined, one.quarantined);
  });

  it('the pool itself: same bytes as decryptAndGunzip; arguments untouched', async () => {
    const pool = new RecordPool({ workers: 2 });
    try {
      const keyBefore = Buffer.from(dataKey);
      const expected = await decryptAndGunzip(message, dataKey);
      const got = await Promise.all(Array.from({ length: 10 }, () => pool.decrypt(message, dataKey)));
      for (const g of got) assert.deepEqual(Buffer.from(g), expected);
      assert.deepEqual(Buffer.from(dataKey), keyBefore, 'the caller keeps its data key (the worker zeroes its own copy)');
      assert.ok(message.byteLength > 0, 'the caller keeps its message');
    } finally {
      await pool.close();
    }
  });

  it('a tampered message: PoisonRecordError with the same reason and message as on the main thread', async () => {
    const pool = new RecordPool({ workers: 1 });
    try {
      const local = await decryptAndGunzip(tampered, dataKey).then(() => assert.fail('tampered message decrypted'), (e: unknown) => e);
      const remote = await pool.decrypt(tampered, dataKey).then(() => assert.fail('tampered message decrypted'), (e: unknown) => e);
      assert.ok(local instanceof PoisonRecordError);
      assert.ok(remote instanceof PoisonRecordError, `got ${String(remote)}`);
      assert.equal(remote.reason, local.reason);
      assert.equal(remote.message, local.message);
      // The pool still works after a poison record.
      assert.deepEqual(Buffer.from(await pool.decrypt(message, dataKey)), await decryptAndGunzip(message, dataKey));
    } finally {
      await pool.close();
    }
  });
});

describe('the pool evaluates with the rule set each record was pinned to', () => {
  it('six rule sets in turn (more than the workers keep): each record gets its own set\'s alerts, version and ids', async () => {
    const sets = Array.from({ length: 6 }, (_, i) => {
      const { ruleSet } = loadRuleTexts([{ file: `r${i}.yaml`, text: EVERY_EVENT_RULE.replace('test-every-event', `every-event-${i}`) }]);
      assert.ok(ruleSet);
      return ruleSet;
    });
    const pool = new RecordPool({ workers: 2 });
    try {
      const position = { source: 'test', line: 1 };
      const batch = unsealedBatch(await decryptAndGunzip(message, dataKey), { version: PG.version, warnings: [] });
      // 0..5, then 0 again (compiled again after it was dropped), then interleaved, all in flight together
      const order = [0, 1, 2, 3, 4, 5, 0, 3, 5, 1];
      const got = await Promise.all(order.map((i) => pool.process({ message, dataKey, version: PG.version, warnings: [] }, position, sets[i], 'literals')));
      for (const [k, i] of order.entries()) {
        const expected = evaluateBatch(batch, position, { rules: sets[i]!, redaction: 'literals' });
        assert.ok(expected.alerts.length > 0);
        assert.deepEqual(got[k]!.alerts, expected.alerts, `record ${k} (rule set ${i})`);
        assert.deepEqual(got[k]!.alerts.map((a) => [a.ruleId, a.rulesVersion]), expected.alerts.map((a) => [`every-event-${i}`, sets[i]!.version]));
        assert.equal(got[k]!.batch, undefined, 'the events stay in the worker');
        assert.deepEqual(got[k]!.summary, expected.summary);
      }
    } finally {
      await pool.close();
    }
  });
});

describe('the pool takes records once it can, several per worker, and loses none', () => {
  it('ready() is false until a worker compiled the rule set (the caller processes the record itself), then true', async () => {
    const { ruleSet } = loadRuleTexts([{ file: 'ready.yaml', text: EVERY_EVENT_RULE }]);
    assert.ok(ruleSet);
    const pool = new RecordPool({ workers: 1 });
    try {
      assert.equal(pool.ready(ruleSet), false, 'a worker that just started has compiled nothing');
      // The worker answers in order: its reply to a record comes after it said the rules compiled.
      const outcome = await pool.process({ message, dataKey, version: PG.version, warnings: [] }, { source: 'test', line: 1 }, ruleSet, 'literals');
      assert.ok(outcome.alerts.length > 0);
      assert.equal(pool.ready(ruleSet), true);
      const { ruleSet: other } = loadRuleTexts([{ file: 'other.yaml', text: EVERY_EVENT_RULE.replace('test-every-event', 'other-event') }]);
      assert.equal(pool.ready(other!), false, 'a new rule set (a reload) is compiled first');
    } finally {
      await pool.close();
    }
  });

  it('many records at once through 2 workers holding 4 each: every outcome is its own record\'s', async () => {
    const { ruleSet } = loadRuleTexts([{ file: 'every.yaml', text: EVERY_EVENT_RULE }]);
    assert.ok(ruleSet);
    const keys = LocalKeyProvider.fromFile(KEY);
    const records = await Promise.all(
      benchRecords(40, 1, 500).map(async (r, i) => {
        // 1 to 3 events: records of different sizes finish out of order
        const events = Array.from({ length: 1 + (i % 3) }, () => r.databaseActivityEventList[0]!);
        const envelope = await encodeRecord({ ...r, databaseActivityEventList: events }, { resourceId: PG.clusterId, version: PG.version, wrapper: keys });
        const p = parts(envelope);
        const sealed = { message: p.message, dataKey: await keys.getDataKey(p.key, encryptionContextFor(PG.clusterId)), version: PG.version, warnings: [] };
        return { sealed, position: { source: STREAM, sequenceNumber: String(i) } };
      }),
    );
    const pool = new RecordPool({ workers: 2, perWorker: 4, maxQueued: 64 });
    try {
      const pooled = await Promise.all(records.map((r) => pool.process(r.sealed, r.position, ruleSet, 'literals')));
      for (const [i, r] of records.entries()) {
        const expected = evaluateBatch(unsealedBatch(await decryptAndGunzip(r.sealed.message, r.sealed.dataKey), r.sealed), r.position, { rules: ruleSet, redaction: 'literals' });
        assert.ok(expected.alerts.length > 0);
        assert.deepEqual(pooled[i]!.alerts, expected.alerts, `record ${i}`);
        assert.deepEqual(pooled[i]!.summary, expected.summary, `record ${i}`);
      }
    } finally {
      await pool.close();
    }
  });
});

describe('--workers auto', () => {
  it('records stay on the main thread until the input proves large, then go to the workers once they compiled the rules; outcomes are the same', async () => {
    const { ruleSet } = loadRuleTexts([{ file: 'every.yaml', text: EVERY_EVENT_RULE }]);
    assert.ok(ruleSet);
    const keys = LocalKeyProvider.fromFile(KEY);
    const records = await Promise.all(
      benchRecords(6, 3, 77).map(async (r, i) => ({
        data: await encodeRecord(r, { resourceId: PG.clusterId, version: PG.version, wrapper: keys }),
        position: { source: STREAM, sequenceNumber: String(i) },
        resourceId: PG.clusterId,
      })),
    );
    const auto = new AutoRecordPool(2, 3);
    try {
      const deps = { keys, rules: ruleSet, redaction: 'literals' as const };
      for (const [i, record] of records.entries()) {
        const alone = await processRecord(record, deps);
        const pooled = await processRecord(record, { ...deps, workers: auto });
        assert.equal(auto.started, i >= 3, `record ${i}: workers started only after 3 records`);
        // Record 3 starts them; they have compiled nothing yet, so this thread processes it instead of waiting.
        assert.equal(pooled.batch === undefined, i > 3, `record ${i}: its events ${i > 3 ? 'stayed in a worker' : 'are here'}`);
        assert.deepEqual(pooled.alerts, alone.alerts);
        assert.deepEqual(pooled.summary, alone.summary);
        // A worker answers in order: its reply to this record comes after it said the rules compiled.
        if (i === 3) await auto.process({ message, dataKey, version: PG.version, warnings: [] }, { source: 'test', line: 1 }, ruleSet, 'literals');
      }
      assert.equal(auto.recordsProcessed, 1 + records.length - 4, 'the workers counted what they processed');
    } finally {
      await auto.close();
    }
  });

  it('replay of the samples with --workers auto: the main thread output; auto is one worker per core, none on one', async () => {
    const r = await runCli(['replay', 'samples/streams', '--key-file', KEY, '--output', 'jsonl', '--quiet', '--workers', 'auto']);
    const base = await runCli(['replay', 'samples/streams', '--key-file', KEY, '--output', 'jsonl', '--quiet', '--workers', '0']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, base.stdout);
    assert.ok(autoWorkers(2, undefined) === 2 && autoWorkers(1, undefined) === 0, 'one worker per core, none on one core');
  });

  it('is the default of replay and decode: a file of 8 MB or more gets workers from the start, stdin after 1,000 records, a smaller file none; not run', async () => {
    const keys = LocalKeyProvider.fromFile(KEY);
    const workers = autoWorkers();
    const line = (data: Uint8Array, seq: number) => JSON.stringify({ StreamName: STREAM, ShardId: 'shardId-000000000000', SequenceNumber: String(seq), Data: Buffer.from(data).toString('base64') });
    // A file over AUTO_START_BYTES: one 100-event record's envelope again and again (cheap to make; replayed the same either way).
    const envelope = await encodeRecord(benchRecords(1, 100, 5)[0]!, { resourceId: PG.clusterId, version: PG.version, wrapper: keys });
    const one = line(envelope, 1).length + 1;
    const big = join(dir, `${STREAM}-big.jsonl`);
    writeFileSync(big, Array.from({ length: Math.ceil(AUTO_START_BYTES / one) + 1 }, (_v, i) => line(envelope, i + 1)).join('\n') + '\n');
    const byDefault = await runCli(['replay', big, '--key-file', KEY, '--output', 'jsonl']);
    const mainThread = await runCli(['replay', big, '--key-file', KEY, '--output', 'jsonl', '--workers', '0']);
    assert.equal(byDefault.code, 0, byDefault.stderr);
    assert.ok(byDefault.stdout.length > 0);
    assert.equal(byDefault.stdout, mainThread.stdout, 'replay: the same output');
    assert.doesNotMatch(mainThread.stderr, /worker thread/, '--workers 0 says nothing of workers');
    if (workers > 0) assert.match(byDefault.stderr, new RegExp(`\\n  ${workers} worker threads \\(--workers auto, input of 8\\.\\d MB\\): [0-9,]+ records processed in them, the rest on the main thread\\n`));
    else assert.doesNotMatch(byDefault.stderr, /worker thread/, 'this machine has one usable core');

    // stdin (size unknown): the workers start after 1,000 records (AutoRecordPool; whether they get one of these 1,100
    // before the input ends is up to how fast they load, so only the plan and the output are asserted).
    if (workers > 0) {
      const plans = [openPool('auto', undefined), openPool('auto', AUTO_START_BYTES - 1), openPool('auto', AUTO_START_BYTES)];
      try {
        assert.ok(plans[0]?.deps.workers instanceof AutoRecordPool, 'unknown size: the pool that waits for 1,000 records');
        assert.equal(plans[1], undefined, 'a smaller input: no workers');
        assert.ok(plans[2]?.deps.workers instanceof RecordPool, 'a large one: workers from the start');
      } finally {
        await Promise.all(plans.map((p) => p?.close()));
      }
    }
    const lines: string[] = [];
    for (const [i, r] of benchRecords(1100, 1, 3).entries()) lines.push(line(await encodeRecord(r, { resourceId: PG.clusterId, version: PG.version, wrapper: keys }), i + 1));
    const stdin = lines.join('\n') + '\n';
    const piped = await runCli(['decode', '-', '--key-file', KEY], { stdin });
    const pipedMain = await runCli(['decode', '-', '--key-file', KEY, '--workers', '0'], { stdin });
    assert.equal(piped.code, 0, piped.stderr);
    assert.equal(piped.stdout, pipedMain.stdout, 'decode: the same output');

    // The same records from a file (0.5 MB): under AUTO_START_BYTES, all on the main thread, and nothing said of workers.
    const small = join(dir, `${STREAM}-small.jsonl`);
    writeFileSync(small, stdin);
    const fromFile = await runCli(['decode', small, '--key-file', KEY]);
    assert.equal(fromFile.stdout, pipedMain.stdout);
    assert.doesNotMatch(fromFile.stderr, /worker thread/);
    const help = await runCli(['run', '--help']);
    assert.match(help.stdout + help.stderr, /--workers N\|auto\s+Decrypt, decode and run the stateless rules in N worker threads \(default 0: on the main/);
  });
});

describe('dasguard run --workers 2', () => {
  it('alerts on every record of a 2-shard stream exactly like replay does', async () => {
    const kinesalite = await startKinesalite();
    const client = kinesisClient(kinesalite.url);
    const saved = { ...process.env };
    Object.assign(process.env, loopbackEnv({ kinesis: kinesalite.url }));
    try {
      const stream = `${STREAM}-workers`;
      await createStream(client, stream, 2);
      const data = await encryptedRecords(60, 5, 303);
      await putRecords(client, stream, data);
      const rules = everyEventRules();
      const expected = await replayAlertIds(data, [rules]);
      const c = capturedIo();
      const ac = new AbortController();
      const code = runCommand(
        {
          stream,
          resourceId: PG.clusterId,
          keyFile: KEY_FILE,
          rules: [rules],
          output: 'jsonl',
          redaction: 'literals',
          from: 'trim-horizon',
          checkpointDir: tempDir(),
          stateDir: tempDir(),
          silenceMs: 0,
          pollIntervalMs: 50,
          statusIntervalMs: 1000,
          discoveryIntervalMs: 1000,
          concurrency: 8,
          workers: 2,
        },
        c.io,
        { kinesis: client, signal: ac.signal },
      );
      await waitFor(() => jsonLines(c.stdout()).length >= expected.length, 'all alerts', 60_000);
      ac.abort();
      assert.equal(await code, 0);
      assert.deepEqual(jsonLines(c.stdout()).map((a) => a.id).sort(), expected);
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
      client.destroy();
      await kinesalite.close();
    }
  });
});

describe('failures of the pool itself', () => {
  it('a worker that dies mid-job: the job fails as TransientError, the worker is replaced, a retry succeeds', async () => {
    // A worker module that dies on the first job it receives (once across all workers: a marker file), and is the
    // real worker otherwise.
    const marker = join(dir, 'crashed');
    const wrapper = join(dir, 'crashingWorker.mjs');
    writeFileSync(
      wrapper,
      `import { existsSync, writeFileSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
if (!existsSync(${JSON.stringify(marker)})) {
  parentPort.once('message', () => { writeFileSync(${JSON.stringify(marker)}, ''); process.exit(3); });
} else {
  const { register } = await import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))});
  register();
  await import(${JSON.stringify(defaultWorkerUrl().href)});
}
`,
    );
    const pool = new RecordPool({ workers: 1, workerUrl: pathToFileURL(wrapper) });
    try {
      const expected = await decryptAndGunzip(message, dataKey);
      const err = await pool.decrypt(message, dataKey).then(() => assert.fail('the crashed job succeeded'), (e: unknown) => e);
      assert.ok(err instanceof TransientError, `got ${String(err)}`);
      assert.match(err.message, /worker died/);
      assert.equal(pool.workersReplaced, 1);
      // The retry logic the pipeline uses gets the record through on the replacement worker.
      const again = await withRetry(() => pool.decrypt(message, dataKey), { baseDelayMs: 1 });
      assert.deepEqual(Buffer.from(again), expected);
    } finally {
      await pool.close();
    }
    await assert.rejects(pool.decrypt(message, dataKey), TransientError, 'a closed pool refuses work');
  });

  it('a worker that dies with several records in hand: each fails as TransientError, none is lost, retries succeed', async () => {
    const marker = join(dir, 'crashed-many');
    const wrapper = join(dir, 'crashingManyWorker.mjs');
    // Dies once its port holds 4 jobs (the pool sends 4 before any answer), then the real worker for its replacement.
    writeFileSync(
      wrapper,
      `import { existsSync, writeFileSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
if (!existsSync(${JSON.stringify(marker)})) {
  let n = 0;
  parentPort.on('message', () => { if (++n === 4) { writeFileSync(${JSON.stringify(marker)}, ''); process.exit(3); } });
  parentPort.postMessage({ kind: 'up' });
} else {
  const { register } = await import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))});
  register();
  await import(${JSON.stringify(defaultWorkerUrl().href)});
}
`,
    );
    const pool = new RecordPool({ workers: 1, perWorker: 4, workerUrl: pathToFileURL(wrapper) });
    try {
      const expected = await decryptAndGunzip(message, dataKey);
      const first = await Promise.allSettled(Array.from({ length: 4 }, () => pool.decrypt(message, dataKey)));
      for (const r of first) {
        assert.equal(r.status, 'rejected');
        assert.ok(r.reason instanceof TransientError, `got ${String(r.reason)}`);
      }
      assert.equal(pool.workersReplaced, 1);
      const again = await Promise.all(Array.from({ length: 4 }, () => withRetry(() => pool.decrypt(message, dataKey), { baseDelayMs: 1 })));
      for (const a of again) assert.deepEqual(Buffer.from(a), expected);
    } finally {
      await pool.close();
    }
  });

  it('workers that die before they are up, 3 in a row: the pool stops replacing them and every call fails, not as transient', async () => {
    const wrapper = join(dir, 'deadOnArrival.mjs');
    writeFileSync(wrapper, `process.exit(7);\n`);
    const pool = new RecordPool({ workers: 1, workerUrl: pathToFileURL(wrapper) });
    try {
      const err = await withRetry(() => pool.decrypt(message, dataKey), { baseDelayMs: 1, attempts: 10 }).then(
        () => assert.fail('a job succeeded without a worker'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof Error && !(err instanceof TransientError), `got ${String(err)}`);
      assert.match(err.message, /record workers cannot start: 3 in a row died before they were up \(the last: exited with code 7\)/);
      await assert.rejects(pool.decrypt(message, dataKey), /record workers cannot start/);
      assert.equal(pool.ready(undefined), true, 'ready, so a record is sent and fails loudly instead of running here unnoticed');
    } finally {
      await pool.close();
    }
  });

  it('closing the pool lets the process exit (no handle left), under tsx', async () => {
    const script = `
      import { RecordPool } from ${JSON.stringify(pathToFileURL('src/pipeline/workers/RecordPool.ts').href)};
      const pool = new RecordPool({ workers: 2 });
      const err = await pool.decrypt(new Uint8Array([1, 2, 3]), new Uint8Array(32)).catch((e) => e);
      await pool.close();
      console.log(err.name + ': ' + err.reason);`;
    const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { timeout: 60_000 });
    assert.equal(stdout.trim(), 'PoisonRecordError: payload-decrypt-failed');
  });

  it('the compiled command (bin/dasguard.js, dist/) with --workers 2: same output, and it exits', async () => {
    const args = ['decode', bigFile, '--key-file', KEY, '--quiet'];
    const expected = await runCli(args);
    const { stdout } = await run(process.execPath, ['bin/dasguard.js', ...args, '--workers', '2'], { timeout: 60_000, maxBuffer: 64 << 20 });
    assert.equal(stdout, expected.stdout);
  });

  it('--workers must be auto or a whole number from 0 to 64', async () => {
    const r = await runCli(['decode', 'samples/streams', '--key-file', KEY, '--workers', 'two']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--workers must be auto or a whole number from 0 to 64; got "two"/);
  });
});
