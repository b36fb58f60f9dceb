/** Correlation rules (src/rules/correlation.ts, CorrelationEngine.ts, the timed sequences of ruleTests.ts): syntax, load-time checks, windows on event time. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadRuleTexts, runRuleTests, completeTestEvent } from '../../src/rules/index.js';
import { CompiledRuleSet } from '../../src/rules/RuleSet.js';
import { CorrelationEngine } from '../../src/rules/CorrelationEngine.js';

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
