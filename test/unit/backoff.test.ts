/**
 * Retry timing: the backoff formula, and the Dispatcher's real retry times under node:test mock timers
 * (setTimeout and Date): when it sends again after a retryable failure, when it gives up, how Retry-After pauses
 * a sink. The expected times are written out, not recomputed with the code under test.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelay } from '../../src/util/backoff.js';
import { DEFAULT_RETRY } from '../../src/delivery/DeliveryHandoff.js';
import { Dispatcher, type RetryPolicy } from '../../src/delivery/Dispatcher.js';
import type { Outbox, OutboxJob } from '../../src/delivery/Outbox.js';
import type { DeliveredAlert, SendResult, Sink } from '../../src/delivery/types.js';
import { makeAlert } from '../support/alerts.js';

test('full jitter draws from 0 to the exponential ceiling, capped', () => {
  assert.equal(backoffDelay(1, 200, 10_000, 'full', () => 0), 0);
  assert.equal(backoffDelay(1, 200, 10_000, 'full', () => 1), 200);
  assert.equal(backoffDelay(4, 200, 10_000, 'full', () => 1), 1600);
  assert.equal(backoffDelay(40, 200, 10_000, 'full', () => 1), 10_000);
});

/** Lets the dispatcher's promise chains run (setImmediate is not mocked: only setTimeout and Date are). */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

interface Harness {
  dispatcher: Dispatcher;
  /** Mock-clock time of each send, with the ids it carried. */
  sends: { at: number; ids: string[] }[];
  acked: string[];
  dead: { id: string; error: string; at: number }[];
}

/** A Dispatcher over a sink answering with `answer(sendIndex)` and an in-memory outbox. */
function harness(policy: RetryPolicy, random: () => number, answer: (n: number) => SendResult): Harness {
  const sends: Harness['sends'] = [];
  const acked: string[] = [];
  const dead: Harness['dead'] = [];
  const sink: Sink = {
    name: 'flaky',
    type: 'memory',
    maxBatch: 10,
    async send(alerts: readonly DeliveredAlert[]): Promise<SendResult[]> {
      const n = sends.length;
      sends.push({ at: Date.now(), ids: alerts.map((a) => a.id) });
      return alerts.map(() => answer(n));
    },
    async close() {},
  };
  const outbox = {
    async ack(jobs: readonly OutboxJob[]) {
      acked.push(...jobs.map((j) => j.alert.id));
    },
    async deadLetter() {},
  } as unknown as Outbox;
  const dispatcher = new Dispatcher(new Map([['flaky', sink]]), outbox, {
    ...policy,
    concurrency: 1,
    random,
    log: () => undefined,
    onDead: async (job, error) => void dead.push({ id: job.alert.id, error, at: Date.now() }),
  });
  return { dispatcher, sends, acked, dead };
}

const job = (i: number): OutboxJob => ({ batch: 'b', index: i, sink: 'flaky', alert: makeAlert(i), attempts: 0, notBefore: 0 });
const failing: SendResult = { ok: false, retryable: true, error: 'HTTP 503' };

/** Advances the mock clock through `delays`: no send 1 ms before each retry time, one send at it. */
async function expectRetriesAt(t: TestContext, h: Harness, delays: readonly number[]): Promise<void> {
  for (const [i, delay] of delays.entries()) {
    const sent = h.sends.length;
    const due = h.sends.at(-1)!.at + delay;
    t.mock.timers.tick(delay - 1);
    await settle();
    assert.equal(h.sends.length, sent, `retry ${i + 1} came before ${due} ms`);
    t.mock.timers.tick(1);
    await settle();
    assert.equal(h.sends.length, sent + 1, `retry ${i + 1} did not come at ${due} ms`);
    assert.equal(h.sends.at(-1)!.at, due);
  }
}

// DEFAULT_RETRY (20 attempts, 500 ms doubling to 60 s) with equal jitter: each wait is half its ceiling plus a
// random part of the other half. The ceilings: 500, 1000, ..., 32,000, then 60,000 for the last 12 waits.
const SHORTEST = [250, 500, 1000, 2000, 4000, 8000, 16_000, ...Array<number>(12).fill(30_000)];
const LONGEST = [500, 1000, 2000, 4000, 8000, 16_000, 32_000, ...Array<number>(12).fill(60_000)];
const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);

for (const [name, random, delays] of [
  ['shortest', () => 0, SHORTEST],
  ['longest', () => 1, LONGEST],
] as const) {
  test(`the Dispatcher retries a failing send at the backoff times (${name} draw), then dead-letters it after maxAttempts`, async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
    assert.deepEqual({ ...DEFAULT_RETRY }, { maxAttempts: 20, initialBackoffMs: 500, maxBackoffMs: 60_000 });
    const h = harness(DEFAULT_RETRY, random, () => failing);
    h.dispatcher.enqueue([job(1)]);
    await settle();
    assert.deepEqual(h.sends, [{ at: 0, ids: [makeAlert(1).id] }]);
    await expectRetriesAt(t, h, delays);
    assert.equal(h.sends.length, DEFAULT_RETRY.maxAttempts);
    assert.deepEqual(h.dead, [{ id: makeAlert(1).id, error: 'HTTP 503 (gave up after 20 attempts)', at: sum(delays) }]);
    assert.deepEqual(h.acked, [makeAlert(1).id], 'the dead letter is acked');
    assert.equal(h.dispatcher.stats.retries, 19);
    t.mock.timers.tick(10 * 60_000);
    await settle();
    assert.equal(h.sends.length, 20, 'no send after giving up');
    h.dispatcher.abandon();
  });
}

test('the default delivery policy rides out at least 6.5 minutes, 9.5 on average (as documented)', () => {
  assert.ok(sum(SHORTEST) >= 6.5 * 60_000, `minimum total wait ${sum(SHORTEST)} ms`);
  assert.ok((sum(SHORTEST) + sum(LONGEST)) / 2 >= 9.5 * 60_000, `mean total wait ${(sum(SHORTEST) + sum(LONGEST)) / 2} ms`);
});

test("Retry-After: the job comes back at the server's time, and the whole sink pauses until then", async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  const h = harness(DEFAULT_RETRY, () => 0, (n) => (n === 0 ? { ...failing, retryAfterMs: 7000 } : { ok: true }));
  h.dispatcher.enqueue([job(1)]);
  await settle();
  t.mock.timers.tick(500);
  h.dispatcher.enqueue([job(2)]); // due now, but the sink is paused
  await settle();
  t.mock.timers.tick(6499);
  await settle();
  assert.equal(h.sends.length, 1, 'nothing sent while paused');
  t.mock.timers.tick(1);
  await settle();
  assert.deepEqual(h.sends.slice(1), [{ at: 7000, ids: [makeAlert(2).id, makeAlert(1).id] }]);
  assert.deepEqual(h.acked.sort(), [makeAlert(1).id, makeAlert(2).id].sort());
  h.dispatcher.abandon();
});

test('a failure that is not retryable is dead-lettered at once, without a retry', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  const h = harness(DEFAULT_RETRY, () => 0, () => ({ ok: false, retryable: false, error: 'HTTP 404' }));
  h.dispatcher.enqueue([job(1)]);
  await settle();
  t.mock.timers.tick(10 * 60_000);
  await settle();
  assert.equal(h.sends.length, 1);
  assert.deepEqual(h.dead, [{ id: makeAlert(1).id, error: 'HTTP 404', at: 0 }]);
  assert.equal(h.dispatcher.stats.retries, 0);
  h.dispatcher.abandon();
});
