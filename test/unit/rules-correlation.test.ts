/** Correlation rules (src/rules/correlation.ts, CorrelationEngine.ts, the timed sequences of ruleTests.ts): syntax, load-time checks, windows on event time. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadRuleTexts, runRuleTests, completeTestEvent } from '../../src/rules/index.js';
import { CompiledRuleSet } from '../../src/rules/RuleSet.js';
import { CorrelationEngine, eventKey } from '../../src/rules/CorrelationEngine.js';

const FAILED = `
rules:
  - id: failed-login
    severity: medium
    when: {command: AUTH FAILURE}
`;

function load(text: string) {
  return loadRuleTexts([{ file: 'r.yaml', text }]);
}

function problems(text: string): string[] {
  return load(text).problems.map((p) => `${p.line} ${p.ruleId ?? '-'}: ${p.message}`);
}

const BRUTE = `${FAILED}
  - id: brute-force
    severity: high
    correlation:
      type: event_count
      rules: [failed-login]
      groupBy: [remoteHost]
      window: 1m
      gte: 5
    tests:
      sequences:
        - name: 5 failures from one host within a minute fire once
          events:
            - {at: +0s, every: 10s, repeat: 8, command: AUTH FAILURE, remoteHost: 203.0.113.9}
          expect:
            - {after: 5, group: {remoteHost: 203.0.113.9}}
        - name: 4 in a minute do not fire
          events:
            - {at: +0s, every: 10s, repeat: 4, command: AUTH FAILURE, remoteHost: 203.0.113.9}
          expect: []
        - name: 5 spread over an hour do not fire
          events:
            - {at: +0s, every: 15m, repeat: 5, command: AUTH FAILURE, remoteHost: 203.0.113.9}
          expect: []
        - name: two hosts are two groups
          events:
            - {at: +0s, every: 1s, repeat: 4, command: AUTH FAILURE, remoteHost: 203.0.113.9}
            - {at: +5s, every: 1s, repeat: 4, command: AUTH FAILURE, remoteHost: 198.51.100.7}
            - {at: +20s, command: AUTH FAILURE, remoteHost: 203.0.113.9}
          expect:
            - {after: 9, group: {remoteHost: 203.0.113.9}}
        - name: realert quiets the group for the window, then it fires again
          events:
            - {at: +0s, every: 5s, repeat: 15, command: AUTH FAILURE, remoteHost: 203.0.113.9}
            - {at: +5m, every: 1s, repeat: 5, command: AUTH FAILURE, remoteHost: 203.0.113.9}
          expect:
            - {after: 5}
            - {after: 20}
        - name: successful logins do not count
          events:
            - {at: +0s, every: 1s, repeat: 10, command: CONNECT, remoteHost: 203.0.113.9}
          expect: []
`;

test('event_count: the in-file timed sequences pass (fires once, near misses do not, realert)', () => {
  const { ruleSet, problems: p } = load(BRUTE);
  assert.deepEqual(p, []);
  const r = runRuleTests(ruleSet!);
  assert.deepEqual(r.failed, []);
  assert.equal(r.passed, 6);
});

test('a wrong expectation fails with what fired', () => {
  const { ruleSet } = load(BRUTE.replace('- {after: 5, group: {remoteHost: 203.0.113.9}}', '- {after: 4}'));
  const r = runRuleTests(ruleSet!);
  assert.equal(r.failed.length, 1);
  assert.match(r.failed[0]!.message, /expected 1 alert\(s\) \(after event 4\); got 1 \(after event 5 \{"remoteHost":"203.0.113.9"\}\)/);
});

test('value_count (password spraying) and value_sum (bulk read) with an inline when:', () => {
  const { ruleSet, problems: p } = load(`
rules:
  - id: password-spraying
    severity: high
    when: {command: AUTH FAILURE}
    correlation: {type: value_count, field: dbUserName, groupBy: [remoteHost], window: 5m, gte: 3}
    tests:
      sequences:
        - name: three users from one host
          events:
            - {at: +0s, command: AUTH FAILURE, dbUserName: alice, remoteHost: 10.0.0.5}
            - {at: +10s, command: AUTH FAILURE, dbUserName: alice, remoteHost: 10.0.0.5}
            - {at: +20s, command: AUTH FAILURE, dbUserName: bob, remoteHost: 10.0.0.5}
            - {at: +30s, command: AUTH FAILURE, dbUserName: carol, remoteHost: 10.0.0.5}
          expect: [{after: 4, group: {remoteHost: 10.0.0.5}}]
        - name: one user many times is not spraying
          events:
            - {at: +0s, every: 1s, repeat: 20, command: AUTH FAILURE, dbUserName: alice, remoteHost: 10.0.0.5}
          expect: []
  - id: bulk-read
    severity: high
    when: {class: READ}
    correlation: {type: value_sum, field: rows, groupBy: [dbUserName], window: 10m, gte: 1000000}
    tests:
      sequences:
        - name: 5 x 300k rows in 10 minutes
          events:
            - {at: +0s, every: 2m, repeat: 5, class: READ, command: SELECT, rowCount: 300000}
          expect: [{after: 4, group: {dbUserName: app_user}}]
        - name: the same spread over an hour
          events:
            - {at: +0s, every: 15m, repeat: 5, class: READ, command: SELECT, rowCount: 300000}
          expect: []
`);
  assert.deepEqual(p, []);
  const r = runRuleTests(ruleSet!);
  assert.deepEqual(r.failed, []);
  assert.equal(r.passed, 4);
});

test('load-time checks: every problem at once, with line and rule id', () => {
  const got = problems(`${FAILED}
  - id: c1
    severity: high
    correlation: {type: event_count, rules: [failed-logn], groupBy: [remoteHost], window: 1m, gte: 5}
  - id: c0
    severity: high
    correlation: {type: event_count, rules: [failed-login], groupBy: [remoteHst], window: 60, gte: 5}
  - id: c2
    severity: high
    when: {class: READ}
    correlation: {type: value_sum, field: dbUserName, window: 1m, gte: 5}
  - id: c3
    severity: high
    when: {class: READ}
    correlation: {type: value_count, field: commandText, window: 1m, gte: 0}
  - id: c4
    severity: high
    correlation: {type: event_count, rules: [c5], window: 1m, gte: 2}
  - id: c5
    severity: high
    correlation: {type: event_count, rules: [c4], window: 1m, gte: 2}
  - id: c6
    severity: high
    correlation: {type: events, window: 1m, gte: 2}
`);
  const has = (re: RegExp) => assert.ok(got.some((g) => re.test(g)), `no problem matching ${re}:\n${got.join('\n')}`);
  has(/^9 c1: correlation: unknown base rule 'failed-logn' \(did you mean 'failed-login'\?\)/);
  has(/^12 c0: correlation: groupBy: unknown field 'remoteHst'/);
  has(/^12 c0: correlation: window must be a duration/);
  has(/^16 c2: correlation: value_sum: field 'dbUserName' is not numeric/);
  has(/^20 c3: correlation: field: 'commandText' can carry secrets/);
  has(/^20 c3: correlation: gte must be a positive whole number/);
  has(/^23 c4: correlation: a cycle of rules built on rules: c4 -> c5 -> c4/);
  has(/^26 c5: correlation: a cycle of rules built on rules: c5 -> c4 -> c5/);
  has(/^29 c6: correlation: bad type text "events"/);
});

test('a correlation is never matched event by event; its base events are', () => {
  const { ruleSet } = load(BRUTE);
  const rs = ruleSet as CompiledRuleSet;
  const e = completeTestEvent({ command: 'AUTH FAILURE' });
  // failed-login only feeds brute-force (generate: false, rules-generate.test.ts): no alert of its own.
  assert.deepEqual(rs.evaluate(e).map((m) => m.rule.id), []);
  assert.deepEqual(rs.baseMatches(e).map((c) => c.info.id), ['brute-force']);
});

test('engine: event time, lateness, duplicates, the missing group, eviction, snapshot/restore', () => {
  const { ruleSet } = load(BRUTE.replace('gte: 5', 'gte: 3'));
  const rs = ruleSet as CompiledRuleSet;
  const rule = rs.correlations[0]!;
  const at = (s: number, extra: Record<string, unknown> = {}) =>
    ({ ...completeTestEvent({ command: 'AUTH FAILURE', statementId: s, ...extra }), logTimeMs: 1_000_000 + s * 1000, logTime: `t${s}` });
  const eng = new CorrelationEngine({ maxGroups: 2 });
  assert.equal(eng.observe(rule, at(100)), undefined);
  assert.equal(eng.observe(rule, at(30)), undefined); // 70 s before the newest: late (window 1m)
  assert.equal(eng.counters.late, 1);
  assert.equal(eng.observe(rule, at(100)), undefined); // the same event again
  assert.equal(eng.counters.duplicates, 1);
  assert.equal(eng.observe(rule, at(95)), undefined); // out of order, within the window
  const f = eng.observe(rule, at(99));
  assert.ok(f);
  assert.equal(f.events, 3);
  assert.equal(f.firstTimeMs, 1_000_000 + 95_000);
  assert.equal(f.lastTimeMs, 1_000_000 + 100_000);
  // A restored engine goes on where the first stopped: the used events never count again.
  const copy = new CorrelationEngine({ maxGroups: 2 });
  copy.restore(JSON.parse(JSON.stringify(eng.snapshot())), new Set(['brute-force']));
  assert.deepEqual(copy.snapshot(), eng.snapshot());
  // Missing groupBy value: its own group, null.
  const { remoteHost: _drop, ...noHost } = at(101) as Record<string, unknown>;
  eng.observe(rule, noHost);
  eng.observe(rule, { ...noHost, statementId: 102, logTime: 't102' });
  const g = eng.observe(rule, { ...noHost, statementId: 103, logTime: 't103' });
  assert.deepEqual(g?.group, { remoteHost: null });
  eng.observe(rule, at(104, { remoteHost: '192.0.2.1' }));
  assert.equal(eng.counters.evictions, 1);
  assert.deepEqual(eng.groupCounts(), { 'brute-force': 2 });
});

// ---- sequence (steps in order within the window) and first_seen (a new combination after learning) ----

const SEQUENCE = `
lists:
  night_users: [alice, bob]
macros:
  login_ok: {command: CONNECT}
rules:
  - id: failed-login
    severity: medium
    when: {command: AUTH FAILURE}
  - id: big-read
    severity: low
    when: {rows: {gte: 1000}}
  - id: brute-then-success
    severity: high
    correlation:
      type: sequence
      groupBy: [dbUserName]
      window: 10m
      steps:
        - {rules: [failed-login], gte: 5}
        - {when: {macro: login_ok}}
    tests:
      sequences:
        - name: 5 failures then a success within the window fire once
          events:
            - {at: +0s, every: 10s, repeat: 5, command: AUTH FAILURE, dbUserName: alice}
            - {at: +2m, command: CONNECT, dbUserName: alice}
            - {at: +3m, command: CONNECT, dbUserName: alice}
          expect: [{after: 6, group: {dbUserName: alice}}]
        - name: the success before the failures does not complete it (steps out of order)
          events:
            - {at: +0s, command: CONNECT, dbUserName: alice}
            - {at: +1s, every: 10s, repeat: 5, command: AUTH FAILURE, dbUserName: alice}
          expect: []
        - name: 4 failures then a success do not (a step short)
          events:
            - {at: +0s, every: 10s, repeat: 4, command: AUTH FAILURE, dbUserName: alice}
            - {at: +2m, command: CONNECT, dbUserName: alice}
          expect: []
        - name: longer than the window does not
          events:
            - {at: +0s, every: 10s, repeat: 5, command: AUTH FAILURE, dbUserName: alice}
            - {at: +10m, command: CONNECT, dbUserName: alice}
          expect: []
        - name: a success in the middle does not count; the one after the 5th does
          events:
            - {at: +0s, every: 10s, repeat: 3, command: AUTH FAILURE, dbUserName: alice}
            - {at: +40s, command: CONNECT, dbUserName: alice}
            - {at: +50s, every: 10s, repeat: 2, command: AUTH FAILURE, dbUserName: alice}
            - {at: +90s, command: CONNECT, dbUserName: alice}
          expect: [{after: 7}]
        - name: another user's success does not complete alice's
          events:
            - {at: +0s, every: 10s, repeat: 5, command: AUTH FAILURE, dbUserName: alice}
            - {at: +1m, command: CONNECT, dbUserName: bob}
          expect: []
        - name: the contributing events never count again; after the quiet a new sequence fires
          events:
            - {at: +0s, every: 10s, repeat: 5, command: AUTH FAILURE, dbUserName: alice}
            - {at: +1m, command: CONNECT, dbUserName: alice}
            - {at: +11m, command: CONNECT, dbUserName: alice}
            - {at: +12m, every: 10s, repeat: 5, command: AUTH FAILURE, dbUserName: alice}
            - {at: +13m, command: CONNECT, dbUserName: alice}
          expect: [{after: 6}, {after: 13}]
  - id: read-after-read
    description: Sigma's temporal_ordered shorthand, the same rule twice
    severity: low
    correlation: {type: sequence, rules: [failed-login, big-read, big-read], groupBy: [remoteHost], window: 1m}
    tests:
      sequences:
        - name: a failure, then a big read, then another
          events:
            - {at: +0s, command: AUTH FAILURE, remoteHost: 10.0.0.5}
            - {at: +10s, class: READ, command: SELECT, rowCount: 5000, remoteHost: 10.0.0.5}
            - {at: +20s, class: READ, command: SELECT, rowCount: 5000, remoteHost: 10.0.0.5}
          expect: [{after: 3, group: {remoteHost: 10.0.0.5}}]
        - name: one big read is not two; two at the same time are not in order
          events:
            - {at: +0s, command: AUTH FAILURE, remoteHost: 10.0.0.5}
            - {at: +10s, class: READ, command: SELECT, rowCount: 5000, remoteHost: 10.0.0.5}
          expect: []
  - id: night-login-after-failures
    severity: medium
    timeZone: Europe/Paris
    correlation:
      type: sequence
      groupBy: [dbUserName]
      window: 1h
      steps:
        - {rules: [failed-login], gte: 2}
        - when:
            all:
              - macro: login_ok
              - dbUserName: $night_users
              - hour: {gte: 22}
`;

test('sequence: the in-file timed sequences pass (fires once, steps out of order, too long, success before failures, realert)', () => {
  const { ruleSet, problems: p } = load(SEQUENCE);
  assert.deepEqual(p, []);
  const r = runRuleTests(ruleSet!, { ruleIds: ['brute-then-success', 'read-after-read'] });
  assert.deepEqual(r.failed, []);
  assert.equal(r.passed, 9);
});

test("sequence: a step's when: is compiled like a rule's (macros, lists, the rule's time zone); base events are any step's", () => {
  const rs = load(SEQUENCE).ruleSet as CompiledRuleSet;
  const rule = rs.correlations.find((c) => c.info.id === 'night-login-after-failures')!;
  const spec = rule.correlation!;
  assert.equal(spec.type, 'sequence');
  const step2 = spec.type === 'sequence' ? spec.steps[1]!.predicate! : () => false;
  // 21:30 UTC is 23:30 in Paris (summer): hour 23 there, 21 in UTC.
  const night = completeTestEvent({ command: 'CONNECT', dbUserName: 'alice', logTime: '2024-05-01 21:30:00.000000+00' });
  const evening = completeTestEvent({ command: 'CONNECT', dbUserName: 'alice', logTime: '2024-05-01 19:30:00.000000+00' });
  const stranger = completeTestEvent({ command: 'CONNECT', dbUserName: 'carol', logTime: '2024-05-01 21:30:00.000000+00' });
  assert.equal(step2(night), true);
  assert.equal(step2(evening), false, 'hour is 21 in Paris');
  assert.equal(step2(stranger), false, 'not in the list');
  const failure = completeTestEvent({ command: 'AUTH FAILURE' });
  assert.ok(rs.baseMatches(failure).includes(rule));
  assert.ok(rs.baseMatches(night).includes(rule));
  assert.ok(!rs.baseMatches(evening).includes(rule));
  assert.deepEqual(rs.evaluate(night).map((m) => m.rule.id), [], 'a correlation never fires event by event');
});

const FIRST_SEEN = `
rules:
  - id: privileged-login
    severity: low
    when: {command: CONNECT, dbUserName: [admin, root]}
  - id: new-admin-host
    severity: high
    correlation:
      type: first_seen
      rules: [privileged-login]
      groupBy: [dbUserName]
      field: remoteHost
      learning: 7d
      forget: 30d
    tests:
      sequences:
        - name: during learning nothing fires; after it a new host does, once; a known one does not
          events:
            - {at: +0s, command: CONNECT, dbUserName: admin, remoteHost: 10.0.0.1}
            - {at: +1d, command: CONNECT, dbUserName: admin, remoteHost: 10.0.0.2}
            - {at: +8d, command: CONNECT, dbUserName: admin, remoteHost: 10.0.0.1}
            - {at: +8d, command: CONNECT, dbUserName: admin, remoteHost: 10.1.2.3}
            - {at: +9d, command: CONNECT, dbUserName: admin, remoteHost: 10.1.2.3}
            - {at: +9d, command: CONNECT, dbUserName: admin, remoteHost: 10.0.0.2}
          expect: [{after: 4, group: {dbUserName: admin}}]
        - name: a new group after learning fires for its first combination
          events:
            - {at: +0s, command: CONNECT, dbUserName: admin, remoteHost: 10.0.0.1}
            - {at: +8d, command: CONNECT, dbUserName: root, remoteHost: 10.0.0.1}
          expect: [{after: 2, group: {dbUserName: root}}]
        - name: forget makes a host not seen for 30 days new again
          events:
            - {at: +0s, command: CONNECT, dbUserName: admin, remoteHost: 10.0.0.1}
            - {at: +1d, command: CONNECT, dbUserName: admin, remoteHost: 10.0.0.2}
            - {at: +29d, command: CONNECT, dbUserName: admin, remoteHost: 10.0.0.2}
            - {at: +30d, command: CONNECT, dbUserName: admin, remoteHost: 10.0.0.1}
            - {at: +31d, command: CONNECT, dbUserName: admin, remoteHost: 10.0.0.2}
          expect: [{after: 4}]
        - name: the learning period begins at the rule's first base event, not at the group's
          events:
            - {at: +0s, command: CONNECT, dbUserName: root, remoteHost: 10.0.0.9}
            - {at: +6d, command: CONNECT, dbUserName: admin, remoteHost: 10.0.0.1}
            - {at: +7d, command: CONNECT, dbUserName: admin, remoteHost: 10.0.0.2}
          expect: [{after: 3, group: {dbUserName: admin}}]
  - id: new-app-host
    severity: medium
    when: {command: CONNECT}
    correlation: {type: first_seen, groupBy: [dbUserName], field: [remoteHost, clientApplication], learning: 1d}
    tests:
      sequences:
        - name: a known host with a new application is a new combination
          events:
            - {at: +0s, command: CONNECT, remoteHost: 10.0.0.1, clientApplication: psql}
            - {at: +2d, command: CONNECT, remoteHost: 10.0.0.1, clientApplication: psql}
            - {at: +2d, command: CONNECT, remoteHost: 10.0.0.1, clientApplication: pg_dump}
          expect: [{after: 3, group: {dbUserName: app_user}}]
`;

test('first_seen: the in-file timed sequences pass (learning, after learning, known combination, forget, new group)', () => {
  const { ruleSet, problems: p } = load(FIRST_SEEN);
  assert.deepEqual(p, []);
  const r = runRuleTests(ruleSet!);
  assert.deepEqual(r.failed, []);
  assert.equal(r.passed, 5);
});

test('load-time checks of sequence and first_seen: 4 different mistakes, all reported with their lines', () => {
  assert.deepEqual(problems(`${FAILED}
  - id: seq-bad
    severity: high
    correlation:
      type: sequence
      window: 10m
      steps:
        - {rules: [failed-logn], gte: 2.5}
        - {rules: [failed-login], when: {command: CONNECT}}
  - id: seen-bad
    severity: high
    when: {command: CONNECT}
    correlation: {type: first_seen, field: remoteHost, window: 1h}
`), [
    "13 seq-bad: correlation: unknown base rule 'failed-logn' (did you mean 'failed-login'?)",
    '13 seq-bad: correlation: step 1: gte must be a positive whole number (how many of its events), got number 2.5',
    '14 seq-bad: correlation: step 2 has both rules: and when: (one of them: a step is a set of rules or one condition)',
    '18 seen-bad: correlation: first_seen has no window: it fires on each new combination of field once its learning period is over (learning:, default 7d), and forget: makes a combination not seen for that long new again',
  ]);
});

test('load-time checks of sequence and first_seen: every other mistake', () => {
  const got = problems(`${FAILED}
  - id: brute
    severity: high
    correlation: {type: event_count, rules: [failed-login], window: 1m, gte: 5}
  - id: s-map
    severity: high
    correlation: {type: sequence, window: 10m, steps: {rules: [failed-login]}}
  - id: s-one
    severity: high
    correlation: {type: sequence, window: 10m, steps: [{rules: [failed-login]}]}
  - id: s-short
    severity: high
    correlation: {type: sequence, window: 10m, rules: [failed-login]}
  - id: s-mixed
    severity: high
    when: {command: CONNECT}
    correlation: {type: sequence, rules: [failed-login], gte: 2, steps: [{rules: [brute]}, {}, {when: {comand: x}}]}
  - id: f-bad
    severity: high
    correlation: {type: first_seen, rules: [failed-login], field: [commandText, remoteHst], learning: 7 days, forget: 90, steps: []}
  - id: f-nofield
    severity: high
    correlation: {type: first_seen, rules: [failed-login]}
  - id: e-learning
    severity: high
    correlation: {type: event_count, rules: [failed-login], window: 1m, gte: 5, learning: 1d}
`);
  const has = (re: RegExp) => assert.ok(got.some((g) => re.test(g)), `no problem matching ${re}:\n${got.join('\n')}`);
  has(/^12 s-map: correlation: steps is a list of steps/);
  has(/^15 s-one: correlation: a sequence has 2 or more steps, got 1/);
  has(/^18 s-short: correlation: a sequence has 2 or more steps/);
  has(/^21 s-mixed: correlation: a sequence's events are its steps'/);
  has(/^22 s-mixed: correlation: a sequence counts per step/);
  has(/^22 s-mixed: correlation: a sequence lists its rules in steps:/);
  has(/^22 s-mixed: correlation: base rule 'brute' is itself a correlation/);
  has(/^22 s-mixed: correlation: step 2 has neither rules: nor when:/);
  has(/^22 s-mixed: correlation: no window/);
  has(/^22 s-mixed: unknown field 'comand' \(did you mean 'command'\?\)/);
  has(/^25 f-bad: correlation: field: 'commandText' can carry secrets/);
  has(/^25 f-bad: correlation: field: unknown field 'remoteHst'/);
  has(/^25 f-bad: correlation: learning must be a duration/);
  has(/^25 f-bad: correlation: forget must be a duration .*got "90"/);
  has(/^25 f-bad: correlation: steps: is for sequence, not first_seen/);
  has(/^28 f-nofield: correlation: first_seen needs field:/);
  has(/^31 e-learning: correlation: learning: is for first_seen, not event_count/);
});

const DAY = 86_400_000;
/** A complete event of the rule tests' defaults at `ms` (its own statement, so its own identity). */
function timed(ms: number, statementId: number, fields: Record<string, unknown>): Record<string, unknown> {
  const logTime = new Date(ms).toISOString().replace('T', ' ').replace(/\.(\d{3})Z$/, '.$1000+00');
  return completeTestEvent({ statementId, ...fields, logTime });
}
const T0 = Date.parse('2024-05-01T12:00:00.000Z');

