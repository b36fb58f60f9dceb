/**
 * The Suppressor's window timers under node:test mock timers (setTimeout and Date): a window's end is signalled
 * exactly when it comes (`onDue`), closing it yields the digest, an alert after the end opens a new window, and a
 * window closed early (flush) leaves no timer behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Suppressor } from '../../src/delivery/Suppressor.js';
import { makeAlert } from '../support/alerts.js';

const WINDOW = 60_000;
const config = [{ rules: ['pg.*'], windowMs: WINDOW, keys: ['dbUserName'] }];

test('a window signals its end exactly at start + window, and closing it then yields the digest', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
  const due: { key: string; at: number }[] = [];
  const s = new Suppressor(config, { onDue: (key) => due.push({ key, at: Date.now() }) });
  assert.deepEqual(s.filter([makeAlert(1)]).result.map((a) => a.id), [makeAlert(1).id], 'the first alert goes out');
  t.mock.timers.tick(10_000);
  assert.deepEqual(s.filter([makeAlert(2), makeAlert(3)]).result, [], 'later ones within the window are counted');
  t.mock.timers.tick(WINDOW - 10_000 - 1);
  assert.equal(due.length, 0, 'no signal 1 ms before the end');
  assert.deepEqual(s.closeDue(['any']).result, []);
  t.mock.timers.tick(1);
  assert.equal(due.length, 1);
  assert.equal(due[0]!.at, 1_000_000 + WINDOW);
  const [digest] = s.closeDue([due[0]!.key]).result;
  assert.equal(digest?.suppressedCount, 2);
  assert.match(digest.message, /^2 more alerts of rule pg\.role-password-change were suppressed within 1 min/);
  t.mock.timers.tick(10 * WINDOW);
  assert.equal(due.length, 1, 'one signal per window');
});

test('closeDue before the end changes nothing; an alert after the end opens a new window (the old digest first)', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  const due: string[] = [];
  const s = new Suppressor(config, { onDue: (key) => due.push(key) });
  s.filter([makeAlert(1)]);
  t.mock.timers.tick(1000);
  s.filter([makeAlert(2)]);
  // The timer has not run yet (as when the owner is busy): the key's window is still open.
  t.mock.timers.tick(WINDOW - 1001);
  const key = (s.snapshot().windows[0] ?? assert.fail('a window')).key;
  assert.deepEqual(s.closeDue([key]).result, [], 'not due yet');
  t.mock.timers.tick(1);
  assert.deepEqual(due, [key]);
  const out = s.filter([makeAlert(3)]).result;
  assert.deepEqual(out.map((a) => a.suppressedCount), [1, undefined], 'the digest of the ended window, then the alert that opens the next');
  assert.equal(out[1]!.id, makeAlert(3).id);
  t.mock.timers.tick(WINDOW);
  assert.deepEqual(due, [key, key], 'the new window ends a window later');
});

test('flush ends every window and cancels its timer', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  const due: string[] = [];
  const s = new Suppressor(config, { onDue: (key) => due.push(key) });
  s.filter([makeAlert(1), makeAlert(2)]);
  assert.equal(s.flush().result[0]?.suppressedCount, 1);
  t.mock.timers.tick(2 * WINDOW);
  assert.deepEqual(due, []);
});
