/**
 * The correlation state holds only the effects of committed records (issue 10): when the hand-off of the record that
 * completes a threshold fails, runRecords rejects, the state (in memory and as persisted) is as before that record,
 * and the same records fed again (to the same correlator, as a Lambda retry; or to one reopened from the store, as
 * a restart) deliver the correlation alert exactly once, with the id of a run without the failure. Also the
 * engine's own rollback: the state, order of groups (eviction) and counters exactly as at `begin()`, for sequence
 * and first_seen rules too (their steps, known combinations and the start of a learning period). And a record
 * processed again AFTER its hand-off (a Lambda retry whose first alerts were lost; a restart whose checkpoint was
 * behind the state) gives the correlation alert it completed again, the same, without counting its events twice.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TransientError } from '../../src/errors.js';
import type { Alert } from '../../src/pipeline/alert.js';
import type { AlertHandoff } from '../../src/pipeline/AlertHandoff.js';
import { Correlator } from '../../src/pipeline/Correlator.js';
import { MemoryCorrelationStore } from '../../src/pipeline/CorrelationStore.js';
import { PipelineStats } from '../../src/pipeline/PipelineStats.js';
import { evaluateBatch } from '../../src/pipeline/processRecord.js';
import { fromArray, runRecords } from '../../src/pipeline/runRecords.js';
import { CorrelationEngine, loadRules, type RuleSet } from '../../src/rules/index.js';
import type { DecodedBatch, RecordPosition } from '../../src/types.js';

const RULES = `
rules:
  - id: failed-login
    severity: medium
    when: {command: AUTH FAILURE}
  - id: brute-force
    severity: high
    message: 'brute force from {{remoteHost}}'
    correlation: {type: event_count, rules: [failed-login], groupBy: [remoteHost], window: 1m, gte: 5}
`;
const T0 = Date.parse('2026-10-14T09:00:00.000Z');

let dir: string;
let rules: RuleSet;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dasguard-corrcommit-'));
  await writeFile(join(dir, 'rules.yaml'), RULES);
  rules = (await loadRules([join(dir, 'rules.yaml')])).ruleSet as RuleSet;
});
after(() => rm(dir, { recursive: true, force: true }));

const pos = (r: number): RecordPosition => ({ source: 'test', shardId: 'shardId-000000000000', sequenceNumber: String(1000 + r) });
function event(i: number, host = '203.0.113.9'): DecodedBatch['events'][number] {
  const logTimeMs = T0 + i * 10_000;
  return {
    engine: 'postgres', clusterId: 'cluster-X', instanceId: 'db-X', type: 'record', class: 'MISC', command: 'AUTH FAILURE',
    logTime: new Date(logTimeMs).toISOString(), logTimeMs, statementId: i + 1, substatementId: 1, sessionId: `s${i}`, remoteHost: host,
  } as unknown as DecodedBatch['events'][number];
}
/** Record r: failed logins 2r and 2r+1 (10 s apart): record 2 completes the threshold of 5. */
const batchOf = (r: number): DecodedBatch => ({
  clusterId: 'cluster-X', instanceId: 'db-X', version: '1.1', events: [event(2 * r), event(2 * r + 1)], heartbeats: [], rejected: [], warnings: [], encrypted: true,
});

/** Records `from`..4 through runRecords; `fail` makes the hand-off of a correlation alert fail (a TransientError). */
async function feed(correlator: Correlator, from: number, delivered: Alert[], fail = false, committed: number[] = []): Promise<void> {
  const handoff: AlertHandoff = {
    handOff: async (alerts) => {
      if (fail && alerts.some((a) => a.ruleId === 'brute-force')) throw new TransientError('outbox full');
      delivered.push(...alerts);
    },
  } as AlertHandoff;
  await runRecords(fromArray([0, 1, 2, 3, 4].slice(from)), {
    toItem: (r) => ({ kind: 'record', record: { data: {}, position: pos(r) } }),
    process: async (_record, r) => evaluateBatch(batchOf(r), pos(r), { rules }),
    correlator,
    stats: new PipelineStats(),
    handoff,
    handoffRetry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 1 },
    commit: (r) => void committed.push(r),
  });
}
const correlations = (alerts: readonly Alert[]) => alerts.filter((a) => a.ruleId === 'brute-force').map((a) => a.id);