test('sequence engine: lateness, duplicates, untimed, the missing group, eviction; the firing says the events of each step', () => {
  const rs = load(SEQUENCE).ruleSet as CompiledRuleSet;
  const rule = rs.correlations.find((c) => c.info.id === 'brute-then-success')!;
  const eng = new CorrelationEngine({ maxGroups: 2 });
  const fail = (s: number, extra: Record<string, unknown> = {}) => timed(T0 + s * 1000, s, { command: 'AUTH FAILURE', dbUserName: 'alice', ...extra });
  const ok = (s: number, extra: Record<string, unknown> = {}) => timed(T0 + s * 1000, s, { command: 'CONNECT', dbUserName: 'alice', ...extra });
  eng.observe(rule, fail(700));
  assert.equal(eng.observe(rule, fail(50)), undefined); // 650 s before the newest: late (window 10m)
  assert.equal(eng.counters.late, 1);
  assert.equal(eng.observe(rule, fail(700)), undefined);
  assert.equal(eng.counters.duplicates, 1);
  const { logTimeMs: _t, ...untimed } = fail(701);
  assert.equal(eng.observe(rule, untimed), undefined);
  assert.equal(eng.counters.untimed, 1);
  for (const s of [710, 720, 730, 740, 745, 746]) eng.observe(rule, fail(s)); // 8 failures
  const f = eng.observe(rule, ok(800));
  assert.ok(f);
  assert.deepEqual(f.steps, [7, 1], 'every failure in the window before the success is part of it');
  assert.equal(f.events, 8);
  assert.equal(f.firstTimeMs, T0 + 700_000);
  assert.equal(f.lastTimeMs, T0 + 800_000);
  assert.deepEqual(f.group, { dbUserName: 'alice' });
  // Out of order within the window: a success that arrives first is placed after the failures that arrive later.
  const { dbUserName: _u, ...noUser } = fail(900) as Record<string, unknown>;
  eng.observe(rule, { ...ok(960), dbUserName: null });
  for (const s of [900, 910, 920, 930]) eng.observe(rule, { ...noUser, statementId: s, logTimeMs: T0 + s * 1000, logTime: `t${s}` });
  const g = eng.observe(rule, { ...noUser, statementId: 940, logTimeMs: T0 + 940_000, logTime: 't940' });
  assert.deepEqual(g?.group, { dbUserName: null }, 'the missing group is its own');
  assert.equal(g?.lastTimeMs, T0 + 960_000, 'completed by the success stored before');
  eng.observe(rule, fail(1000, { dbUserName: 'bob' }));
  assert.equal(eng.counters.evictions, 1);
  assert.deepEqual(eng.groupCounts(), { 'brute-then-success': 2 });
});

