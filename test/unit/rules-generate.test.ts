/**
 * Sigma's `generate` on correlation rules (docs/rules.md "Correlation rules"): a base rule listed by an enabled
 * correlation only feeds it (no alert of its own) unless an enabled correlation listing it says `generate: true`;
 * a correlation disabled in its file or by an override gives its base rules their alerts back; rule tests of a
 * silenced base rule still test its condition; `validate --explain` and plain `validate` say who feeds what.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { completeTestEvent, explainRule, feedOnlyLines, loadRuleTexts, runRuleTests } from '../../src/rules/index.js';
import { CompiledRuleSet } from '../../src/rules/RuleSet.js';
import { baseRuleIds } from '../../src/rules/correlation.js';

const BASE = `
rules:
  - id: failed-login
    severity: medium
    when: {command: AUTH FAILURE}
    tests:
      fires: [{command: AUTH FAILURE}]
      doesNotFire: [{command: CONNECT}]
  - id: ddl
    severity: low
    when: {class: DDL}
`;

/** A correlation on failed-login; `extra` is added to its correlation: mapping, `rule` to the rule. */
function corr(id: string, extra = '', rule = ''): string {
  return `
  - id: ${id}
    severity: high
${rule}    correlation: {type: event_count, rules: [failed-login], groupBy: [remoteHost], window: 1m, gte: 5${extra}}
`;
}

function load(...texts: string[]): CompiledRuleSet {
  const { ruleSet, problems } = loadRuleTexts(texts.map((text, i) => ({ file: `f${i}.yaml`, text })));
  assert.deepEqual(problems.map((p) => `${p.file}:${p.line} ${p.message}`), []);
  assert.ok(ruleSet instanceof CompiledRuleSet);
  return ruleSet;
}

const failure = completeTestEvent({ command: 'AUTH FAILURE', remoteHost: '203.0.113.9' });
const fired = (rs: CompiledRuleSet): string[] => rs.evaluate(failure).map((m) => m.rule.id);
const fed = (rs: CompiledRuleSet): string[] => rs.baseMatches(failure).map((c) => c.info.id);

test('generate defaults to false: a base rule of an enabled correlation gives no alert of its own, and still feeds it', () => {
  const rs = load(BASE + corr('brute-force') + corr('spraying'));
  assert.deepEqual(fired(rs), []);
  assert.deepEqual(fed(rs), ['brute-force', 'spraying']);
  // Other rules are untouched.
  assert.deepEqual(rs.evaluate(completeTestEvent({ class: 'DDL', command: 'CREATE TABLE' })).map((m) => m.rule.id), ['ddl']);
  // The json-rules-engine reference runs the same rules as evaluate.
  assert.deepEqual(rs.engineRules().map((r) => r.name), ['ddl']);
  assert.deepEqual(rs.compiledRules().find((r) => r.info.id === 'failed-login')?.feedsOnly, ['brute-force', 'spraying']);
});

test('generate: true on one enabled correlation listing the rule: it alerts on its own again', () => {
  const rs = load(BASE + corr('brute-force') + corr('spraying', ', generate: true'));
  assert.deepEqual(fired(rs), ['failed-login']);
  assert.deepEqual(fed(rs), ['brute-force', 'spraying']);
  assert.equal(rs.compiledRules().find((r) => r.info.id === 'failed-login')?.feedsOnly, undefined);
  // generate: false written out is the default.
  assert.deepEqual(fired(load(BASE + corr('brute-force', ', generate: false'))), []);
});

test('a base rule listed only by disabled correlations alerts as before', () => {
  const rs = load(BASE + corr('brute-force', '', '    enabled: false\n'));
  assert.deepEqual(fired(rs), ['failed-login']);
  assert.deepEqual(fed(rs), []);
  // ...and a generate: true that is disabled does not outvote an enabled generate: false.
  const mixed = load(BASE + corr('brute-force') + corr('spraying', ', generate: true', '    enabled: false\n'));
  assert.deepEqual(fired(mixed), []);
});

test("an override in a user's file disabling the correlation gives the base rule its alerts back; enabling one silences it", () => {
  const off = load(BASE + corr('brute-force'), 'overrides:\n  - rule: brute-force\n    enabled: false\n');
  assert.deepEqual(fired(off), ['failed-login']);
  assert.deepEqual(fed(off), []);
  const on = load(BASE + corr('brute-force', '', '    enabled: false\n'), 'overrides:\n  - rule: brute-force\n    enabled: true\n');
  assert.deepEqual(fired(on), []);
  assert.deepEqual(fed(on), ['brute-force']);
});

