/**
 * The one record driver (src/pipeline/runRecords.ts) on its own, with a scripted `process`: results taken in order,
 * quarantine to the sink, alerts handed off (retried per policy) before the commit hook, the hook in record order,
 * nothing handed off or committed past a failure, and every outcome counted once in PipelineStats; withRetry, the one
 * retry policy (RETRY_DEFAULTS, and `classify` for errors that are not dasguard's).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, PoisonReason, TransientError } from '../../src/errors.js';
import type { Alert } from '../../src/pipeline/alert.js';
import { JsonlQuarantineFile } from '../../src/pipeline/JsonlQuarantineFile.js';
import { PipelineStats } from '../../src/pipeline/PipelineStats.js';
import type { Quarantined, RecordOutcome } from '../../src/pipeline/processRecord.js';
import { fromArray, runRecords } from '../../src/pipeline/runRecords.js';
import { RETRY_DEFAULTS, withRetry } from '../../src/pipeline/drive.js';
import type { SourceItem } from '../../src/sources/types.js';
import type { DecodedBatch, RecordPosition, SourceRecord } from '../../src/types.js';
import { sleep } from '../../src/util/backoff.js';

const pos = (i: number): RecordPosition => ({ source: 'test', shardId: 'shardId-000000000000', sequenceNumber: String(i) });
const rec = (i: number): SourceItem => ({ kind: 'record', record: { data: { n: i }, position: pos(i), arrivalTime: 1000 + i } });
const alert = (i: number, severity: Alert['severity']) => ({ id: `a${i}`, ruleId: `rule-${severity}`, severity }) as unknown as Alert;
const batch = (events: number): DecodedBatch => ({
  clusterId: 'cluster-X',
  instanceId: 'db-X',
  version: '1.1',
  events: Array.from({ length: events }, () => ({}) as DecodedBatch['events'][number]),
  heartbeats: [],
  rejected: [],
  warnings: [],
  encrypted: true,
});

/** Record i: i events; alerts by i % 3 (0: none, 1: one low, 2: a high and a critical); record 4 has a bad event. */
function outcomeOf(record: SourceRecord): RecordOutcome {
  const i = Number(record.position.sequenceNumber);
  const alerts = i % 3 === 1 ? [alert(i, 'low')] : i % 3 === 2 ? [alert(i, 'high'), alert(i + 100, 'critical')] : [];
  const quarantined: Quarantined[] = i === 4 ? [{ position: record.position, reason: PoisonReason.badEvent, message: 'event 0: bad', eventIndex: 0 }] : [];
  return { position: record.position, batch: batch(i), encrypted: true, alerts, quarantined, warnings: i === 1 ? ['odd'] : [] };
}

test('records in order: quarantine, observer, hand-off, then the commit hook; everything counted once', async () => {
  const trace: string[] = [];
  const stats = new PipelineStats();
  const items: SourceItem[] = [rec(0), rec(1), { kind: 'bad', position: { source: 'f', line: 3 }, reason: PoisonReason.notJson, message: 'not JSON', raw: '{x' }, rec(2), rec(4)];
  await runRecords(fromArray(items), {
    toItem: (i) => i,
    // Later records finish first: results are still taken in order.
    process: async (record) => {
      await sleep(10 - Number(record.position.sequenceNumber) * 2);
      return outcomeOf(record);
    },
    stats,
    handoff: { handOff: async (a) => void trace.push(`handoff ${a.map((x) => x.id).join(',')}`), close: async () => undefined },
    quarantine: { put: (q, origin) => void trace.push(`quarantine ${q.reason} ${origin.raw ?? origin.record?.position.sequenceNumber}`) },
    observer: { onBatch: (b, info) => void trace.push(`batch ${b.eventCount} ${info.shardId} ${info.arrivalTime}`) },
    commit: (item, outcome) => void trace.push(`commit ${item.kind === 'bad' ? 'bad' : item.record.position.sequenceNumber} ${outcome ? 'outcome' : '-'}`),
    drive: { concurrency: 4 },
  });
  assert.deepEqual(trace, [
    'batch 0 shardId-000000000000 1000',
    'commit 0 outcome',
    'batch 1 shardId-000000000000 1001',
    'handoff a1',
    'commit 1 outcome',
    'quarantine not-json {x',
    'commit bad -',
    'batch 2 shardId-000000000000 1002',
    'handoff a2,a102',
    'commit 2 outcome',
    'quarantine bad-event 4',
    'batch 4 shardId-000000000000 1004',
    'handoff a4',
    'commit 4 outcome',
  ]);
  const c = stats.snapshot();
  assert.equal(c.records, 5);
  assert.equal(c.encryptedRecords, 4);
  assert.equal(c.events, 0 + 1 + 2 + 4);
  assert.equal(c.alerts, 4);
  assert.deepEqual(Object.fromEntries(stats.alertsBySeverity), { low: 2, high: 1, critical: 1 });
  assert.equal(stats.highestSeverity, 'critical');
  assert.equal(c.quarantinedRecords, 1);
  assert.equal(c.quarantinedEvents, 1);
  assert.equal(c.quarantined, 2);
  assert.equal(stats.quarantined, 2);
  assert.deepEqual(Object.fromEntries(stats.quarantinedByReason), { 'not-json': 1, 'bad-event': 1 });
  assert.deepEqual([...stats.warnings], ['odd']);
});