test('first_seen engine: the combinations kept per group are bounded, the least recently seen forgotten first', () => {
  const rs = load(FIRST_SEEN).ruleSet as CompiledRuleSet;
  const rule = rs.correlations.find((c) => c.info.id === 'new-admin-host')!;
  const eng = new CorrelationEngine();
  const host = (i: number, at: number) => timed(at, at, { command: 'CONNECT', dbUserName: 'admin', remoteHost: `10.0.${i >> 8}.${i & 255}` });
  for (let i = 0; i < 1000; i++) eng.observe(rule, host(i, T0 + i * 1000));
  eng.observe(rule, host(0, T0 + 2000 * 1000)); // host 0 seen again: host 1 is now the least recently seen
  assert.equal(eng.counters.evictions, 0);
  assert.ok(eng.observe(rule, host(5000, T0 + 8 * DAY)), 'a new host after learning');
  assert.equal(eng.counters.evictions, 1, 'the 1001st combination forgets one');
  assert.equal(eng.observe(rule, host(0, T0 + 8 * DAY + 1000)), undefined, 'host 0 kept');
  assert.ok(eng.observe(rule, host(1, T0 + 8 * DAY + 2000)), 'host 1 was forgotten: new again');
  // Duplicates, untimed events and the missing group, as for the other types.
  const dup = host(0, T0 + 8 * DAY + 1000);
  eng.observe(rule, dup);
  assert.equal(eng.counters.duplicates, 1);
  const { logTimeMs: _t, ...untimed } = host(7, T0);
  eng.observe(rule, untimed);
  assert.equal(eng.counters.untimed, 1);
  const { remoteHost: _h, ...noHost } = host(9, T0 + 9 * DAY) as Record<string, unknown>;
  const f = eng.observe(rule, noHost);
  assert.deepEqual(f?.values, { remoteHost: null }, 'a missing field is a value of its own, null');
  assert.equal(eng.counters.late, 0, 'first_seen has no window: nothing is late');
});

