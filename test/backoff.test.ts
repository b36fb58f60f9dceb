import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelay } from '../src/util/backoff.js';
import { DEFAULT_RETRY } from '../src/delivery/DeliveryHandoff.js';

test('full jitter draws from 0 to the exponential ceiling, capped', () => {
  assert.equal(backoffDelay(1, 200, 10_000, 'full', () => 0), 0);
  assert.equal(backoffDelay(1, 200, 10_000, 'full', () => 1), 200);
  assert.equal(backoffDelay(4, 200, 10_000, 'full', () => 1), 1600);
  assert.equal(backoffDelay(40, 200, 10_000, 'full', () => 1), 10_000);
});

test('equal jitter keeps half of the delay: the default delivery policy rides out at least 6.5 minutes (as documented)', () => {
  const { maxAttempts, initialBackoffMs, maxBackoffMs } = DEFAULT_RETRY;
  let min = 0;
  let max = 0;
  for (let attempt = 1; attempt < maxAttempts; attempt++) {
    min += backoffDelay(attempt, initialBackoffMs, maxBackoffMs, 'equal', () => 0);
    max += backoffDelay(attempt, initialBackoffMs, maxBackoffMs, 'equal', () => 1);
  }
  assert.ok(min >= 6.5 * 60_000, `minimum total wait ${min} ms`);
  assert.ok((min + max) / 2 >= 9.5 * 60_000, `mean total wait ${(min + max) / 2} ms`);
});
