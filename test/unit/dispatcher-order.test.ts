/**
 * The order in which the Dispatcher finishes a job, which DeliveryHandoff.settle relies on: a dead letter is
 * known (onDeadLetterWritten) before the ack removes its batch file, and `finished` grows only once the ack (and
 * for a dead letter, its report) is over. The Lambda handler reports dead-lettered records for retry from this;
 * when the dead letter was noted after the ack, settle could take a dead-lettered record for delivered.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Dispatcher } from '../../src/delivery/Dispatcher.js';
import type { Outbox, OutboxJob } from '../../src/delivery/Outbox.js';
import type { DeliveredAlert, SendResult, Sink } from '../../src/delivery/types.js';
import { makeAlert } from '../support/alerts.js';

const job = (i: number): OutboxJob => ({ batch: `b${i}`, index: 0, sink: 'mixed', alert: makeAlert(i), attempts: 0, notBefore: 0 });

test('dispatcher: a dead letter is noted before its ack, and a job counts as finished only after its ack and report', async () => {
  const steps: string[] = [];
  let dispatcher!: Dispatcher;
  const at = (what: string) => steps.push(`${what} finished=${dispatcher.finished} reporting=${dispatcher.reportsInFlight}`);
  const sink: Sink = {
    name: 'mixed',
    type: 'memory',
    maxBatch: 10,
    // Even alert numbers are taken; odd ones are refused for good (a 4xx: dead-lettered at once).
    async send(alerts: readonly DeliveredAlert[]): Promise<SendResult[]> {
      return alerts.map((a) => (a.id.endsWith('1') ? { ok: false, retryable: false, error: 'HTTP 403' } : { ok: true }));
    },
    async close() {},
  };
  const outbox = {
    async ack(jobs: readonly OutboxJob[]) {
      at(`ack ${jobs.map((j) => j.batch).join(',')}`);
      await new Promise<void>((resolve) => setImmediate(resolve)); // a compaction after the unlink
    },
    async deadLetter(j: OutboxJob) {
      at(`dead-letter ${j.batch}`);
    },
  } as unknown as Outbox;
  let reported!: () => void;
  const done = new Promise<void>((resolve) => (reported = resolve));
  dispatcher = new Dispatcher(new Map([['mixed', sink]]), outbox, {
    maxAttempts: 3,
    initialBackoffMs: 1,
    maxBackoffMs: 1,
    concurrency: 1,
    log: () => undefined,
    onDeadLetterWritten: (j) => at(`noted ${j.batch}`),
    onDead: async (j) => {
      await new Promise<void>((resolve) => setImmediate(resolve)); // the log line, a fallback sink
      at(`reported ${j.batch}`);
      reported();
    },
  });
  const alerts = [job(0), job(1)];
  assert.ok(alerts[0]!.alert.id.endsWith('0') && alerts[1]!.alert.id.endsWith('1'), 'makeAlert ids end with their number');
  dispatcher.enqueue(alerts);
  await done;
  await new Promise<void>((resolve) => setImmediate(resolve));
  assert.deepEqual(steps, [
    'ack b0 finished=0 reporting=0',
    'dead-letter b1 finished=1 reporting=0',
    'noted b1 finished=1 reporting=1',
    'ack b1 finished=1 reporting=1',
    'reported b1 finished=1 reporting=1',
  ]);
  assert.equal(dispatcher.finished, 2);
  assert.equal(dispatcher.reportsInFlight, 0);
  assert.deepEqual(dispatcher.stats, { delivered: 1, retries: 0, deadLettered: 1 });
  await dispatcher.drain(1000);
});