test('first_seen engine: a restart (snapshot, restore) keeps the knowledge and the start of the learning period', () => {
  const rs = load(FIRST_SEEN).ruleSet as CompiledRuleSet;
  const rule = rs.correlations.find((c) => c.info.id === 'new-admin-host')!;
  const ids = new Set(rs.correlations.map((c) => c.info.id));
  const ev = (day: number, h: string, s: number) => timed(T0 + day * DAY, s, { command: 'CONNECT', dbUserName: 'admin', remoteHost: h });
  const a = new CorrelationEngine();
  a.observe(rule, ev(0, '10.0.0.1', 1));
  a.observe(rule, ev(3, '10.0.0.2', 2));
  const saved = JSON.parse(JSON.stringify(a.snapshot()));
  assert.deepEqual(saved.learning, { 'new-admin-host': T0 });
  const b = new CorrelationEngine();
  b.restore(saved, ids);
  assert.deepEqual(b.snapshot(), a.snapshot());
  // Day 6: still learning, counted from day 0 (not from the restart); day 8: over; the known hosts stay known.
  assert.equal(b.observe(rule, ev(6, '10.0.0.3', 3)), undefined);
  assert.equal(b.observe(rule, ev(8, '10.0.0.1', 4)), undefined);
  assert.equal(b.observe(rule, ev(8, '10.0.0.2', 5)), undefined);
  const f = b.observe(rule, ev(8, '10.9.9.9', 6));
  assert.deepEqual(f?.values, { remoteHost: '10.9.9.9' });
  // The same records again (a restart behind its checkpoint): nothing new; the event that fired gives its firing again.
  assert.equal(b.observe(rule, ev(8, '10.0.0.2', 5)), undefined);
  assert.deepEqual(b.observe(rule, ev(8, '10.9.9.9', 6)), f);
  // A fresh engine would learn again from the first event it sees.
  const c = new CorrelationEngine();
  assert.equal(c.observe(rule, ev(8, '10.9.9.9', 6)), undefined);
});

