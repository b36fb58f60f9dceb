import { test } from 'node:test';
import assert from 'node:assert/strict';
import { limitHeapGrowth } from '../../src/util/heapGrowth.js';

test('the heap growing factor is set unless the process was started with its own', () => {
  assert.equal(limitHeapGrowth(['--heap-growing-percent=80']), false);
  assert.equal(limitHeapGrowth(['--stack-size=2000', '--heap_growing_percent=80']), false);
  assert.equal(limitHeapGrowth(['--heap-growing-percentile=1']), true, 'another flag that only starts the same');
  assert.equal(limitHeapGrowth([]), true);
});
