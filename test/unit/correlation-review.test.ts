/**
 * Correlation fixes of the i10 review (src/rules/CorrelationEngine.ts, correlation.ts): thresholds beyond the
 * entries a group keeps one by one stay exact (folded chunks), unreachable thresholds are refused at load, and the
 * other review points (sequence entries on a busy account, local-time fields, rules changed under a saved state,
 * first_seen per cluster, the event a message is rendered on, replays with forget:, realert: 0s).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadRuleTexts, completeTestEvent } from '../../src/rules/index.js';
import type { CompiledRuleSet } from '../../src/rules/RuleSet.js';
import { CorrelationEngine, eventKey, type CorrelationSnapshot } from '../../src/rules/CorrelationEngine.js';
import { Correlator } from '../../src/pipeline/Correlator.js';
import { MemoryCorrelationStore } from '../../src/pipeline/CorrelationStore.js';
import { PipelineStats } from '../../src/pipeline/PipelineStats.js';
import { redactEvent } from '../../src/redaction/index.js';
import type { CompiledRule } from '../../src/rules/types.js';

const T0 = Date.parse('2024-05-01T12:00:00.000Z');
let sid = 0;
/** A complete event at T0 + `ms`, its own statement (so its own identity). */
function ev(ms: number, fields: Record<string, unknown>): Record<string, unknown> {
  const logTime = new Date(T0 + ms).toISOString().replace('T', ' ').replace(/\.(\d{3})Z$/, '.$1000+00');
  return completeTestEvent({ statementId: ++sid, ...fields, logTime });
}
function load(text: string): CompiledRuleSet {
  const { ruleSet, problems } = loadRuleTexts([{ file: 'r.yaml', text }]);
  assert.deepEqual(problems, []);
  return ruleSet as CompiledRuleSet;
}
function problems(text: string): string[] {
  return loadRuleTexts([{ file: 'r.yaml', text }]).problems.map((p) => `${p.line} ${p.ruleId ?? '-'}: ${p.message}`);
}
function rule(rs: CompiledRuleSet, id: string): CompiledRule {
  return rs.compiledRules().find((c) => c.info.id === id) as CompiledRule;
}
/** Feeds the events the rule's base predicate takes; the firings with the index (1-based) of the event that made each. */
function feed(r: CompiledRule, events: Record<string, unknown>[], eng = new CorrelationEngine()) {
  const out: { after: number; value: number; events: number; firstKey: string; firstTimeMs: number; lastTimeMs: number; last: Record<string, unknown> }[] = [];
  events.forEach((e, i) => {
    if (r.basePredicate?.(e) !== true) return;
    const f = eng.observe(r, e);
    if (f !== undefined) out.push({ after: i + 1, value: f.value, events: f.events, firstKey: f.firstKey, firstTimeMs: f.firstTimeMs, lastTimeMs: f.lastTimeMs, last: f.last });
  });
  return out;
}

const THRESHOLDS = `
rules:
  - id: bulk
    severity: high
    when: {class: READ}
    correlation: {type: value_sum, field: rows, groupBy: [dbUserName], window: 10m, gte: 1000000}
  - id: many
    severity: high
    when: {class: READ}
    correlation: {type: event_count, groupBy: [dbUserName], window: 10m, gte: 1500}
  - id: dbs
    severity: high
    when: {class: READ}
    correlation: {type: value_count, field: databaseName, groupBy: [dbUserName], window: 1h, gte: 6}
`;
const read = (ms: number, extra: Record<string, unknown> = {}) => ev(ms, { class: 'READ', command: 'SELECT', dbUserName: 'analyst', ...extra });

test('value_sum beyond 1,000 events per group: 2,000 reads of 600 rows in 8m20s are 1.2M rows and fire (at the 1,667th)', () => {
  const reads = Array.from({ length: 2000 }, (_, i) => read(i * 250, { rowCount: 600 }));
  const out = feed(rule(load(THRESHOLDS), 'bulk'), reads);
  assert.equal(out.length, 1);
  assert.equal(out[0]?.after, 1667);
  assert.equal(out[0]?.value, 1667 * 600);
  assert.equal(out[0]?.events, 1667);
  assert.equal(out[0]?.firstKey, eventKey(reads[0] as Record<string, unknown>), 'the first contributing event is the first read, folded or not');
  assert.equal(out[0]?.firstTimeMs, T0);
});

test('event_count gte 1,500 fires, exactly at the 1,500th event of the window; folded events leave the window', () => {
  const r = rule(load(THRESHOLDS), 'many');
  const burst = Array.from({ length: 1600 }, (_, i) => read(i * 100));
  const out = feed(r, burst);
  assert.deepEqual(out.map((f) => [f.after, f.value, f.events]), [[1500, 1500, 1500]]);
  // 1,200 events, then 11 minutes later 1,400: the first ones (folded) left the window, no firing.
  const spread = [...Array.from({ length: 1200 }, (_, i) => read(i * 100)), ...Array.from({ length: 1400 }, (_, i) => read(11 * 60_000 + i * 100))];
  assert.deepEqual(feed(r, spread), []);
});

