/**
 * The index of correlations' base events (RuleSet.baseMatches): each part of a base predicate (a correlation's
 * `when:`, a base rule, a step) is tried once per event, and only on an event whose fields can meet its condition
 * (compile.ts alternativesOf). It must say exactly what the base predicates say, in load order: an event the index
 * lets through feeds the correlations it fed before, with the same alert; one it skips could not have fed them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { alternativesOf, lowerKey, textKey } from '../../src/rules/compile.js';
import type { Cond } from '../../src/rules/conditionEnv.js';
import { CorrelationEngine, completeTestEvent, formatProblem, loadRules, loadRuleTexts, type CompiledRule } from '../../src/rules/index.js';
import { CompiledRuleSet } from '../../src/rules/RuleSet.js';
import { decodeRecord } from '../../src/codec/decode.js';
import { readInputs } from '../../src/input/readInputs.js';
import { packEvents } from '../support/packEvents.js';

function load(text: string): CompiledRuleSet {
  const { ruleSet, problems } = loadRuleTexts([{ file: 'rules.yaml', text }]);
  assert.deepEqual(problems.map(formatProblem), []);
  assert.ok(ruleSet instanceof CompiledRuleSet);
  return ruleSet;
}

/** What the base predicates say, one correlation at a time (the index's reference). */
const unindexed = (rs: CompiledRuleSet, e: Record<string, unknown>): string[] =>
  (rs.correlations ?? []).filter((c) => c.basePredicate?.(e) === true).map((c) => c.info.id);
const indexed = (rs: CompiledRuleSet, e: Record<string, unknown>): string[] => rs.baseMatches(e).map((c) => c.info.id);

const RULES = `
rules:
  - id: failed-login
    severity: medium
    when:
      any:
        - all: [{engine: mysql}, {sqlCommand: FAILED_CONNECT}]
        - all: [{engine: postgresql}, {command: {matches: {pattern: '^auth', flags: i}}}]
  - id: login
    severity: low
    when:
      all:
        - any:
            - all: [{engine: postgresql}, {command: CONNECT}]
            - all: [{engine: mysql}, {sqlCommand: CONNECT}]
        - not: {dbUserName: rdsadmin}
  - id: quiet
    severity: low
    enabled: false
    when: {command: CONNECT}
  - id: brute
    severity: high
    correlation: {type: event_count, rules: [failed-login], groupBy: [remoteHost], window: 1m, gte: 3}
  - id: spraying
    severity: high
    exceptions:
      - {name: scanner, fields: [remoteHost], values: [[10.9.9.9]]}
    correlation: {type: value_count, rules: [failed-login], field: dbUserName, groupBy: [remoteHost], window: 10m, gte: 2}
  - id: guessed
    severity: high
    correlation:
      type: sequence
      groupBy: [dbUserName]
      window: 10m
      steps:
        - {rules: [failed-login], gte: 2}
        - {when: {all: [{command: {in: [CONNECT, LOGIN]}}, {class: MISC}]}}
  - id: reads
    severity: medium
    when:
      all:
        - {class: READ}
        - {class: {in: [READ, WRITE]}}
        - {rows: {gt: 0}}
    correlation: {type: value_sum, field: rows, groupBy: [dbUserName], window: 10m, gte: 100}
  - id: never
    severity: low
    when: {all: [{class: READ}, {class: WRITE}]}
    correlation: {type: event_count, groupBy: [dbUserName], window: 1m, gte: 1}
  - id: only-disabled
    severity: low
    correlation: {type: event_count, rules: [quiet], groupBy: [dbUserName], window: 1m, gte: 1}
  - id: night
    severity: low
    when: {hour: {lt: 6}}
    correlation: {type: first_seen, groupBy: [dbUserName], field: remoteHost, learning: 1d}
`;

