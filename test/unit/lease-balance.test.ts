/**
 * The lease taker's arithmetic (src/consumer/leaseBalance.ts), as KCL's: ceil(leases / workers) per worker, free
 * leases first, at most one lease stolen from the most loaded worker at a time; and the whole protocol settling from
 * any start (workers taking in turns until nobody takes): balanced, every lease held once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { leasesToTake, type LeaseView } from '../../src/consumer/leaseBalance.js';

const inOrder = <T>(a: T[]): T[] => [...a];
const lease = (shardId: string, owner: string | null, expired = false): LeaseView => ({ shardId, owner, expired });
const shards = (n: number) => Array.from({ length: n }, (_, i) => `shard-${i}`);

test('first worker on 4 free leases takes all 4 (it is the only worker)', () => {
  const d = leasesToTake(shards(4).map((s) => lease(s, null)), 'a', inOrder);
  assert.deepEqual(d.take, shards(4));
  assert.equal(d.target, 4);
  assert.equal(d.steal, undefined);
});

test('a worker already at its target takes nothing, even free leases', () => {
  const views = [lease('s0', 'a'), lease('s1', 'a'), lease('s2', 'b'), lease('s3', null)];
  // workers a, b: target 2; a holds 2
  assert.deepEqual(leasesToTake(views, 'a', inOrder).take, []);
  assert.deepEqual(leasesToTake(views, 'b', inOrder).take, ['s3']);
});

test("a dead worker's expired leases are taken up to the target; expired owners are not counted as workers", () => {
  // 4 shards, workers a, b alive, c dead holding 2 (expired): target ceil(4/2) = 2
  const views = [lease('s0', 'a'), lease('s1', 'b'), lease('s2', 'c', true), lease('s3', 'c', true)];
  const a = leasesToTake(views, 'a', inOrder);
  assert.equal(a.workers, 2);
  assert.equal(a.target, 2);
  assert.deepEqual(a.take, ['s2']);
});

test('a joining worker with nothing free steals ONE lease from the most loaded worker', () => {
  // 4 shards held 2/1/1 by a, b, c; d joins: 4 workers, target 1
  const views = [lease('s0', 'a'), lease('s1', 'a'), lease('s2', 'b'), lease('s3', 'c')];
  const d = leasesToTake(views, 'd', inOrder);
  assert.equal(d.target, 1);
  assert.deepEqual(d.take, []);
  assert.deepEqual(d.steal, { shardId: 's0', from: 'a' });
});

test('no steal from a worker at the target when one lease is needed; one steal when more than one is', () => {
  // a: 2, b: 2, c: 0 → target ceil(4/3) = 2, c needs 2: steals 1 (a holds the target, c needs more than one)
  const views = [lease('s0', 'a'), lease('s1', 'a'), lease('s2', 'b'), lease('s3', 'b')];
  assert.deepEqual(leasesToTake(views, 'c', inOrder).steal, { shardId: 's0', from: 'a' });
  // a: 2, b: 1, c: 1 → c needs 1 and a holds exactly the target: stable
  const settled = [lease('s0', 'a'), lease('s1', 'a'), lease('s2', 'b'), lease('s3', 'c')];
  assert.equal(leasesToTake(settled, 'c', inOrder).steal, undefined);
  assert.equal(leasesToTake(settled, 'b', inOrder).steal, undefined);
});

test('more workers than leases: target 1, and a worker without a lease steals only from one holding more than 1', () => {
  const views = [lease('s0', 'a'), lease('s1', 'b')];
  const c = leasesToTake(views, 'c', inOrder);
  assert.equal(c.target, 1);
  assert.equal(c.steal, undefined);
});

test('no leases: nothing to take', () => {
  assert.deepEqual(leasesToTake([], 'a'), { take: [], steal: undefined, target: 0, workers: 1 });
});

/** Workers take in turns (each sees the others' results) until a full round changes nothing. */
function settle(n: number, workers: string[], start: (string | null)[] = []): Map<string, string | null> {
  const owner = new Map(shards(n).map((s, i) => [s, start[i] ?? null]));
  for (let round = 0; round < 100; round++) {
    let changed = false;
    for (const w of workers) {
      const d = leasesToTake([...owner].map(([s, o]) => lease(s, o, o !== null && !workers.includes(o))), w);
      for (const s of d.take) owner.set(s, w);
      if (d.steal) owner.set(d.steal.shardId, w);
      changed ||= d.take.length > 0 || d.steal !== undefined;
    }
    if (!changed) return owner;
  }
  throw new Error('did not settle in 100 rounds');
}

const counts = (owner: Map<string, string | null>, workers: string[]) => workers.map((w) => [...owner.values()].filter((o) => o === w).length).sort();

test('from any start, the workers settle with every lease held and no worker over ceil(leases / workers)', () => {
  assert.deepEqual(counts(settle(4, ['a', 'b', 'c']), ['a', 'b', 'c']), [1, 1, 2]);
  assert.deepEqual(counts(settle(4, ['a', 'b', 'c', 'd'], ['a', 'a', 'b', 'c']), ['a', 'b', 'c', 'd']), [1, 1, 1, 1]);
  // a dead worker (x) held everything: the two left share it 2/2
  const afterDeath = settle(4, ['a', 'b'], ['x', 'x', 'x', 'a']);
  assert.deepEqual(counts(afterDeath, ['a', 'b']), [2, 2]);
  for (const n of [1, 2, 5, 7, 16]) {
    for (const w of [1, 2, 3, 4, 6]) {
      const workers = Array.from({ length: w }, (_, i) => `w${i}`);
      const owner = settle(n, workers);
      assert.ok([...owner.values()].every((o) => o !== null), `${n} leases, ${w} workers: every lease held`);
      const c = counts(owner, workers);
      assert.ok(c[c.length - 1]! <= Math.ceil(n / w), `${n} leases, ${w} workers: ${c} within ceil`);
    }
  }
});