test('the folded events are part of the saved state: a restart in the middle of a big burst still fires', () => {
  const r = rule(load(THRESHOLDS), 'many');
  const eng = new CorrelationEngine();
  assert.deepEqual(feed(r, Array.from({ length: 1200 }, (_, i) => read(i * 100)), eng), []);
  const again = new CorrelationEngine();
  again.restore(JSON.parse(JSON.stringify(eng.snapshot())), new Set(['many']));
  const out = feed(r, Array.from({ length: 300 }, (_, i) => read(120_000 + i * 100)), again);
  assert.deepEqual(out.map((f) => [f.after, f.events]), [[300, 1500]]);
});

test('value_count beyond 1,000 events per group: repeated values make room, an old distinct value still counts', () => {
  const events = [read(0, { databaseName: 'hr' }), ...Array.from({ length: 1200 }, (_, i) => read(1000 + i * 100, { databaseName: 'shop' })), ...['a', 'b', 'c', 'd'].map((d, i) => read(200_000 + i * 1000, { databaseName: d }))];
  const out = feed(rule(load(THRESHOLDS), 'dbs'), events);
  assert.deepEqual(out.map((f) => [f.after, f.value]), [[events.length, 6]]);
});

test('thresholds a group can never reach are refused at load, with line and rule id', () => {
  assert.deepEqual(
    problems(`
rules:
  - id: spray
    severity: high
    when: {class: READ}
    correlation: {type: value_count, field: databaseName, groupBy: [dbUserName], window: 1h, gte: 1001}
  - id: long-seq
    severity: high
    correlation:
      type: sequence
      window: 1h
      steps:
        - {when: {command: AUTH FAILURE}, gte: 600}
        - {when: {command: CONNECT}, gte: 401}
`),
    [
      '6 spray: correlation: gte 1001 is more distinct values than a group keeps (1000): it could never fire; at most 1000',
      "12 long-seq: correlation: the steps' gte add up to 1001: a group keeps the last 1000 events of a sequence, so it could never complete (at most 1000 in all)",
    ],
  );
});

const GUESS = `
rules:
  - id: guess
    severity: critical
    correlation:
      type: sequence
      groupBy: [dbUserName]
      window: 10m
      steps:
        - {when: {command: AUTH FAILURE}, gte: 5}
        - {when: {command: CONNECT}}
`;

test("sequence on a busy account: a connection pool's logins between the failures do not push them out; the guess fires", () => {
  const r = rule(load(GUESS), 'guess');
  const fail = (ms: number) => ev(ms, { class: 'MISC', command: 'AUTH FAILURE', dbUserName: 'app_user', remoteHost: '203.0.113.66' });
  const events: Record<string, unknown>[] = [];
  for (let i = 0; i < 1500; i++) {
    if (i % 300 === 0 && i < 1200) events.push(fail(i * 100)); // 4 guesses, 30 s apart
    events.push(ev(i * 100 + 50, { class: 'MISC', command: 'CONNECT', dbUserName: 'app_user', remoteHost: `10.0.1.${i % 20}` }));
  }
  events.push(fail(150_000));
  const guess = ev(155_000, { class: 'MISC', command: 'CONNECT', dbUserName: 'app_user', remoteHost: '203.0.113.66' });
  events.push(guess);
  const eng = new CorrelationEngine();
  const out = feed(r, events, eng);
  assert.deepEqual(out.map((f) => [f.after, f.events, f.last.remoteHost]), [[events.length, 6, '203.0.113.66']], 'the 5th guess, then its login');
  const [[, group]] = eng.snapshot().rules.guess as unknown as [[string, { entries: unknown[] }]];
  assert.ok(group.entries.length < 20, `entries kept: ${group.entries.length}`);
});

test('sequence: a success that arrives before the failures it follows (out of order, within the window) still completes it', () => {
  const r = rule(load(GUESS), 'guess');
  const fail = (ms: number) => ev(ms, { class: 'MISC', command: 'AUTH FAILURE', dbUserName: 'alice' });
  const ok = (ms: number) => ev(ms, { class: 'MISC', command: 'CONNECT', dbUserName: 'alice' });
  const out = feed(r, [ok(300_000), ok(301_000), fail(0), fail(1000), fail(2000), fail(3000), fail(4000)]);
  assert.deepEqual(out.map((f) => [f.after, f.events, f.lastTimeMs - T0]), [[7, 6, 300_000]]);
});