test('a state file written before sequence and first_seen (version 1, no learning, no steps) still loads', () => {
  const rs = load(BRUTE.replace('gte: 5', 'gte: 3')).ruleSet as CompiledRuleSet;
  const rule = rs.correlations[0]!;
  const old = {
    version: 1,
    rules: {
      'brute-force': [[JSON.stringify(['203.0.113.9']), {
        group: { remoteHost: '203.0.113.9' },
        entries: [1, 2].map((i) => ({ t: T0 + i * 1000, key: `k${i}`, v: null, used: false, ev: { statementId: i } })),
        maxT: T0 + 2000,
        quietUntil: null,
      }]],
    },
  };
  const eng = new CorrelationEngine();
  eng.restore(old as never, new Set(['brute-force']));
  assert.deepEqual(eng.snapshot(), old, 'written back as it was read');
  const f = eng.observe(rule, timed(T0 + 3000, 3, { command: 'AUTH FAILURE', remoteHost: '203.0.113.9' }));
  assert.equal(f?.events, 3);
  assert.throws(() => eng.restore({ ...old, learning: { x: 'soon' } } as never, new Set()), /learning is not a map/);
});

test('a state file of the previous format (whole events kept, used entries with theirs) loads: duplicates by key, the old events shown', () => {
  const rs = load(BRUTE.replace('gte: 5', 'gte: 2')).ruleSet as CompiledRuleSet;
  const rule = rs.correlations[0]!;
  const event = (i: number) => timed(T0 + i * 1000, i, { command: 'AUTH FAILURE', remoteHost: '203.0.113.9', paramList: ['x'], pid: 7 });
  // As the previous version wrote it: every entry with its key and the whole redacted event, used or not.
  const saved = JSON.parse(JSON.stringify({
    version: 1,
    rules: {
      'brute-force': [[JSON.stringify(['203.0.113.9']), {
        group: { remoteHost: '203.0.113.9' },
        entries: [
          { t: T0 + 1000, key: 'old-1', v: null, used: true, ev: event(1) },
          { t: T0 + 2000, key: 'old-2', v: null, used: true, ev: event(2) },
          { t: T0 + 3000, key: 'old-3', v: null, used: false, ev: event(3) },
        ],
        maxT: T0 + 3000,
        quietUntil: T0 + 2000,
      }]],
    },
  }));
  const eng = new CorrelationEngine();
  eng.restore(saved, new Set(['brute-force']));
  assert.deepEqual(eng.snapshot(), saved, 'written back as it was read');
  const f = eng.observe(rule, event(4));
  assert.ok(f, 'the unused old entry and a new event reach 2');
  assert.equal(f.events, 2);
  assert.equal(f.firstKey, 'old-3', 'the id is made of the saved key');
  assert.deepEqual(f.first, event(3), 'the old entry shows the event it kept');
  assert.equal(f.last.paramList, undefined, 'a new entry keeps only what is shown');
  // A file edited by hand: an entry with neither its key nor its event, or a firing without its trigger, is refused.
  const broken = (entry: unknown, fired?: unknown) => ({ version: 1, rules: { 'brute-force': [['["h"]', { group: { remoteHost: 'h' }, entries: [entry], maxT: T0, quietUntil: null, ...(fired ? { fired } : {}) }]] } });
  assert.throws(() => new CorrelationEngine().restore(broken({ t: T0, v: null, used: false }) as never, new Set(['brute-force'])), /rule brute-force: a malformed group/);
  assert.throws(() => new CorrelationEngine().restore(broken({ t: T0, key: 'k', v: null, used: true }, { value: 2 }) as never, new Set(['brute-force'])), /a malformed group/);
});

