/**
 * How a correlation is linked to what feeds it (src/rules/correlation.ts linkCorrelations), as a user sees it:
 * its own `exceptions:` silence its base events whichever base rule or sequence step they come from; a base rule
 * disabled (in its file or by an override) is never evaluated and feeds nothing; a base rule of another target
 * (`rds-event`) is a load error at the reference, since a correlation counts activity events.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CorrelationEngine, completeTestEvent, formatProblem, loadRuleTexts } from '../../src/rules/index.js';
import { CompiledRuleSet } from '../../src/rules/RuleSet.js';

const BASE = `
rules:
  - id: failed-login
    severity: medium
    when: {command: AUTH FAILURE}
  - id: login
    severity: low
    when: {command: CONNECT}
  - id: brute
    severity: high
    correlation: {type: event_count, rules: [failed-login], groupBy: [remoteHost], window: 1m, gte: 3}
  - id: guessed
    severity: high
    correlation:
      type: sequence
      groupBy: [dbUserName]
      window: 10m
      steps:
        - {rules: [failed-login], gte: 3}
        - {rules: [login]}
`;

function load(...texts: string[]): CompiledRuleSet {
  const { ruleSet, problems } = loadRuleTexts(texts.map((text, i) => ({ file: `f${i}.yaml`, text })));
  assert.deepEqual(problems.map(formatProblem), []);
  assert.ok(ruleSet instanceof CompiledRuleSet);
  return ruleSet;
}

/** The ids of the correlations that fire over `events` (in order, one second apart). */
function firings(set: CompiledRuleSet, events: Record<string, unknown>[]): string[] {
  const engine = new CorrelationEngine();
  const out: string[] = [];
  events.forEach((partial, i) => {
    const e = completeTestEvent({ statementId: i + 1, ...partial, logTime: `2024-05-01 12:00:${String(i).padStart(2, '0')}.000000+00` });
    for (const r of set.baseMatches(e)) if (engine.observe(r, e) !== undefined) out.push(r.info.id);
  });
  return out;
}

const attack = (host: string): Record<string, unknown>[] => [
  ...[1, 2, 3].map(() => ({ command: 'AUTH FAILURE', dbUserName: 'postgres', remoteHost: host })),
  { command: 'CONNECT', dbUserName: 'postgres', remoteHost: host },
];

test("a correlation's exceptions silence its base events from its rules: and its steps, not only from its own when:", () => {
  assert.deepEqual(firings(load(BASE), attack('203.0.113.9')), ['brute', 'guessed']);
  const mine = `
overrides:
  - rule: brute
    exceptions: {append: [{name: scanner, fields: [remoteHost], values: [[203.0.113.9]]}]}
  - rule: guessed
    exceptions: {append: [{name: scanner, fields: [remoteHost], values: [[203.0.113.9]]}]}
`;
  const set = load(BASE, mine);
  assert.deepEqual(firings(set, attack('203.0.113.9')), [], 'the excepted host fires nothing');
  assert.deepEqual(firings(set, attack('198.51.100.7')), ['brute', 'guessed'], 'another host still does');
});

test('a disabled base rule is never evaluated: it feeds its correlations nothing (in its file or by an override)', () => {
  const off = load(BASE, 'overrides:\n  - {rule: failed-login, enabled: false}\n');
  assert.deepEqual(firings(off, attack('203.0.113.9')), []);
  assert.deepEqual(off.baseMatches(completeTestEvent({ command: 'AUTH FAILURE', remoteHost: 'h' })), []);
  const loginOff = load(BASE, 'overrides:\n  - {rule: login, enabled: false}\n');
  assert.deepEqual(firings(loginOff, attack('203.0.113.9')), ['brute'], 'the sequence loses its second step; the count still fires');
});

test('a base rule that tests RDS events is a load error at the reference, naming the correlation', () => {
  const text = `
rules:
  - id: stream-stopped
    target: rds-event
    severity: critical
    when: {eventId: RDS-EVENT-0180}
  - id: odd
    severity: high
    correlation: {type: event_count, rules: [stream-stopped], groupBy: [clusterId], window: 1h, gte: 2}
`;
  const { ruleSet, problems } = loadRuleTexts([{ file: 'odd.yaml', text }]);
  assert.equal(ruleSet, undefined);
  assert.deepEqual(problems.map(formatProblem), ["odd.yaml:9 odd: correlation: base rule 'stream-stopped' tests rds-event events, not activity; a correlation counts activity events"]);
});

test('validate --explain names a disabled base rule as feeding nothing', async () => {
  const { explainRule } = await import('../../src/rules/index.js');
  const off = load(BASE, 'overrides:\n  - {rule: failed-login, enabled: false}\n');
  assert.match(explainRule(off, 'brute') ?? '', /\n {2}base rules: failed-login \(disabled: feeds nothing\)\n/);
  assert.match(explainRule(off, 'guessed') ?? '', /\n {2}step 1: 3 or more events of failed-login \(disabled: feeds nothing\)\n/);
  assert.match(explainRule(load(BASE), 'brute') ?? '', /\n {2}base rules: failed-login\n/);
});