test("local-time fields as groupBy and field are read in the rule's time zone, as conditions read them", () => {
  const rs = load(`
rules:
  - id: per-day
    severity: low
    timeZone: Europe/Paris
    when: {class: READ}
    correlation: {type: event_count, groupBy: [dbUserName, date], window: 1d, gte: 2}
  - id: hours
    severity: low
    timeZone: Europe/Paris
    when: {class: READ}
    correlation: {type: value_count, field: hour, groupBy: [dbUserName], window: 1d, gte: 3}
`);
  const h = 3_600_000;
  // T0 is 12:00Z, 14:00 in Paris: 21:30Z and 22:30Z are 23:30 on May 1st and 00:30 on May 2nd there.
  const eng = new CorrelationEngine();
  const r = rule(rs, 'per-day');
  assert.equal(eng.observe(r, read(9.5 * h)), undefined);
  assert.equal(eng.observe(r, read(10.5 * h)), undefined, 'another day in Paris');
  assert.deepEqual(eng.observe(r, read(11 * h))?.group, { dbUserName: 'analyst', date: '2024-05-02' });
  const out = feed(rule(rs, 'hours'), [read(0), read(h), read(1.5 * h), read(2 * h)]);
  assert.deepEqual(out.map((f) => [f.after, f.value]), [[4, 3]], '14, 15, 15 and 16 hours in Paris: 3 distinct');
});

const v = (correlation: string) => `
rules:
  - id: reads
    severity: high
    when: {class: READ}
    correlation: ${correlation}
  - id: same
    severity: high
    when: {class: READ}
    correlation: {type: event_count, groupBy: [dbUserName], window: 10m, gte: 5}
`;

test('a saved state is not used for a rule that changed (type, field, groupBy, steps): that rule starts afresh, said at open', async () => {
  const v1 = load(v('{type: value_count, field: databaseName, groupBy: [dbUserName], window: 10m, gte: 5}'));
  const store = new MemoryCorrelationStore();
  const c1 = (await Correlator.open(v1, { store })) as Correlator;
  for (const id of ['reads', 'same']) c1.engine.observe(rule(v1, id), read(0, { databaseName: 'shop' }));
  await c1.persist();
  // Only the threshold changed: the state means the same, it is kept.
  const gte = load(v('{type: value_count, field: databaseName, groupBy: [dbUserName], window: 10m, gte: 7}'));
  const c2 = (await Correlator.open(gte, { store })) as Correlator;
  assert.deepEqual([c2.restarted, c2.engine.groupCounts()], [[], { reads: 1, same: 1 }]);
  // Edited to a value_sum: its entries (distinct values as JSON) would be summed as strings.
  const v2 = load(v('{type: value_sum, field: rows, groupBy: [dbUserName], window: 10m, gte: 1000000}'));
  const c3 = (await Correlator.open(v2, { store })) as Correlator;
  assert.deepEqual([c3.restarted, c3.engine.groupCounts()], [['reads'], { same: 1 }]);
  const f = c3.engine.observe(rule(v2, 'reads'), read(1000, { rowCount: 10 }));
  assert.equal(f, undefined);
  const [before, after] = [c1.engine.snapshot().fingerprints ?? {}, c3.engine.snapshot().fingerprints ?? {}];
  assert.deepEqual([after.same === before.same, after.reads === before.reads], [true, false], 'the new rule is saved with its new fingerprint');
  // A state saved before fingerprints (none in the file) loads as it did.
  const old = JSON.parse(JSON.stringify(c1.engine.snapshot())) as CorrelationSnapshot;
  delete old.fingerprints;
  const e = new CorrelationEngine();
  assert.deepEqual(e.restore(old, v2.correlations ?? []), []);
  assert.deepEqual(e.groupCounts(), { reads: 1, same: 1 });
});

test("first_seen grouped by clusterId: each cluster's learning starts at its own first event, so A then B is B alone", () => {
  const rs = load(`
rules:
  - id: new-host
    severity: high
    when: {command: CONNECT}
    correlation: {type: first_seen, groupBy: [clusterId, dbUserName], field: remoteHost, learning: 7d}
  - id: new-host-any
    severity: high
    when: {command: CONNECT}
    correlation: {type: first_seen, groupBy: [dbUserName], field: remoteHost, learning: 7d}
`);
  const d = 86_400_000;
  const login = (ms: number, clusterId: string, remoteHost: string) => ev(ms, { class: 'MISC', command: 'CONNECT', dbUserName: 'postgres', remoteHost, clusterId });
  const A = [login(0, 'cluster-A', '10.0.0.1'), login(9 * d, 'cluster-A', '10.0.0.1')];
  const B = [login(8 * d, 'cluster-B', '10.1.0.1'), login(8 * d + 3_600_000, 'cluster-B', '10.1.0.2'), login(9 * d, 'cluster-B', '10.1.0.3')];
  const eng = new CorrelationEngine();
  assert.deepEqual(feed(rule(rs, 'new-host'), [...A, ...B], eng), [], "B's first day is learning, as when B is replayed alone");
  // The per-cluster starts are saved and restored.
  const again = new CorrelationEngine();
  again.restore(JSON.parse(JSON.stringify(eng.snapshot())), rs.correlations ?? []);
  assert.equal(feed(rule(rs, 'new-host'), [login(10 * d, 'cluster-B', '10.1.0.9')], again).length, 0, "B still learning: it began on day 8");
  assert.equal(feed(rule(rs, 'new-host'), [login(16 * d, 'cluster-B', '10.1.0.8')], again).length, 1);
  // Without clusterId in groupBy the learning is the rule's: B's hosts after A's week are new.
  assert.equal(feed(rule(rs, 'new-host-any'), [...A, ...B]).length, 3);
});