async function baseline(): Promise<string[]> {
  const delivered: Alert[] = [];
  await feed((await Correlator.open(rules)) as Correlator, 0, delivered);
  return correlations(delivered);
}

test('a failed hand-off leaves no trace in the state: fed again, the correlation alert is delivered once, same id', async () => {
  const want = await baseline();
  assert.equal(want.length, 1);

  const store = new MemoryCorrelationStore();
  const c = (await Correlator.open(rules, { store })) as Correlator;
  const delivered: Alert[] = [];
  await assert.rejects(feed(c, 0, delivered, true), /outbox full/);
  assert.deepEqual(correlations(delivered), []);

  // Same correlator, the same records again (a Lambda retry in the same container: the whole batch).
  await feed(c, 0, delivered);
  assert.deepEqual(correlations(delivered), want);
});

test('the state persisted after the failure holds the committed records only; a restart delivers the alert once', async () => {
  const want = await baseline();
  const store = new MemoryCorrelationStore();
  const c = (await Correlator.open(rules, { store })) as Correlator;
  const committed: number[] = [];
  await assert.rejects(feed(c, 0, [], true, committed), /outbox full/);
  assert.deepEqual(committed, [0, 1]);
  await c.persist(); // what `run` does at its stop

  // The reference: a correlator that saw records 0 and 1 only (the committed ones).
  const ref = (await Correlator.open(rules)) as Correlator;
  await runRecords(fromArray([0, 1]), {
    toItem: (r) => ({ kind: 'record', record: { data: {}, position: pos(r) } }),
    process: async (_record, r) => evaluateBatch(batchOf(r), pos(r), { rules }),
    correlator: ref,
    stats: new PipelineStats(),
    handoff: { handOff: async () => {} } as unknown as AlertHandoff,
  });
  assert.deepEqual(await store.load(), ref.engine.snapshot());
  assert.deepEqual(c.engine.snapshot(), ref.engine.snapshot());
  assert.equal(c.engine.snapshot().rules['brute-force']?.[0]?.[1].entries.length, 4);

  // A restart: the state reopened from the store, reading again from the first record not committed.
  const delivered: Alert[] = [];
  await feed((await Correlator.open(rules, { store })) as Correlator, 2, delivered);
  assert.deepEqual(correlations(delivered), want);
});

test('CorrelationEngine.rollback restores groups, their eviction order and counters exactly; snapshot shows the committed state', () => {
  const rule = rules.correlations?.find((r) => r.info.id === 'brute-force');
  assert.ok(rule);
  const e = new CorrelationEngine({ maxGroups: 2 });
  e.observe(rule, event(0, 'h1'));
  e.observe(rule, event(1, 'h2'));
  const before = e.snapshot();
  const counters = { ...e.counters };
  e.begin();
  e.observe(rule, event(2, 'h1')); // h1 moves behind h2
  e.observe(rule, event(3, 'h3')); // evicts h2
  assert.deepEqual(e.snapshot(), before);
  e.rollback();
  assert.deepEqual(e.snapshot(), before);
  assert.deepEqual(e.counters, counters);
  // The order is restored too: a new group evicts h1 (the least recently updated), as without the rollback.
  e.observe(rule, event(4, 'h4'));
  assert.deepEqual(e.groupCounts(), { 'brute-force': 2 });
  assert.deepEqual(e.snapshot().rules['brute-force']?.map(([k]) => k), [JSON.stringify(['h2']), JSON.stringify(['h4'])]);
  e.begin();
  assert.throws(() => e.begin(), /staged already/);
  e.commit();
});