const BIG = `${FAILED}
  - id: many-apps
    severity: high
    correlation: {type: value_count, rules: [failed-login], field: clientApplication, groupBy: [remoteHost], window: 1m, gte: 2}
`;

test('slim state: an entry keeps what counting needs and what an alert shows; a used one its identity only', () => {
  const rule = (load(BIG).ruleSet as CompiledRuleSet).correlations[0]!;
  const huge = `SELECT ${'x'.repeat(100_000)}`;
  const event = (i: number) =>
    timed(T0 + i * 1000, i, { command: 'AUTH FAILURE', remoteHost: '10.1.1.1', clientApplication: `app${i}`, commandText: huge, paramList: ['secret'], errorMessage: 'bad password' });
  const eng = new CorrelationEngine();
  assert.equal(eng.observe(rule, event(1)), undefined);
  const held = JSON.stringify(eng.snapshot());
  assert.ok(held.length < 1500, `a group of one event of a 100 KB statement holds ${held.length} characters`);
  const [entry] = eng.snapshot().rules['many-apps']![0]![1].entries as unknown as Record<string, unknown>[];
  const shown = entry!.ev as Record<string, unknown>;
  assert.deepEqual(Object.keys(shown).sort(), [
    'class', 'clientApplication', 'clusterId', 'command', 'commandText', 'databaseName', 'dbUserName', 'engine', 'instanceId', 'logTime',
    'objectName', 'remoteHost', 'sessionId', 'sqlCommand', 'statementId', 'substatementId',
  ], 'the shown fields (clientApplication and sqlCommand: the pack messages name them); no paramList, errorMessage or other fields');
  assert.equal(shown.commandText, `${huge.slice(0, 512)}…[truncated]`);
  const f = eng.observe(rule, event(2))!;
  assert.ok(f);
  assert.equal(f.first.statementId, 1);
  assert.equal(f.last.clientApplication, 'app2');
  assert.equal(String(f.last.commandText).length, 512 + '…[truncated]'.length);
  assert.equal(f.firstKey, eventKey(event(1)), 'the id is made of the first event, as before');
  // Once used, an entry is never shown again: it keeps its identity (a duplicate is still one) and no event.
  for (const e of eng.snapshot().rules['many-apps']![0]![1].entries as unknown as Record<string, unknown>[]) {
    assert.equal(e.used, true);
    assert.equal(e.ev, undefined);
    assert.match(String(e.key), /^[0-9a-f]{24}$/);
  }
  const dups = eng.counters.duplicates;
  assert.equal(eng.observe(rule, event(1)), undefined);
  assert.equal(eng.counters.duplicates, dups + 1);
});