test('the message is rendered on the last contributing event, also when it arrived before the event that completed the firing', async () => {
  const rs = load(`${GUESS}    message: '{{dbUserName}} logged in from {{remoteHost}} ({{clientApplication}}) after failed logins'
`);
  const c = (await Correlator.open(rs)) as Correlator;
  const stats = new PipelineStats();
  const fail = (ms: number) => ev(ms, { class: 'MISC', command: 'AUTH FAILURE', dbUserName: 'alice', remoteHost: '203.0.113.66', clientApplication: 'hydra' });
  const apply = async (events: Record<string, unknown>[], n: number) => {
    const correlating = events.map((e) => ({ event: e as never, redacted: redactEvent(e as never, 'literals') as Record<string, unknown>, rules: [rule(rs, 'guess')] }));
    const alerts = await c.apply({ position: { source: 'test', shardId: 's', sequenceNumber: String(n) }, encrypted: false, alerts: [], quarantined: [], warnings: [], correlating }, stats);
    c.commit();
    return alerts;
  };
  // The login (another shard's record, read first) at +60s; then the 5 failures at +0s..+40s complete the sequence.
  assert.deepEqual(await apply([ev(60_000, { class: 'MISC', command: 'CONNECT', dbUserName: 'alice', remoteHost: '10.0.8.14', clientApplication: 'psql' })], 1), []);
  const [alert] = await apply([0, 10_000, 20_000, 30_000, 40_000].map(fail), 2);
  assert.match(String(alert?.message), /^alice logged in from 10\.0\.8\.14 \(psql\) after failed logins \(5 then 1 events/);
  assert.equal(alert?.time, new Date(T0 + 60_000).toISOString());
});

test('first_seen with forget: the same file replayed again with its state fires nothing new (older than forget: late)', () => {
  const r = rule(load(`
rules:
  - id: newhost
    severity: medium
    when: {command: CONNECT}
    correlation: {type: first_seen, groupBy: [dbUserName], field: remoteHost, learning: 1d, forget: 1d}
`), 'newhost');
  const d = 86_400_000;
  const login = (ms: number, remoteHost: string) => ev(ms, { class: 'MISC', command: 'CONNECT', dbUserName: 'admin', remoteHost });
  const file = [login(0, '10.0.0.1'), login(2 * d, '203.0.113.9'), login(4 * d, '10.0.0.1')];
  const eng = new CorrelationEngine();
  assert.deepEqual(feed(r, file, eng).map((f) => f.after), [2, 3], 'a new host, then a host forgotten for 4 days');
  const again = new CorrelationEngine();
  again.restore(JSON.parse(JSON.stringify(eng.snapshot())), [r]);
  assert.deepEqual(feed(r, file, again).map((f) => f.after), [3], 'only the last firing given again (the same alert), nothing new');
  assert.equal(again.counters.late, 2);
  // Within forget, out of order, an event is judged as before: a host seen after it is known.
  const e3 = new CorrelationEngine();
  assert.deepEqual(feed(r, [login(0, 'a'), login(2 * d, 'b'), login(2 * d + 1000, 'c'), login(2 * d + 500, 'c')], e3).map((f) => f.after), [2, 3]);
});

test('realert: 0s is no quiet period: each time the threshold is reached again it alerts', () => {
  const r = rule(load(`
rules:
  - id: every
    severity: low
    when: {class: READ}
    correlation: {type: event_count, groupBy: [dbUserName], window: 10m, gte: 2, realert: 0s}
`), 'every');
  assert.equal(r.correlation?.realertMs, 0);
  assert.deepEqual(feed(r, [0, 1000, 2000, 3000, 4000].map((ms) => read(ms))).map((f) => f.after), [2, 4]);
  assert.deepEqual(problems(`
rules:
  - id: neg
    severity: low
    when: {class: READ}
    correlation: {type: event_count, window: 10m, gte: 2, realert: -1s}
`).length, 1);
});