/** Events of every shape the rules tell apart: each engine, command, class, user and host, with and without rows. */
function variedEvents(): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  let i = 0;
  for (const engine of ['postgresql', 'mysql']) {
    for (const [cls, command] of [['MISC', 'CONNECT'], ['MISC', 'AUTH FAILURE'], ['MAIN', 'FAILED_CONNECT'], ['MAIN', 'CONNECT'], ['READ', 'SELECT'], ['WRITE', 'UPDATE'], ['MISC', 'LOGIN'], ['MAIN', 'QUERY']]) {
      for (const dbUserName of ['alice', 'rdsadmin']) {
        for (const remoteHost of ['10.0.0.1', '10.9.9.9']) {
          for (const rowCount of [0, 500]) {
            const t = Date.UTC(2026, 0, 1, (i * 7) % 24, i % 60);
            out.push(completeTestEvent({ engine, class: cls, command, dbUserName, remoteHost, rowCount, logTime: new Date(t).toISOString(), statementId: ++i }));
          }
        }
      }
    }
  }
  return out;
}

test('the index says what the base predicates say, in load order, for events of every shape', () => {
  const rs = load(RULES);
  const events = variedEvents();
  const fed = new Set<string>();
  for (const e of events) {
    assert.deepEqual(indexed(rs, e), unindexed(rs, e), JSON.stringify(e));
    for (const id of indexed(rs, e)) fed.add(id);
  }
  // Every correlation that can be fed was, so each kind of part was let through somewhere (the test can fail).
  assert.deepEqual([...fed].sort(), ['brute', 'guessed', 'night', 'reads', 'spraying']);
});

test('more alternatives than the index holds as bits: the parts beyond are tried on every event, the answer is the same', () => {
  // 24 correlations of 2 alternatives each: 48, beyond the 31 bits.
  const rules = Array.from({ length: 24 }, (_, i) => `
  - id: c${i}
    severity: low
    when:
      any:
        - all: [{engine: postgresql}, {command: ${i % 2 === 0 ? 'CONNECT' : 'SELECT'}}]
        - all: [{engine: mysql}, {sqlCommand: ${i % 3 === 0 ? 'CONNECT' : 'UPDATE'}}]
    correlation: {type: event_count, groupBy: [dbUserName], window: 1m, gte: 2}`).join('');
  const rs = load(`rules:${rules}`);
  const fed = new Set<string>();
  for (const e of variedEvents()) {
    assert.deepEqual(indexed(rs, e), unindexed(rs, e), JSON.stringify(e));
    for (const id of indexed(rs, e)) fed.add(id);
  }
  assert.equal(fed.size, 24);
});

test('a correlation fed through the index fires as without it: the same firings for the same events', () => {
  const rs = load(RULES);
  const events = variedEvents();
  const run = (matches: (e: Record<string, unknown>) => CompiledRule[]) => {
    const engine = new CorrelationEngine();
    const firings: unknown[] = [];
    for (const e of events) for (const r of matches(e)) firings.push(engine.observe(r, e) ?? null);
    return { firings, state: engine.snapshot() };
  };
  const withIndex = run((e) => rs.baseMatches(e));
  const without = run((e) => (rs.correlations ?? []).filter((c) => c.basePredicate?.(e) === true) as CompiledRule[]);
  assert.ok(withIndex.firings.some((f) => f !== null), 'some correlation fires');
  assert.deepEqual(withIndex, without);
});

test('the pack: the index says what the base predicates say on the samples and on every event of its rule tests', async () => {
  const rs = (await loadRules(['rules'])).ruleSet as CompiledRuleSet;
  const events: Record<string, unknown>[] = [];
  for await (const it of readInputs(['samples/plaintext'])) {
    if (it.kind === 'record') events.push(...(await decodeRecord(it.record.data, {})).events);
  }
  for (const r of rs.compiledRules()) {
    for (const s of r.tests?.sequences ?? []) for (const { event } of s.events) events.push(completeTestEvent(event));
    for (const { event } of [...(r.tests?.fires ?? []), ...(r.tests?.doesNotFire ?? [])]) events.push(completeTestEvent(event));
  }
  let fed = 0;
  for (const e of events) {
    assert.deepEqual(indexed(rs, e), unindexed(rs, e), JSON.stringify(e));
    if (indexed(rs, e).length > 0) fed++;
  }
  assert.ok(fed > 50, `events feeding correlations: ${fed}`);
});