test('a firing is given again, the same, when the event that completed it is seen again; counts do not change', () => {
  const brute = (load(BRUTE.replace('gte: 5', 'gte: 3')).ruleSet as CompiledRuleSet).correlations[0]!;
  const fail = (i: number) => timed(T0 + i * 1000, i, { command: 'AUTH FAILURE', remoteHost: '203.0.113.9' });
  const eng = new CorrelationEngine();
  eng.observe(brute, fail(1));
  eng.observe(brute, fail(2));
  const f = eng.observe(brute, fail(3))!;
  assert.ok(f);
  const state = JSON.stringify(eng.snapshot());
  const dups = eng.counters.duplicates;
  assert.equal(eng.observe(brute, fail(1)), undefined, 'another contributing event again: nothing');
  assert.deepEqual(eng.observe(brute, fail(3)), f, 'the trigger again: the same firing');
  assert.deepEqual(eng.observe(brute, fail(3)), f, 'as often as it comes');
  assert.equal(eng.counters.duplicates, dups + 3);
  assert.equal(JSON.stringify(eng.snapshot()), state, 'the state is as it was');
  // Kept in the snapshot: a restart behind its checkpoint gives it again too.
  const restarted = new CorrelationEngine();
  restarted.restore(JSON.parse(state), new Set(['brute-force']));
  assert.deepEqual(restarted.observe(brute, fail(3)), f);
  // Even once the trigger is out of the window (late to the group): it is that firing's.
  eng.observe(brute, fail(200));
  assert.deepEqual(eng.observe(brute, fail(3)), f);
  // One firing per group: the next one replaces it.
  eng.observe(brute, fail(201));
  const g = eng.observe(brute, fail(202))!;
  assert.ok(g);
  assert.equal(eng.observe(brute, fail(3)), undefined, 'the earlier trigger is only late now');
  assert.deepEqual(eng.observe(brute, fail(202)), g);

  const seq = (load(SEQUENCE).ruleSet as CompiledRuleSet).correlations.find((c) => c.info.id === 'brute-then-success')!;
  const s = new CorrelationEngine();
  for (let i = 0; i < 5; i++) s.observe(seq, timed(T0 + i * 1000, i, { command: 'AUTH FAILURE', dbUserName: 'alice' }));
  const ok = timed(T0 + 60_000, 9, { command: 'CONNECT', dbUserName: 'alice' });
  const sf = s.observe(seq, ok)!;
  assert.ok(sf);
  assert.deepEqual(s.observe(seq, ok), sf);
  assert.equal(s.observe(seq, timed(T0, 0, { command: 'AUTH FAILURE', dbUserName: 'alice' })), undefined);
});

