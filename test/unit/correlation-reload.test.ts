/**
 * Correlator.reload (hot reload of `run`: src/commands/ruleReload.ts): the correlations of the new rules take over
 * the state of the old ones as a restart takes over a saved state (CorrelationEngine.restore): an unchanged
 * correlation keeps its window, a changed one (its groupBy) restarts empty, a removed one is dropped; a record
 * evaluated with the old rules before the reload (in flight) no longer feeds a correlation the reload restarted.
 * And a LiveRuleSet is pinned per record: a swap during a record's decryption leaves that record with the old rules.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Alert } from '../../src/pipeline/alert.js';
import { Correlator } from '../../src/pipeline/Correlator.js';
import { PipelineStats } from '../../src/pipeline/PipelineStats.js';
import { evaluateBatch, processRecord, type RecordOutcome } from '../../src/pipeline/processRecord.js';
import type { KeyProvider } from '../../src/keys/KeyProvider.js';
import { demoKeys, RESOURCE_ID } from '../support/kinesis.js';
import { failedLoginRecords } from '../support/failedLogins.js';
import { LiveRuleSet, loadRuleTexts, type RuleSet } from '../../src/rules/index.js';
import type { DecodedBatch, RecordPosition } from '../../src/types.js';

const T0 = Date.parse('2026-10-14T09:00:00.000Z');
const rulesOf = (groupBy: string, extra = ''): RuleSet => {
  const text = `rules:
  - id: failed-login
    severity: medium
    when: {command: AUTH FAILURE}
  - id: brute-force
    severity: high
    correlation: {type: event_count, rules: [failed-login], groupBy: [${groupBy}], window: 1m, gte: 3}
${extra}`;
  const { ruleSet, problems } = loadRuleTexts([{ file: 'rules.yaml', text }]);
  assert.ok(ruleSet, JSON.stringify(problems));
  return ruleSet;
};
const SPRAY = `  - id: spray
    severity: high
    correlation: {type: value_count, rules: [failed-login], field: dbUserName, groupBy: [remoteHost], window: 1m, gte: 9}
`;

let n = 0;
const pos = (): RecordPosition => ({ source: 'test', shardId: 'shardId-0', sequenceNumber: String(++n) });
function batch(i: number): DecodedBatch {
  const logTimeMs = T0 + i * 1000;
  const e = {
    engine: 'postgres', clusterId: 'cluster-X', instanceId: 'db-X', type: 'record', class: 'MISC', command: 'AUTH FAILURE', dbUserName: `u${i}`,
    logTime: new Date(logTimeMs).toISOString(), logTimeMs, statementId: 1, substatementId: 1, sessionId: `s${i}`, remoteHost: '203.0.113.9',
  } as unknown as DecodedBatch['events'][number];
  return { clusterId: 'cluster-X', instanceId: 'db-X', version: '1.1', events: [e], heartbeats: [], rejected: [], warnings: [], encrypted: false };
}
async function step(c: Correlator, outcome: RecordOutcome): Promise<Alert[]> {
  const alerts = await c.apply(outcome, new PipelineStats());
  c.commit();
  return alerts;
}

test('an unchanged correlation keeps its window across a reload; its alert carries the new version', async () => {
  const old = rulesOf('remoteHost');
  const live = new LiveRuleSet(old);
  const c = (await Correlator.open(live, { reloadable: true }))!;
  assert.deepEqual(await step(c, evaluateBatch(batch(0), pos(), { rules: live })), []);
  assert.deepEqual(await step(c, evaluateBatch(batch(1), pos(), { rules: live })), []);
  const next = rulesOf('remoteHost', SPRAY);
  assert.notEqual(next.version, old.version);
  const dropped = c.reload(next);
  live.swap(next);
  assert.deepEqual(await dropped, { restarted: [], removed: [] });
  const fired = await step(c, evaluateBatch(batch(2), pos(), { rules: live }));
  assert.deepEqual(fired.map((a) => [a.ruleId, a.rulesVersion]), [['brute-force', next.version]]);
  assert.equal((fired[0]!.event as { correlation: { events: number } }).correlation.events, 3);
});

test('a changed correlation restarts empty, a removed one is dropped; a record evaluated before the reload does not feed the restarted one', async () => {
  const live = new LiveRuleSet(rulesOf('remoteHost', SPRAY));
  const c = (await Correlator.open(live, { reloadable: true }))!;
  await step(c, evaluateBatch(batch(0), pos(), { rules: live }));
  await step(c, evaluateBatch(batch(1), pos(), { rules: live }));
  // Evaluated with the old rules (in flight), applied after the reload.
  const inFlight = evaluateBatch(batch(2), pos(), { rules: live });
  const next = rulesOf('remoteHost, dbUserName');
  const dropped = c.reload(next);
  live.swap(next);
  assert.deepEqual(await dropped, { restarted: ['brute-force'], removed: ['spray'] });
  assert.deepEqual(await step(c, inFlight), [], 'the restarted rule is not fed by the old rules');
  assert.deepEqual(c.engine.groupCounts(), {});
  // The new definition counts from here.
  for (const i of [3, 4]) assert.deepEqual(await step(c, evaluateBatch(batch(i), pos(), { rules: live })), []);
});

test('a record is evaluated with the rules running when its processing starts: a swap while it decrypts applies from the next record', async () => {
  const a = rulesOf('remoteHost');
  const b = rulesOf('remoteHost', SPRAY);
  const live = new LiveRuleSet(a);
  const keys = demoKeys();
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let asked!: () => void;
  const keyAsked = new Promise<void>((r) => (asked = r));
  const slowKeys: KeyProvider = {
    getDataKey: async (c, ctx) => {
      asked();
      await gate;
      return keys.getDataKey(c, ctx);
    },
    stats: () => keys.stats(),
  };
  const data = (await failedLoginRecords([{ host: '203.0.113.9', user: 'u', at: 0 }]))[0]!;
  const record = { data, position: pos(), resourceId: RESOURCE_ID };
  const inFlight = processRecord(record, { keys: slowKeys, rules: live });
  await keyAsked;
  live.swap(b);
  release();
  const started = await inFlight;
  const next = await processRecord({ ...record, position: pos() }, { keys, rules: live });
  assert.deepEqual(started.correlating?.map((x) => [x.rules.map((r) => r.info.id), x.rulesVersion]), [[['brute-force'], a.version]]);
  assert.deepEqual(next.correlating?.map((x) => [x.rules.map((r) => r.info.id), x.rulesVersion]), [[['brute-force', 'spray'], b.version]]);
});