test('alternativesOf: any gives each branch, all their combinations; a field without a common value rules one out', () => {
  const fact = (f: string, value: unknown, operator = 'equal'): Cond => ({ kind: 'fact', ref: { fact: f, path: [] }, operator, value }) as unknown as Cond;
  const show = (c: Cond) => alternativesOf(c).map((a) => Object.fromEntries([...a].map(([k, v]) => [k, [...v]])));
  const login: Cond = {
    kind: 'any',
    items: [
      { kind: 'all', items: [fact('engine', 'postgresql'), fact('command', 'CONNECT')] },
      { kind: 'all', items: [fact('engine', 'mysql'), fact('sqlCommand', 'CONNECT')] },
    ],
  };
  assert.deepEqual(show(login), [{ engine: ['postgresql'], command: ['CONNECT'] }, { engine: ['mysql'], sqlCommand: ['CONNECT'] }]);
  assert.deepEqual(show({ kind: 'all', items: [login, fact('engine', ['mysql', 'oracle'], 'in')] }), [{ engine: ['mysql'], sqlCommand: ['CONNECT'] }]);
  // A branch that requires nothing (a regex on a field every event holds, a `not`): the whole requires nothing.
  assert.deepEqual(show({ kind: 'any', items: [login, fact('command', 'x', 'startsWith')] }), [{}]);
  // A text operator (a regex) on a sparse field requires text (or a number, for matches) in it; its negation nothing.
  assert.deepEqual(show({ kind: 'any', items: [fact('exitCode', ['42601'], 'in'), fact('errorMessage', { regex: 'syntax', flags: '' }, 'matches')] }), [{ exitCode: ['42601'] }, { [textKey('errorMessage')]: [true] }]);
  assert.deepEqual(show(fact('dbUserName', ['rdsadmin'], 'notInIgnoreCase')), [{}]);
  // iin: one of its values, in lower case, of the field in lower case.
  assert.deepEqual(show(fact('dbUserName', ['Postgres', 'ROOT'], 'inIgnoreCase')), [{ [lowerKey('dbUserName')]: ['postgres', 'root'] }]);
  assert.deepEqual(show({ kind: 'not', item: fact('errorMessage', { regex: 'x', flags: '' }, 'matches') }), [{}]);
  assert.deepEqual(show({ kind: 'not', item: login }), [{}]);
  // Never true: no alternative.
  assert.deepEqual(show({ kind: 'all', items: [fact('class', 'READ'), fact('class', 'WRITE')] }), []);
  // Too many combinations (5 x 5): the one alternative requirementsOf gives.
  const five = ['a', 'b', 'c', 'd', 'e'];
  const wide = (f: string): Cond => ({ kind: 'any', items: five.map((v) => ({ kind: 'all', items: [fact('engine', 'mysql'), fact(f, v)] }) as Cond) });
  assert.equal(alternativesOf(wide('x')).length, 5);
  assert.deepEqual(show({ kind: 'all', items: [wide('x'), wide('y')] }), [{ engine: ['mysql'], x: five, y: five }]);
});

test('the pack: evaluateActivity (one pass) gives what evaluate and baseMatches give, on the samples, the rule tests and the corpora', async () => {
  const rs = (await loadRules(['rules'])).ruleSet as CompiledRuleSet;
  const events = await packEvents(rs);
  let both = 0;
  let alerting = 0;
  let feeding = 0;
  for (const e of events) {
    const one = rs.evaluateActivity(e);
    assert.deepEqual(one.matches, rs.evaluate(e), JSON.stringify(e));
    assert.deepEqual(one.bases.map((c) => c.info.id), rs.baseMatches(e).map((c) => c.info.id), JSON.stringify(e));
    if (one.matches.length > 0) alerting++;
    if (one.bases.length > 0) feeding++;
    if (one.matches.length > 0 && one.bases.length > 0) both++;
  }
  // Events that alert, feed correlations, and both (authentication-failure feeds brute-force): each way compared.
  assert.ok(alerting > 100 && feeding > 100 && both > 10, `alerting ${alerting}, feeding ${feeding}, both ${both}`);
});
