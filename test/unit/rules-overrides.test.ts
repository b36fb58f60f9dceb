/** Exceptions, overrides and appends (src/rules/overrides.ts) and `validate --explain`'s text (src/rules/explain.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { explainRule, formatProblem, loadRules, loadRuleTexts, type RuleSet } from '../../src/rules/index.js';
import type { CompiledRuleSet } from '../../src/rules/RuleSet.js';

const pack = await loadRules(['rules']);
const packTexts = await Promise.all(pack.files.map(async (file) => ({ file, text: await readFile(file, 'utf8') })));

function load(files: Record<string, string>, withPack = true): { ruleSet: RuleSet | undefined; lines: string[] } {
  const { ruleSet, problems } = loadRuleTexts([...(withPack ? packTexts : []), ...Object.entries(files).map(([file, text]) => ({ file, text }))]);
  return { ruleSet, lines: problems.map(formatProblem) };
}

function ok(files: Record<string, string>, withPack = true): RuleSet {
  const { ruleSet, lines } = load(files, withPack);
  assert.deepEqual(lines, []);
  assert.ok(ruleSet !== undefined);
  return ruleSet;
}

const fired = (rs: RuleSet, event: Record<string, unknown>, id: string): string | undefined => rs.evaluate(event).find((m) => m.rule.id === id)?.rule.severity;

const ETL_RULE = [
  'rules:', //                                                        1
  '  - id: etl-ddl', //                                               2
  '    severity: high', //                                            3
  '    when: {class: DDL}', //                                        4
  '    exceptions:', //                                               5
  '      - name: etl_jobs', //                                        6
  '        fields: [dbUserName, clientApplication]', //               7
  '        values:', //                                               8
  '          - [etl_loader, airflow]', //                             9
  '          - [etl_loader, dbt]', //                                 10
  '',
].join('\n');

test('an exception silences exactly its tuples, not a partial match, and the reference engine agrees', async () => {
  const rs = ok({ 'etl.yaml': ETL_RULE }, false);
  const cases: [Record<string, unknown>, boolean][] = [
    [{ class: 'DDL', dbUserName: 'etl_loader', clientApplication: 'airflow' }, false],
    [{ class: 'DDL', dbUserName: 'etl_loader', clientApplication: 'dbt' }, false],
    [{ class: 'DDL', dbUserName: 'etl_loader', clientApplication: 'psql' }, true],
    [{ class: 'DDL', dbUserName: 'alice', clientApplication: 'airflow' }, true],
    [{ class: 'DDL', dbUserName: 'etl_loader' }, true],
    [{ class: 'DDL', clientApplication: 'airflow' }, true],
    [{ class: 'READ', dbUserName: 'alice' }, false],
  ];
  const engine = (rs as CompiledRuleSet).referenceEngine();
  for (const [event, fires] of cases) {
    assert.equal(fired(rs, event, 'etl-ddl') !== undefined, fires, JSON.stringify(event));
    const { events } = await engine.run({ ...event });
    assert.equal(events.length > 0, fires, `reference engine on ${JSON.stringify(event)}`);
  }
  // The exception does not hide the rule from the index: it is still tried only on DDL events.
  assert.deepEqual((rs as CompiledRuleSet).indexStats().fields, ['class']);
});

test('an override changes a bundled rule: severity (its alerts show it), enabled, exceptions appended', () => {
  const ddl = { engine: 'postgresql', class: 'DDL', command: 'CREATE TABLE', dbUserName: 'postgres', clientApplication: 'flyway' };
  assert.equal(fired(ok({}), ddl, 'ddl-by-privileged-user'), 'high');
  const rs = ok({
    'local.yaml': [
      'overrides:',
      '  - rule: ddl-by-privileged-user',
      '    severity: low',
      '    exceptions:',
      '      append:',
      '        - {name: migrations, fields: [dbUserName, clientApplication], values: [[postgres, flyway]]}',
      '  - rule: privilege-change',
      '    enabled: false',
    ].join('\n'),
  });
  assert.equal(fired(rs, ddl, 'ddl-by-privileged-user'), undefined);
  assert.equal(fired(rs, { ...ddl, clientApplication: 'psql' }, 'ddl-by-privileged-user'), 'low');
  assert.equal(rs.rules.find((r) => r.id === 'privilege-change')?.enabled, false);
});

test('exceptions: replace drops the rule\'s own exceptions', () => {
  const rs = ok({
    'etl.yaml': ETL_RULE,
    'z.yaml': 'overrides:\n  - rule: etl-ddl\n    exceptions:\n      replace:\n        - {name: only_bob, fields: [dbUserName], values: [[bob]]}\n',
  }, false);
  assert.ok(fired(rs, { class: 'DDL', dbUserName: 'etl_loader', clientApplication: 'airflow' }, 'etl-ddl'));
  assert.equal(fired(rs, { class: 'DDL', dbUserName: 'bob' }, 'etl-ddl'), undefined);
});

test('an append to a bundled list or macro takes effect in every rule that uses it', () => {
  const ddl = { engine: 'postgresql', class: 'DDL', command: 'CREATE TABLE', dbUserName: 'etl_admin' };
  assert.equal(fired(ok({}), ddl, 'ddl-by-privileged-user'), undefined);
  const rs = ok({ 'local.yaml': 'overrides:\n  - list: privileged_users\n    append: [etl_admin]\n' });
  assert.equal(fired(rs, ddl, 'ddl-by-privileged-user'), 'high');
  const m = ok({
    'm.yaml': 'macros:\n  is_ddl: {class: DDL}\nrules:\n  - id: m-rule\n    severity: low\n    when: {macro: is_ddl}\n',
    'n.yaml': 'overrides:\n  - macro: is_ddl\n    append: {class: DCL}\n',
  }, false);
  assert.ok(fired(m, { class: 'DDL' }, 'm-rule'));
  assert.ok(fired(m, { class: 'DCL' }, 'm-rule'));
  assert.equal(fired(m, { class: 'READ' }, 'm-rule'), undefined);
});

test('every mistake in exceptions and overrides is reported at once with file:line and the rule id', () => {
  const { ruleSet, lines } = load({
    'bad.yaml': [
      'rules:', //                                                      1
      '  - id: r1', //                                                  2
      '    severity: high', //                                          3
      '    when: {class: DDL}', //                                      4
      '    exceptions:', //                                             5
      '      - name: a', //                                             6
      '        fields: [dbUserName, bogus]', //                         7
      '        values: [[x, y]]', //                                    8
      '      - name: b', //                                             9
      '        fields: [dbUserName, clientApplication]', //             10
      '        values: [[x]]', //                                       11
      '      - name: b', //                                             12
      '        fields: [dbUserName]', //                                13
      '        values: [[x]]', //                                       14
      'overrides:', //                                                  15
      '  - rule: no-such-rule', //                                      16
      '    severity: low', //                                           17
      '  - list: no_such_list', //                                      18
      '    append: [x]', //                                             19
      '  - macro: no_such_macro', //                                    20
      '    append: {class: DDL}', //                                    21
      '  - rule: r1', //                                                22
      '    severity: low', //                                           23
      '    exceptions: [oops]', //                                      24
      '  - rule: r1', //                                                25
      '    severity: urgent', //                                        26
      '    priority: high', //                                          27
    ].join('\n'),
    'later.yaml': 'overrides:\n  - rule: r1\n    severity: medium\n    enabled: maybe\n',
  }, false);
  assert.equal(ruleSet, undefined);
  assert.deepEqual(lines, [
    "bad.yaml:7 r1: unknown field 'bogus' (declare fields AWS adds later under `fields:`)",
    "bad.yaml:11 r1: exception 'b': this tuple has 1 value for 2 fields (dbUserName, clientApplication)",
    "bad.yaml:12 r1: duplicate exception 'b' (also at bad.yaml:9)",
    "bad.yaml:16 no-such-rule: override of unknown rule 'no-such-rule'",
    "bad.yaml:18 -: append to unknown list 'no_such_list'",
    "bad.yaml:20 -: append to unknown macro 'no_such_macro'",
    "bad.yaml:24 r1: override exceptions: is {append: [...]} or {replace: [...]}, got a list",
    'bad.yaml:26 r1: bad severity text "urgent": one of info, low, medium, high, critical',
    "bad.yaml:27 r1: unknown key 'priority' in a rule override (expected rule, severity, enabled, exceptions)",
    "later.yaml:3 r1: severity of rule 'r1' is already overridden at bad.yaml:23 (one override per property: merge them)",
    "later.yaml:4 r1: 'enabled' must be true or false, got text \"maybe\"",
  ]);
});

test('explainRule: the effective rule and the file:line that set or changed each property', () => {
  const rs = ok({
    'etl.yaml': ETL_RULE,
    'z.yaml': 'overrides:\n  - rule: etl-ddl\n    severity: low\n    exceptions:\n      append:\n        - {name: ops, fields: [dbUserName], values: [[ops]]}\n',
  }, false);
  assert.equal(explainRule(rs, 'nope'), undefined);
  assert.equal(
    explainRule(rs, 'etl-ddl'),
    [
      'rule etl-ddl (etl.yaml:2, target activity)',
      '  severity: low',
      '  enabled: true',
      '  when (macros and lists expanded):',
      '    class equal "DDL"',
      '  exceptions (an event equal to every value of one tuple is silenced):',
      '    etl_jobs [dbUserName, clientApplication]',
      '      ["etl_loader","airflow"]',
      '      ["etl_loader","dbt"]',
      '    ops [dbUserName]',
      '      ["ops"]',
      '  set or changed at (load order):',
      '    when                     etl.yaml:4  set',
      '    severity                 etl.yaml:3  set',
      '    enabled                  etl.yaml:2  default',
      '    exceptions.etl_jobs      etl.yaml:6  set',
      '    severity                 z.yaml:3  override: low',
      '    exceptions.ops           z.yaml:6  override: append',
    ].join('\n'),
  );
});
