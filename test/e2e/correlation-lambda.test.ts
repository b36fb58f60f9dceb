/**
 * Correlation rules in the Lambda handler, as docs/lambda.md "Correlation rules" says: the state carries over the
 * invocations of one environment (a handler) and gives replay's alert; a cold start (a new handler) begins with
 * empty windows and environments do not share them; records run again in the same environment count once and give
 * the same alerts again (the correlation's too, same id and content), while a retry in another environment counts
 * them afresh (a correlation can fire there again, with another id).
 */
import { kinesisRecord } from '../support/lambdaEvent.js';
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { createHandler, type KinesisStreamRecord } from '../../src/lambda.js';
import type { Alert } from '../../src/pipeline/alert.js';
import type { RuleSet } from '../../src/rules/index.js';
import { STREAM, demoKeys, ruleSetFrom } from '../support/kinesis.js';
import { EACH_FAILURE, burst, correlationAlerts, correlationSummary, failedLoginRecords, packAndEachFailure, replayAlerts } from '../support/failedLogins.js';

/** The bundled pack and EACH_FAILURE. */
const RULES = packAndEachFailure();
let rules: RuleSet;
/** 12 failed logins from one host, 2 s apart, as Lambda's Kinesis records; and replay's alerts for them. */
let records: KinesisStreamRecord[];
let data: Uint8Array[];

before(async () => {
  rules = await ruleSetFrom(RULES);
  data = await failedLoginRecords(burst('203.0.113.50', 12, { every: 2 }));
  records = data.map((d, i) => {
    const seq = (49650000000000000000000000000000000000000000000000000000n + BigInt(i)).toString();
    return kinesisRecord(STREAM, 'shardId-000000000000', seq, Buffer.from(d).toString('base64'));
  });
});

/** One execution environment: a handler built once (as the bundled one is per container), and what it alerted. */
function environment() {
  const alerts: Alert[] = [];
  const h = createHandler({ rules, keys: demoKeys(), handoff: { handOff: async (a) => void alerts.push(...a), close: async () => undefined }, log: () => undefined });
  return {
    alerts,
    invoke: async (rs: KinesisStreamRecord[]) => assert.deepEqual(await h({ Records: rs }), { batchItemFailures: [] }),
  };
}

const bruteForce = (alerts: readonly Alert[]) => correlationAlerts(alerts).filter((a) => a.ruleId === 'brute-force');

describe('correlation rules in the Lambda handler', () => {
  it('one environment: a window half full after one batch fills in with the next, with the alert replay gives', async () => {
    const expected = bruteForce(await replayAlerts(data, RULES));
    assert.equal(expected.length, 1);
    const env = environment();
    await env.invoke(records.slice(0, 6));
    assert.equal(bruteForce(env.alerts).length, 0);
    await env.invoke(records.slice(6));
    assert.deepEqual(bruteForce(env.alerts).map(correlationSummary), expected.map(correlationSummary));
  });

  it('a cold start begins with empty windows, and environments do not share them: a burst split between two fires nowhere', async () => {
    const a = environment();
    const b = environment();
    await a.invoke(records.slice(0, 6));
    await b.invoke(records.slice(6)); // 6 + 6 failures within 24 s, counted apart
    assert.equal(bruteForce([...a.alerts, ...b.alerts]).length, 0);
    assert.equal([...a.alerts, ...b.alerts].filter((x) => x.ruleId === EACH_FAILURE).length, 12, 'every failure evaluated');
  });

  it('records run again in the same environment count once and give the same alerts again; in another environment afresh, firing again with another id', async () => {
    const a = environment();
    await a.invoke(records);
    const [first] = bruteForce(a.alerts);
    assert.ok(first);
    // Lambda retries from the third record (say its alerts were not delivered in time): the same environment.
    await a.invoke(records.slice(2));
    // The 10th failure completed the brute force: read again, it gives the same alert (the first copy may be lost).
    assert.deepEqual(bruteForce(a.alerts), [first, first], 'the same correlation alert again, same id and content');
    assert.equal(a.alerts.filter((x) => x.ruleId === EACH_FAILURE).length, 12 + 10, 'stateless alerts raised again');
    // The same retry in another environment: 10 failures it has not seen, a brute force of its own.
    const b = environment();
    await b.invoke(records.slice(2));
    const [again] = bruteForce(b.alerts);
    assert.ok(again, 'fired again in the other environment');
    assert.notEqual(again.id, first.id, 'its first contributing event is the third failure, not the first');
    assert.deepEqual(correlationSummary(again).group, correlationSummary(first).group);
  });
});
