/**
 * Correlation state shared between processes (src/pipeline/SharedRuleState.ts, docs/rules.md "Shared state"): two
 * Correlators (two processes) on one store count each other's events, a threshold fires once, with the id one
 * process alone gives; a record applied on state another process changed meanwhile is applied again on the new
 * state (not lost, not fired twice); first_seen reports a combination new in one process only; items expire after
 * their window. The in-memory adapter here; the DynamoDB one in test/e2e/correlation-dynamodb.test.ts.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Alert } from '../../src/pipeline/alert.js';
import { Correlator, MAX_SHARED_ATTEMPTS, SHARED_ITEM_MARGIN_MS } from '../../src/pipeline/Correlator.js';
import { PipelineStats } from '../../src/pipeline/PipelineStats.js';
import { evaluateBatch } from '../../src/pipeline/processRecord.js';
import { MemoryRuleState, type ItemWrite, type SharedRuleState } from '../../src/pipeline/SharedRuleState.js';
import { TransientError } from '../../src/errors.js';
import { fingerprint, loadRules, type RuleSet } from '../../src/rules/index.js';
import type { DecodedBatch, RecordPosition } from '../../src/types.js';

const RULES = `
rules:
  - id: failed-login
    severity: medium
    when: {command: AUTH FAILURE}
  - id: brute-force
    severity: high
    correlation: {type: event_count, rules: [failed-login], groupBy: [remoteHost], window: 1m, gte: 5}
  - id: new-host
    severity: low
    correlation: {type: first_seen, rules: [failed-login], field: remoteHost, learning: 0s}
`;
const T0 = Date.parse('2026-10-14T09:00:00.000Z');

let dir: string;
let rules: RuleSet;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dasguard-corrshared-'));
  await writeFile(join(dir, 'rules.yaml'), RULES);
  rules = (await loadRules([join(dir, 'rules.yaml')])).ruleSet as RuleSet;
});
after(() => rm(dir, { recursive: true, force: true }));

const pos = (shard: number, r: number): RecordPosition => ({ source: 'test', shardId: `shardId-00000000000${shard}`, sequenceNumber: String(1000 + r) });
function event(i: number, host = '203.0.113.9'): DecodedBatch['events'][number] {
  const logTimeMs = T0 + i * 2_000;
  return {
    engine: 'postgres', clusterId: 'cluster-X', instanceId: 'db-X', type: 'record', class: 'MISC', command: 'AUTH FAILURE',
    logTime: new Date(logTimeMs).toISOString(), logTimeMs, statementId: i + 1, substatementId: 1, sessionId: `s${i}`, remoteHost: host,
  } as unknown as DecodedBatch['events'][number];
}
const batchOf = (events: DecodedBatch['events']): DecodedBatch => ({
  clusterId: 'cluster-X', instanceId: 'db-X', version: '1.1', events, heartbeats: [], rejected: [], warnings: [], encrypted: true,
});

/** One record through a correlator as the driver takes it: apply, then commit; its correlation alerts. */
async function feed(c: Correlator, shard: number, r: number, events: DecodedBatch['events']): Promise<Alert[]> {
  const outcome = evaluateBatch(batchOf(events), pos(shard, r), { rules });
  const alerts = await c.apply(outcome, new PipelineStats());
  c.commit();
  return alerts;
}
const open = async (shared: SharedRuleState, now?: () => number) => (await Correlator.open(rules, { shared, ...(now ? { now } : {}) })) as Correlator;
const of = (alerts: readonly Alert[], id: string) => alerts.filter((a) => a.ruleId === id);

