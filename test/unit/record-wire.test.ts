/**
 * What a record worker sends back for a correlation base event: the event, and its redacted copy as what differs
 * from the event (src/pipeline/workers/wire.ts). Through a structured clone (what postMessage does), the main thread
 * gets back an object equal to the redacted copy, key order and shared parts included, whatever the event holds.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { redactEvent } from '../../src/redaction/index.js';
import { redactedDiff, redactedOf } from '../../src/pipeline/workers/wire.js';

/** The redacted copy as the main thread rebuilds it after the event and the diff crossed in one message. */
function across(event: Record<string, unknown>, redacted: Record<string, unknown>): { rebuilt: Record<string, unknown>; whole: boolean } {
  const diff = redactedDiff(event, redacted);
  const wire = structuredClone({ event, ...diff });
  return { rebuilt: redactedOf(wire), whole: diff.redacted !== undefined };
}

function sameObject(got: Record<string, unknown>, expected: Record<string, unknown>): void {
  assert.deepEqual(got, expected);
  assert.deepEqual(Object.keys(got), Object.keys(expected), 'the same keys in the same order');
  assert.equal(Object.getPrototypeOf(got), Object.prototype);
}

const EVENT = {
  logTime: '2026-10-01 09:00:00.042274+00',
  dbUserName: 'app',
  commandText: "SELECT * FROM cards WHERE pan = '4111111111111111'",
  paramList: ['4111111111111111'],
  engineNativeAuditFields: { OS_USERNAME: 'rdsdb', ERROR: "ORA-01017 for 'scott'" },
  objects: [{ name: 'cards' }],
  engine: 'postgresql',
  errorMessage: "password authentication failed for user 'app'",
  logTimeMs: 1790845200042,
};

describe('a base event\'s redacted copy on the wire', () => {
  for (const mode of ['literals', 'full', 'none'] as const) {
    it(`redactEvent(${mode}): sent as a diff, rebuilt equal, the fields redaction leaves alone shared with the event`, () => {
      const event = { ...EVENT, key: 'not in a redacted copy' };
      const redacted = redactEvent(event, mode);
      const { rebuilt, whole } = across(event, redacted);
      assert.equal(whole, false);
      sameObject(rebuilt, redacted);
      assert.equal(Object.hasOwn(rebuilt, 'key'), false, 'a field redaction removes stays removed');
    });
  }

  it('the diff is small: only what redaction changed', () => {
    const redacted = redactEvent(EVENT, 'literals');
    const diff = redactedDiff(EVENT, redacted);
    const changedKeys = (diff.changed ?? []).filter((_, i) => i % 2 === 0);
    assert.ok(changedKeys.length > 0 && changedKeys.length < Object.keys(EVENT).length / 2, `changed: ${changedKeys.join(', ')}`);
    assert.ok(!changedKeys.includes('dbUserName') && !changedKeys.includes('objects'));
  });

  it('a nested part the copy shares with the event is one object again after the clone (as when sent whole)', () => {
    const redacted = redactEvent(EVENT, 'literals');
    assert.equal(redacted.objects, EVENT.objects);
    const wire = structuredClone({ event: EVENT, ...redactedDiff(EVENT, redacted) });
    assert.equal(redactedOf(wire).objects, wire.event.objects);
  });

  it('fields the event does not have, after its own: rebuilt in the same order', () => {
    const event = { a: 1, b: 'x', c: null };
    const redacted = { a: 1, c: 'masked', d: 'added', e: undefined };
    const { rebuilt, whole } = across(event, redacted);
    assert.equal(whole, false);
    sameObject(rebuilt, redacted);
    assert.equal(Object.hasOwn(rebuilt, 'e'), true, 'a field holding undefined is kept');
  });

  it('another order than the event\'s: sent whole', () => {
    const event = { a: 1, b: 2, c: 3 };
    const redacted = { b: 2, a: 1, c: 3 };
    const { rebuilt, whole } = across(event, redacted);
    assert.equal(whole, true);
    sameObject(rebuilt, redacted);
  });

  it('a field named __proto__ (JSON.parse makes it an own field) stays an own field, prototype untouched', () => {
    const event = JSON.parse('{"a": 1, "__proto__": {"polluted": true}, "b": "secret"}') as Record<string, unknown>;
    const redacted = JSON.parse('{"a": 1, "__proto__": {"polluted": false}, "b": "?", "__proto__x": 1}') as Record<string, unknown>;
    const { rebuilt, whole } = across(event, redacted);
    assert.equal(whole, false);
    sameObject(rebuilt, redacted);
    assert.deepEqual(Object.getOwnPropertyDescriptor(rebuilt, '__proto__')?.value, { polluted: false });
    assert.equal((rebuilt as { polluted?: boolean }).polluted, undefined);
  });

  it('NaN, -0 and a value that changed type are told apart', () => {
    const event = { n: NaN, z: 0, t: '1' };
    const redacted = { n: NaN, z: -0, t: 1 };
    const { rebuilt } = across(event, redacted);
    sameObject(rebuilt, redacted);
    assert.ok(Object.is(rebuilt.z, -0));
  });
});