test('alerts: a sequence says the events of each step, first_seen the new combination; ids are stable', async () => {
  const { buildCorrelationAlert, correlationAlertId } = await import('../../src/pipeline/alert.js');
  const pos = { source: 'f', shardId: 's', sequenceNumber: '1' };
  const seqRs = load(SEQUENCE).ruleSet as CompiledRuleSet;
  const seqRule = seqRs.correlations.find((c) => c.info.id === 'brute-then-success')!;
  const eng = new CorrelationEngine();
  for (let s = 0; s < 5; s++) eng.observe(seqRule, timed(T0 + s * 1000, s, { command: 'AUTH FAILURE', dbUserName: 'alice' }));
  const last = timed(T0 + 60_000, 9, { command: 'CONNECT', dbUserName: 'alice' });
  const f = eng.observe(seqRule, last)!;
  const a = buildCorrelationAlert(f, last as never, seqRule.template(last, seqRule.info), pos, 'literals');
  assert.equal(a.message, 'brute-then-success (5 then 1 events within 10m for dbUserName=alice)');
  assert.deepEqual((a.event as { correlation: unknown }).correlation, {
    type: 'sequence', steps: [{ gte: 5, events: 5 }, { gte: 1, events: 1 }], events: 6, window: '10m', group: { dbUserName: 'alice' },
    firstTime: '2024-05-01T12:00:00.000Z', lastTime: '2024-05-01T12:01:00.000Z',
  });
  assert.equal(a.id, correlationAlertId(f));
  assert.equal(a.time, '2024-05-01T12:01:00.000Z');

  const fsRs = load(FIRST_SEEN).ruleSet as CompiledRuleSet;
  const fsRule = fsRs.correlations.find((c) => c.info.id === 'new-admin-host')!;
  const ev = (day: number, h: string, s: number) => timed(T0 + day * DAY, s, { command: 'CONNECT', dbUserName: 'admin', remoteHost: h });
  const run = () => {
    const e = new CorrelationEngine();
    e.observe(fsRule, ev(0, '10.0.0.1', 1));
    return e.observe(fsRule, ev(8, '10.1.2.3', 2))!;
  };
  const g = run();
  const b = buildCorrelationAlert(g, ev(8, '10.1.2.3', 2) as never, [], pos, 'literals');
  assert.equal(b.message, ' (first time remoteHost=10.1.2.3 for dbUserName=admin)');
  assert.deepEqual((b.event as { correlation: unknown }).correlation, {
    type: 'first_seen', field: 'remoteHost', values: { remoteHost: '10.1.2.3' }, learning: '7d', forget: '30d', events: 1,
    group: { dbUserName: 'admin' }, firstTime: '2024-05-09T12:00:00.000Z', lastTime: '2024-05-09T12:00:00.000Z',
  });
  assert.equal(correlationAlertId(run()), correlationAlertId(g), 'the same events give the same id');
});

test('validate --explain shows a sequence (its steps, an inline condition expanded) and a first_seen', async () => {
  const { explainRule } = await import('../../src/rules/index.js');
  const seq = explainRule(load(SEQUENCE).ruleSet!, 'night-login-after-failures')!;
  assert.match(seq, /\n  correlation: sequence of 2 steps in order within 1h per \[dbUserName\], quiet 1h per group after firing\n/);
  assert.match(seq, /\n  step 1: 2 or more events of failed-login\n  step 2: 1 or more events of its when \(macros and lists expanded\), after step 1:\n    all:\n      command equal "CONNECT"\n      dbUserName in \["alice","bob"\]\n      hour greaterThanInclusive 22\n/);
  const fs = explainRule(load(FIRST_SEEN).ruleSet!, 'new-app-host')!;
  assert.match(fs, /\n  correlation: first_seen of \[remoteHost, clientApplication\] per \[dbUserName\], no quiet period after firing; learning 1d from the rule's first base event; never forgotten\n/);
  assert.match(fs, /own when \(macros and lists expanded\), also a base event:\n    command equal "CONNECT"/);
});