describe('correlation state shared between processes', () => {
  it('two processes on one store, fed one shard each in turn: the brute force fires once, with the id one process alone gives', async () => {
    const alone = (await Correlator.open(rules)) as Correlator;
    const expected: Alert[] = [];
    for (let i = 0; i < 6; i++) expected.push(...(await feed(alone, 0, i, [event(i)])));
    assert.equal(of(expected, 'brute-force').length, 1);

    const store = new MemoryRuleState();
    const a = await open(store);
    const b = await open(store);
    const got: Alert[] = [];
    for (let i = 0; i < 6; i++) got.push(...(await feed(i % 2 === 0 ? a : b, i % 2, i, [event(i)])));
    const fired = of(got, 'brute-force');
    assert.equal(fired.length, 1, 'five failures split between two processes fire once');
    assert.equal(fired[0]!.id, of(expected, 'brute-force')[0]!.id);
    assert.equal((fired[0]!.event as { correlation: { events: number } }).correlation.events, 5);
    assert.equal(of(got, 'new-host').length, 1, 'the new host is new in one process only');
  });

  it('an event older than the group\'s newest, in the other process, counts too (the window is shared, not only its end)', async () => {
    const store = new MemoryRuleState();
    const a = await open(store);
    const b = await open(store);
    const got: Alert[] = [];
    for (const [c, i] of [[a, 0], [a, 2], [b, 1], [a, 3], [a, 4]] as const) got.push(...(await feed(c, c === a ? 0 : 1, i, [event(i)])));
    const fired = of(got, 'brute-force');
    assert.equal(fired.length, 1);
    assert.equal((fired[0]!.event as { correlation: { events: number } }).correlation.events, 5);
  });

  it('without a shared store the two processes count apart: the same split fires nowhere', async () => {
    const a = (await Correlator.open(rules)) as Correlator;
    const b = (await Correlator.open(rules)) as Correlator;
    const got: Alert[] = [];
    for (let i = 0; i < 6; i++) got.push(...(await feed(i % 2 === 0 ? a : b, i % 2, i, [event(i)])));
    assert.equal(of(got, 'brute-force').length, 0);
    assert.equal(of(got, 'new-host').length, 2, 'each process sees the host first');
  });

  it("a record applied on state another process changed meanwhile is applied again on it: neither lost nor fired twice", async () => {
    const store = new MemoryRuleState();
    const a = await open(store);
    for (let i = 0; i < 4; i++) await feed(a, 0, i, [event(i)]);
    // B's fifth failure reads the state, then A's fifth (another event) is written before B writes: B's write conflicts.
    let race: Promise<Alert[]> | undefined;
    let bWrites = 0;
    const racing: SharedRuleState = {
      name: store.name,
      read: (keys) => store.read(keys),
      write: async (items: readonly ItemWrite[]) => {
        bWrites++;
        if (race === undefined) {
          race = feed(a, 0, 4, [event(4)]);
          await race;
        }
        return store.write(items);
      },
    };
    const b2 = await open(racing);
    const fromB = await feed(b2, 1, 5, [event(5)]);
    const fromA = await race!;
    assert.equal(of(fromA, 'brute-force').length, 1, "A's fifth failure fired");
    assert.equal(of(fromB, 'brute-force').length, 0, 'B, applied again on the fired group, does not fire again');
    assert.equal(bWrites, 2, "B's first write met A's change and was not done");
    const again = await feed(await open(store), 1, 6, [event(6)]);
    assert.equal(of(again, 'brute-force').length, 0, "B's sixth failure counted after the firing: the group is quiet");
  });

  it('a record read again (a retry, in any process) counts once and gives its firing again, the same', async () => {
    const store = new MemoryRuleState();
    const a = await open(store);
    const got: Alert[] = [];
    for (let i = 0; i < 5; i++) got.push(...(await feed(a, 0, i, [event(i)])));
    const [first] = of(got, 'brute-force');
    assert.ok(first);
    // Another process reads records 2-4 again (a lease taken over before the checkpoint).
    const b = await open(store);
    const retried: Alert[] = [];
    for (let i = 2; i < 5; i++) retried.push(...(await feed(b, 1, i, [event(i)])));
    assert.deepEqual(of(retried, 'brute-force'), [{ ...first, source: of(retried, 'brute-force')[0]!.source }]);
    assert.equal(of(retried, 'brute-force')[0]!.id, first.id);
  });

  it('a rollback (the hand-off failed) leaves the shared write: the record read again is a duplicate there', async () => {
    const store = new MemoryRuleState();
    const a = await open(store);
    for (let i = 0; i < 4; i++) await feed(a, 0, i, [event(i)]);
    const outcome = evaluateBatch(batchOf([event(4)]), pos(0, 4), { rules });
    const fired = of(await a.apply(outcome, new PipelineStats()), 'brute-force');
    assert.equal(fired.length, 1);
    a.rollback();
    const again = of(await feed(a, 0, 4, [event(4)]), 'brute-force');
    assert.deepEqual(again.map((x) => x.id), [fired[0]!.id], 'the same firing again, same id');
  });

  it('gives up with a TransientError (retried) when every attempt meets a change', async () => {
    const store = new MemoryRuleState();
    let writes = 0;
    const c = await open({ name: 'a busy store', read: (k) => store.read(k), write: async () => (writes++, false) });
    await assert.rejects(feed(c, 0, 0, [event(0)]), (err: unknown) => err instanceof TransientError && /a busy store: the record at .* 20 times/.test((err as Error).message));
    assert.equal(writes, MAX_SHARED_ATTEMPTS);
  });

  it('a window group expires a margin after its window and quiet period; first_seen knowledge (without forget) never', async () => {
    const store = new MemoryRuleState();
    const now = Date.parse('2026-12-01T00:00:00.000Z');
    await feed(await open(store, () => now), 0, 0, [event(0)]);
    const bf = rules.correlations!.find((r) => r.info.id === 'brute-force')!;
    const nh = rules.correlations!.find((r) => r.info.id === 'new-host')!;
    assert.equal(store.expiresAtMs({ rule: `brute-force#${fingerprint(bf)}`, key: 'g["203.0.113.9"]' }), now + 60_000 + SHARED_ITEM_MARGIN_MS);
    assert.equal(store.expiresAtMs({ rule: `new-host#${fingerprint(nh)}`, key: 'g[]' }), undefined);
  });
});
