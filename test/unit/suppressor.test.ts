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

/** A crash and restart of the live consumer, driven by hand: what `persist` saved, restored into a new Suppressor. */
function restarted(saved: ReturnType<Suppressor['snapshot']>): Suppressor {
  const s = new Suppressor(config, { trackTaken: true });
  s.restore(JSON.parse(JSON.stringify(saved)) as typeof saved);
  return s;
}

test('records read again after a crash (state persisted past the checkpoint) are counted once', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  const a = (i: number) => makeAlert(i);
  const s = new Suppressor(config, { trackTaken: true });
  s.filter([a(1)]);
  s.snapshot();
  s.committed(); // persist #1, then checkpoint #1 just past a1
  s.filter([a(2), a(3)]);
  const saved = s.snapshot(); // persist #2 (a2, a3 counted) ...
  s.committed(); // ... and the crash comes before checkpoint #2
  s.filter([a(4), a(5)]); // counted, never saved
  // The restart reads again from checkpoint #1: a2..a5, then the new a6.
  const r = restarted(saved);
  assert.deepEqual(r.filter([a(2), a(3), a(4), a(5), a(6)]).result, [], 'all counted into the restored window');
  assert.equal(r.flush().result[0]?.suppressedCount, 5, 'a2..a6: each counted once, none lost');
});

test('a window opened after the last persist is opened again by whichever alert of its key comes first after the restart', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  const other = makeAlert(1, { event: { ...makeAlert(1).event, dbUserName: 'other' } });
  const s = new Suppressor(config, { trackTaken: true });
  s.filter([other]);
  const saved = s.snapshot();
  s.committed(); // persist, checkpoints (shard A past `other`; shard B before a2)
  // Shard B: a2 opens a window and goes out (to the outbox, then the sink); the crash comes before the next persist.
  assert.equal(s.filter([makeAlert(2)]).result.length, 1);
  // After the restart shard A is ahead: its a3 comes before a2 is read again.
  const r = restarted(saved);
  assert.deepEqual(r.filter([makeAlert(3)]).result.map((x) => x.id), [makeAlert(3).id], 'a3 opens the window and goes out');
  assert.deepEqual(r.filter([makeAlert(2)]).result, [], 'a2 (delivered before the crash) is counted');
  const digests = r.flush().result;
  assert.deepEqual(digests.map((d) => d.suppressedCount), [1], 'per window: its alerts but its first, each once');
  assert.match(digests[0]!.message, new RegExp(`after alert ${makeAlert(3).id}$`));
});