test('the least recently updated group is evicted, whatever the events in a row of one group, a rollback or an item put in', () => {
  const rule = rules.correlations?.find((r) => r.info.id === 'brute-force');
  assert.ok(rule);
  const order = (e: CorrelationEngine) => e.snapshot().rules['brute-force']?.map(([k]) => JSON.parse(k)[0] as string);
  const e = new CorrelationEngine({ maxGroups: 2 });
  e.observe(rule, event(0, 'h1'));
  e.observe(rule, event(1, 'h1'));
  e.observe(rule, event(2, 'h2'));
  e.observe(rule, event(3, 'h2'));
  e.observe(rule, event(4, 'h1'));
  e.observe(rule, event(5, 'h1'));
  e.observe(rule, event(6, 'h3')); // evicts h2
  assert.deepEqual(order(e), ['h1', 'h3']);
  // Rolled back: h1 is the least recently updated again, and the next event of h3 keeps it so.
  e.begin();
  e.observe(rule, event(7, 'h1'));
  e.rollback();
  e.observe(rule, event(8, 'h3'));
  e.observe(rule, event(9, 'h4')); // evicts h1
  assert.deepEqual(order(e), ['h3', 'h4']);
  // An item put in (a state shared with other processes, which evicts nothing) is the most recently updated: the
  // next event of h4 moves h4 behind it again.
  const other = new CorrelationEngine();
  other.observe(rule, event(10, 'h5'));
  const [key] = other.itemKeys(rule, event(10, 'h5'));
  assert.ok(key !== undefined);
  e.putItem('brute-force', key, other.item('brute-force', key));
  assert.deepEqual(order(e), ['h3', 'h4', 'h5']);
  e.observe(rule, event(11, 'h4'));
  assert.deepEqual(order(e), ['h3', 'h5', 'h4']);
  e.observe(rule, event(12, 'h6')); // evicts h3
  assert.deepEqual(order(e), ['h5', 'h4', 'h6']);
});

const STATEFUL = `
rules:
  - id: failed-login
    severity: medium
    when: {command: AUTH FAILURE}
  - id: fail-then-login
    severity: high
    correlation:
      type: sequence
      groupBy: [remoteHost]
      window: 10m
      steps:
        - {rules: [failed-login], gte: 2}
        - {when: {command: CONNECT}}
  - id: new-user-host
    severity: high
    when: {command: CONNECT}
    correlation: {type: first_seen, groupBy: [remoteHost], field: dbUserName, learning: 1d, forget: 30d}
`;