test("a silenced base rule's fires/doesNotFire tests still test its condition", () => {
  const good = load(BASE + corr('brute-force'));
  assert.deepEqual(runRuleTests(good), { passed: 2, failed: [] });
  // A wrong condition is caught although the rule never alerts on its own.
  const wrong = load(BASE.replace('when: {command: AUTH FAILURE}', 'when: {command: CONNECT}') + corr('brute-force'));
  const r = runRuleTests(wrong);
  assert.equal(r.passed, 0);
  assert.deepEqual(r.failed.map((f) => [f.ruleId, f.message.replace(/ on .*/, '')]), [
    ['failed-login', 'tests.fires[0]: expected the rule to fire; it did not'],
    ['failed-login', 'tests.doesNotFire[0]: expected the rule not to fire; it fired'],
  ]);
});

test('generate must be true or false: a load error with file:line and the rule id', () => {
  const { ruleSet, problems } = loadRuleTexts([{ file: 'g.yaml', text: BASE + corr('brute-force', ', generate: 1') + corr('other', ', generate: yes please') }]);
  assert.equal(ruleSet, undefined);
  assert.deepEqual(problems.map((p) => `${p.file}:${p.line} ${p.ruleId}: ${p.message}`), [
    'g.yaml:15 brute-force: correlation: generate must be true or false, got number 1',
    'g.yaml:19 other: correlation: generate must be true or false, got text "yes please"',
  ]);
});

test('validate --explain: a base rule says it does not alert on its own and why; a correlation shows its generate', () => {
  const rs = load(BASE + corr('brute-force') + corr('password-spraying'));
  assert.match(explainRule(rs, 'failed-login') ?? '', /\n {2}enabled: true\n {2}does not alert on its own: feeds brute-force, password-spraying \(generate: false\)\n/);
  assert.match(explainRule(rs, 'brute-force') ?? '', /\n {2}base rules: failed-login\n {2}generate: false \(its base rules only feed it, unless an enabled correlation listing them says generate: true\)\n/);
  assert.doesNotMatch(explainRule(rs, 'ddl') ?? '', /alert on its own|feeds/);

  const gen = load(BASE + corr('brute-force') + corr('password-spraying', ', generate: true'));
  assert.match(explainRule(gen, 'failed-login') ?? '', /\n {2}alerts on its own and feeds brute-force, password-spraying \(generate: true on password-spraying\)\n/);
  assert.match(explainRule(gen, 'password-spraying') ?? '', /\n {2}generate: true \(its base rules also alert on their own\)\n/);

  const off = load(BASE + corr('brute-force'), 'overrides:\n  - rule: brute-force\n    enabled: false\n');
  assert.match(explainRule(off, 'failed-login') ?? '', /\n {2}alerts on its own: listed only by disabled correlations \(brute-force\)\n/);
  assert.match(explainRule(off, 'brute-force') ?? '', /\n {2}generate: false \(disabled: it silences none of its base rules\)\n/);
});

test('plain validate names each enabled rule that only feeds correlations', () => {
  assert.deepEqual(feedOnlyLines(load(BASE + corr('brute-force') + corr('spraying'))), [
    'failed-login does not alert on its own: feeds brute-force, spraying (generate: false)',
  ]);
  assert.deepEqual(feedOnlyLines(load(BASE + corr('brute-force', ', generate: true'))), []);
  // A base rule disabled itself gives no alert anyway: not listed.
  assert.deepEqual(feedOnlyLines(load(BASE.replace('severity: medium', 'severity: medium\n    enabled: false') + corr('brute-force'))), []);
});

test('baseRuleIds: the ids a correlation references, each once, in the order written', () => {
  const rs = load(BASE + `
  - id: both
    severity: high
    correlation: {type: event_count, rules: [failed-login, ddl, failed-login], window: 1m, gte: 2}
`);
  const spec = rs.correlations.find((c) => c.info.id === 'both')?.correlation;
  assert.ok(spec);
  assert.deepEqual(baseRuleIds(spec), ['failed-login', 'ddl']);
  assert.deepEqual(fired(rs), []);
  assert.deepEqual(rs.evaluate(completeTestEvent({ class: 'DDL', command: 'CREATE TABLE' })), []);
});