test('a failure stops the driver at its record: nothing after it is handed off or committed, though it was processed', async () => {
  const handedOff: string[] = [];
  const committed: string[] = [];
  const processed: string[] = [];
  const stats = new PipelineStats();
  const run = runRecords(fromArray([0, 1, 2, 3, 4]), {
    toItem: (i) => rec(i),
    process: async (record) => {
      const seq = record.position.sequenceNumber!;
      processed.push(seq);
      if (seq === '2') throw new ConfigError('wrong key');
      return outcomeOf(record);
    },
    stats,
    handoff: { handOff: async (a) => void handedOff.push(...a.map((x) => x.id)), close: async () => undefined },
    commit: (i) => void committed.push(String(i)),
    drive: { concurrency: 4, attempts: 1 },
  });
  await assert.rejects(run, /wrong key/);
  assert.deepEqual(committed, ['0', '1']);
  assert.deepEqual(handedOff, ['a1']);
  assert.ok(processed.includes('3'), 'later records were in flight');
  assert.equal(stats.snapshot().records, 2);
  assert.equal(stats.snapshot().alerts, 1);
});

test('a failure of toItem is its item failure, in its turn (the records before it are committed)', async () => {
  const committed: number[] = [];
  await assert.rejects(
    runRecords(fromArray([0, 1, 2]), {
      toItem: (i) => {
        if (i === 1) throw new ConfigError('no resource id');
        return rec(i);
      },
      process: async (record) => outcomeOf(record),
      stats: new PipelineStats(),
      handoff: { handOff: async () => undefined, close: async () => undefined },
      commit: (i) => void committed.push(i),
      drive: { concurrency: 3, attempts: 1 },
    }),
    /no resource id/,
  );
  assert.deepEqual(committed, [0]);
});

test('a hand-off that fails transiently is retried per the policy, and the record committed once', async () => {
  let calls = 0;
  const retries: [number, string | undefined][] = [];
  const committed: number[] = [];
  await runRecords(fromArray([1]), {
    toItem: (i) => rec(i),
    process: async (record) => outcomeOf(record),
    stats: new PipelineStats(),
    handoff: {
      handOff: async () => {
        if (++calls < 3) throw new TransientError('disk full');
      },
      close: async () => undefined,
    },
    handoffRetry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 2, onRetry: (_err, attempt, _delay, item) => void retries.push([attempt, String(item)]) },
    commit: (i) => void committed.push(i),
  });
  assert.equal(calls, 3);
  assert.deepEqual(retries, [
    [1, '1'],
    [2, '1'],
  ]);
  assert.deepEqual(committed, [1]);

  // Without a policy: no retry, the error is the driver's.
  calls = 0;
  await assert.rejects(
    runRecords(fromArray([1]), {
      toItem: (i) => rec(i),
      process: async (record) => outcomeOf(record),
      stats: new PipelineStats(),
      handoff: {
        handOff: async () => {
          calls++;
          throw new TransientError('disk full');
        },
        close: async () => undefined,
      },
    }),
    TransientError,
  );
  assert.equal(calls, 1);
});

test('handOffEmpty hands off records without alerts too; without it they are not handed off', async () => {
  for (const handOffEmpty of [true, false]) {
    const calls: number[] = [];
    await runRecords(fromArray([0, 3]), {
      toItem: (i) => rec(i),
      process: async (record) => outcomeOf(record),
      stats: new PipelineStats(),
      handoff: { handOff: async (a) => void calls.push(a.length), close: async () => undefined },
      handOffEmpty,
    });
    assert.deepEqual(calls, handOffEmpty ? [0, 0] : []);
  }
});

test('the JSONL quarantine file: position, the entry, and the raw input (none for an event alone)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dasguard-driver-'));
  try {
    const file = join(dir, 'q.jsonl');
    const sink = new JsonlQuarantineFile(file);
    const position: RecordPosition = { source: 'in.jsonl', line: 2 };
    await sink.put({ position, reason: 'not-json', message: 'not JSON' }, { raw: '{x' });
    await sink.put({ position, reason: 'bad-base64', message: 'bad' }, { record: { data: new Uint8Array([1, 2, 3]), position } });
    await sink.put({ position, reason: 'bad-event', message: 'event 0: bad', eventIndex: 0 }, { record: { data: new Uint8Array([1]), position } });
    await sink.close();
    const lines = (await readFile(file, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(lines, [
      { source: 'in.jsonl:2', position, reason: 'not-json', message: 'not JSON', raw: '{x' },
      { source: 'in.jsonl:2', position, reason: 'bad-base64', message: 'bad', raw: 'AQID' },
      { source: 'in.jsonl:2', position, reason: 'bad-event', message: 'event 0: bad', eventIndex: 0 },
    ]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('withRetry: a TransientError is retried RETRY_DEFAULTS.attempts times; classify decides for foreign errors', async () => {
  let calls = 0;
  const transient = withRetry(
    async () => {
      calls++;
      throw new TransientError('busy');
    },
    { baseDelayMs: 1, maxDelayMs: 1 },
  );
  await assert.rejects(transient, /busy/);
  assert.equal(calls, RETRY_DEFAULTS.attempts);

  // A foreign error (an AWS SDK one): retried when classify calls it transient, thrown as classified otherwise.
  const answers = [Object.assign(new Error('slow down'), { name: 'Throttling' }), Object.assign(new Error('no such stream'), { name: 'NotFound' })];
  const retries: string[] = [];
  const classified = withRetry(
    async () => {
      throw answers.shift();
    },
    {
      attempts: Number.POSITIVE_INFINITY,
      baseDelayMs: 1,
      classify: (err) => ((err as Error).name === 'Throttling' ? new TransientError((err as Error).message) : new ConfigError(`stop: ${(err as Error).message}`)),
      onRetry: (err, attempt) => void retries.push(`${attempt} ${err.message}`),
    },
  );
  await assert.rejects(classified, (err: unknown) => err instanceof ConfigError && err.message === 'stop: no such stream');
  assert.deepEqual(retries, ['1 slow down']);
});