test('rollback restores sequence and first_seen state exactly: steps, known combinations, the learning start, counters', async () => {
  await writeFile(join(dir, 'stateful.yaml'), STATEFUL);
  const rs = (await loadRules([join(dir, 'stateful.yaml')])).ruleSet as RuleSet;
  const seq = rs.correlations!.find((r) => r.info.id === 'fail-then-login')!;
  const seen = rs.correlations!.find((r) => r.info.id === 'new-user-host')!;
  const at = (i: number, ms: number, fields: Record<string, unknown>) =>
    ({ ...event(i), logTimeMs: T0 + ms, logTime: new Date(T0 + ms).toISOString(), ...fields }) as unknown as Record<string, unknown>;
  const login = (i: number, ms: number, user: string, host = 'h1') => at(i, ms, { command: 'CONNECT', dbUserName: user, remoteHost: host });
  const e = new CorrelationEngine({ maxGroups: 2 });

  // A record that begins the first_seen rule's learning, rolled back: the learning has not begun.
  e.begin();
  e.observe(seen, login(0, 0, 'alice'));
  e.rollback();
  assert.deepEqual(e.snapshot(), { version: 1, rules: {} });

  e.observe(seen, login(1, 0, 'alice'));
  e.observe(seq, at(2, 1000, { command: 'AUTH FAILURE', remoteHost: 'h1' }));
  const before = e.snapshot();
  const counters = { ...e.counters };
  const text = JSON.stringify(before);
  e.begin();
  e.observe(seq, at(3, 2000, { command: 'AUTH FAILURE', remoteHost: 'h1' }));
  const fired = e.observe(seq, login(4, 3000, 'alice'));
  assert.ok(fired, 'the staged record completes the sequence');
  assert.equal(e.observe(seen, login(5, 2 * 86_400_000, 'mallory')) !== undefined, true, 'and fires first_seen');
  e.observe(seen, login(6, 2 * 86_400_000, 'bob', 'h2'));
  e.observe(seen, login(7, 2 * 86_400_000, 'bob', 'h3')); // a third group evicts one
  e.observe(seen, login(6, 2 * 86_400_000, 'bob', 'h2')); // a duplicate
  assert.deepEqual(e.snapshot(), before, 'staged changes are not in the snapshot');
  e.rollback();
  assert.equal(JSON.stringify(e.snapshot()), text, 'byte for byte');
  assert.deepEqual(e.counters, counters);
  // After the rollback the same record gives the same firings (nothing of it was kept).
  e.begin();
  e.observe(seq, at(3, 2000, { command: 'AUTH FAILURE', remoteHost: 'h1' }));
  const again = e.observe(seq, login(4, 3000, 'alice'));
  assert.deepEqual(again, fired);
  assert.ok(e.observe(seen, login(5, 2 * 86_400_000, 'mallory')));
  e.commit();
  assert.notEqual(JSON.stringify(e.snapshot()), text);
});

test('a record processed again after its hand-off (its alerts lost on the way) gives its correlation alert again: same id, same content', async () => {
  const first: Alert[] = [];
  const c = (await Correlator.open(rules)) as Correlator;
  await feed(c, 0, first);
  const [alert] = first.filter((a) => a.ruleId === 'brute-force');
  assert.ok(alert);
  const state = JSON.stringify(c.engine.snapshot());

  // A Lambda retry in the same container: records 2 to 4 again (record 2 completed the threshold).
  const again: Alert[] = [];
  await feed(c, 2, again);
  assert.deepEqual(again.filter((a) => a.ruleId === 'brute-force'), [alert], 'the same alert, every field');
  assert.equal(JSON.stringify(c.engine.snapshot()), state, 'counted once: the state is as it was');

  // Records after the one that fired, again: they give no correlation alert (they completed nothing).
  const later: Alert[] = [];
  await feed(c, 3, later);
  assert.deepEqual(correlations(later), []);
});

test('a restart whose checkpoint was behind the state reads the firing record again: the same correlation alert, same id', async () => {
  const store = new MemoryCorrelationStore();
  const c = (await Correlator.open(rules, { store })) as Correlator;
  const first: Alert[] = [];
  await feed(c, 0, first);
  await c.persist(); // the state was saved after record 4, the checkpoint (say) after record 1
  const reopened = (await Correlator.open(rules, { store })) as Correlator;
  const again: Alert[] = [];
  await feed(reopened, 2, again);
  assert.deepEqual(again.filter((a) => a.ruleId === 'brute-force'), first.filter((a) => a.ruleId === 'brute-force'));
  assert.deepEqual(await store.load(), reopened.engine.snapshot(), 'nothing counted twice');
});

test('a firing given again is staged like any change: rolled back, the state and counters are exactly as at begin()', () => {
  const rule = rules.correlations?.find((r) => r.info.id === 'brute-force');
  assert.ok(rule);
  const e = new CorrelationEngine({ maxGroups: 2 });
  for (let i = 0; i < 4; i++) e.observe(rule, event(i, 'h1'));
  const fired = e.observe(rule, event(4, 'h1'));
  assert.ok(fired);
  e.observe(rule, event(5, 'h2'));
  const text = JSON.stringify(e.snapshot());
  const counters = { ...e.counters };
  e.begin();
  assert.deepEqual(e.observe(rule, event(4, 'h1')), fired, 'the trigger again: its firing');
  e.observe(rule, event(6, 'h3')); // evicts h2 (h1 was just updated)
  assert.equal(JSON.stringify(e.snapshot()), text, 'staged: not in the snapshot');
  e.rollback();
  assert.equal(JSON.stringify(e.snapshot()), text, 'byte for byte');
  assert.deepEqual(e.counters, counters);
  // A staged firing rolled back leaves no firing to give again.
  const f = new CorrelationEngine();
  for (let i = 0; i < 4; i++) f.observe(rule, event(i, 'h1'));
  f.begin();
  assert.ok(f.observe(rule, event(4, 'h1')));
  f.rollback();
  assert.equal(f.snapshot().rules['brute-force']?.[0]?.[1].fired, undefined);
  assert.deepEqual(f.observe(rule, event(4, 'h1')), fired, 'fed again, it fires as the first time');
});

test('the event that completed a firing is known again by its identity, as its key says: not for another event of the same time', () => {
  const rule = rules.correlations?.find((r) => r.info.id === 'brute-force');
  assert.ok(rule);
  const fire = (trigger: Record<string, unknown>) => {
    const e = new CorrelationEngine();
    for (let i = 0; i < 4; i++) e.observe(rule, event(i, 'h1'));
    const fired = e.observe(rule, trigger);
    assert.ok(fired);
    return { e, fired };
  };
  const base = event(4, 'h1') as unknown as Record<string, unknown>;
  {
    const { e, fired } = fire(base);
    assert.deepEqual(e.observe(rule, { ...base }), fired, 'the trigger again (a copy): its firing');
    // Same time, another identity: statement 5 as a string is another event (its key differs), counted.
    const dupes = e.counters.duplicates;
    assert.equal(e.observe(rule, { ...base, statementId: String(base.statementId) }), undefined);
    assert.equal(e.counters.duplicates, dupes);
    assert.equal(e.snapshot().rules['brute-force']?.[0]?.[1].entries.length, 6);
  }
  {
    // An identity field that is an object: an equal object is the same event (the key is made of its JSON).
    const { e, fired } = fire({ ...base, sessionId: { pid: 7 } });
    assert.deepEqual(e.observe(rule, { ...base, sessionId: { pid: 7 } }), fired);
    assert.equal(e.observe(rule, { ...base, sessionId: { pid: 8 } }), undefined);
  }
  {
    // A firing restored from a snapshot (no identity kept beside it) is known by its key.
    const { e, fired } = fire(base);
    const restored = new CorrelationEngine();
    restored.restore(e.snapshot(), [rule]);
    assert.deepEqual(restored.observe(rule, { ...base }), fired);
  }
});

test('events of several groups in turn count in their own groups: a host 1 is not the host "1" before it, nor null', () => {
  const rule = rules.correlations?.find((r) => r.info.id === 'brute-force');
  assert.ok(rule);
  const e = new CorrelationEngine();
  const hosts: unknown[] = ['1', 1, '1', null, 1, 'h', 'h', null, '1', 1, { a: 1 }, { a: 1 }];
  // One second apart: all in the minute's window.
  hosts.forEach((h, i) => e.observe(rule, { ...(event(i) as unknown as Record<string, unknown>), remoteHost: h, logTimeMs: T0 + i * 1000, logTime: new Date(T0 + i * 1000).toISOString() }));
  const counts = Object.fromEntries(e.snapshot().rules['brute-force']!.map(([k, g]) => [k, g.entries.length]));
  assert.deepEqual(counts, { '["1"]': 3, '[1]': 3, '[null]': 2, '["h"]': 2, '[{"a":1}]': 2 });
});
