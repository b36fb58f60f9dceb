import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatProblem, loadRules, loadRuleTexts, type Problem } from '../../src/rules/index.js';
import type { CompiledRuleSet } from '../../src/rules/RuleSet.js';

function load(files: Record<string, string>): { ok: boolean; problems: Problem[]; lines: string[] } {
  const { ruleSet, problems } = loadRuleTexts(Object.entries(files).map(([file, text]) => ({ file, text })));
  return { ok: ruleSet !== undefined, problems, lines: problems.map(formatProblem) };
}

/** Asserts that some problem is reported at file:line for the rule, matching the pattern. */
function has(lines: string[], prefix: string, pattern: RegExp): void {
  assert.ok(
    lines.some((l) => l.startsWith(prefix + ' ') && pattern.test(l)),
    `no problem "${prefix} ... ${pattern}" in:\n${lines.join('\n')}`,
  );
}

test('every mistake in a file is reported at once, each with file:line and the rule id', () => {
  const text = [
    'rules:', //                                             1
    '  - id: typo-key', //                                   2
    '    serverity: high', //                                3
    '    when: {dbUsername: root}', //                       4
    '  - id: bad-values', //                                 5
    '    severity: urgent', //                               6
    '    when:', //                                          7
    '      all:', //                                         8
    "        - rowCount: {gt: '100'}", //                    9
    '        - remoteHost: {inCidr: 10.0.0.0/33}', //        10
    "        - commandText: {matches: '(unclosed'}", //      11
    '        - dbUserName: {in: $nolist}', //                12
    '        - class: {bogus: 1}', //                        13
    '        - macro: nomacro', //                           14
    '        - commandText: {contains: password}', //        15
    '        - dbUserName: 123', //                          16
    '        - logTime: {gt: 5}', //                         17
    '    message: "{{nofield}} did it"', //                  18
    '  - id: typo-key', //                                   19
    '    severity: low', //                                  20
    '    when: {class: DDL}', //                             21
    '  - description: no id, no severity, no when', //       22
    '  - id: bad-flags', //                                  23
    '    severity: low', //                                  24
    '    when: {commandText: {matches: {pattern: x, flags: g}}}', // 25
    '    target: rds-events', //                             26
  ].join('\n');
  const { ok, lines } = load({ 'a.yaml': text });
  assert.equal(ok, false);
  has(lines, 'a.yaml:3 typo-key:', /unknown key 'serverity' in a rule \(did you mean 'severity'\?\)/);
  has(lines, 'a.yaml:2 typo-key:', /rule has no severity/);
  has(lines, 'a.yaml:4 typo-key:', /unknown field 'dbUsername' \(did you mean 'dbUserName'\?\)/);
  has(lines, 'a.yaml:6 bad-values:', /bad severity text "urgent"/);
  has(lines, 'a.yaml:9 bad-values:', /'greaterThan' takes a number, got text "100": write it without quotes/);
  has(lines, 'a.yaml:10 bad-values:', /10\.0\.0\.0\/33" is not an IPv4\/IPv6 address or CIDR/);
  has(lines, 'a.yaml:11 bad-values:', /invalid regular expression/);
  has(lines, 'a.yaml:12 bad-values:', /unknown list 'nolist'/);
  has(lines, 'a.yaml:13 bad-values:', /unknown operator 'bogus'/);
  has(lines, 'a.yaml:14 bad-values:', /unknown macro 'nomacro'/);
  has(lines, 'a.yaml:15 bad-values:', /contains tests list membership; for text use containsText/);
  has(lines, 'a.yaml:16 bad-values:', /dbUserName is text and number 123 never equals it: write '123' in quotes/);
  has(lines, 'a.yaml:17 bad-values:', /operator 'greaterThan' cannot test logTime \(string\).*logTimeMs/);
  has(lines, 'a.yaml:18 bad-values:', /unknown field 'nofield'/);
  has(lines, 'a.yaml:19 typo-key:', /duplicate rule id 'typo-key' \(first defined at a\.yaml:2\)/);
  has(lines, 'a.yaml:22 -:', /rule has no id/);
  has(lines, 'a.yaml:22 -:', /rule has no severity/);
  has(lines, 'a.yaml:22 -:', /rule has no 'when' condition/);
  has(lines, 'a.yaml:25 bad-flags:', /bad regex flags 'g'/);
  has(lines, 'a.yaml:26 bad-flags:', /bad target text "rds-events" \(did you mean 'rds-event'\?\)/);
  // Sorted by file and line.
  const numbers = lines.map((l) => Number(/^a\.yaml:(\d+)/.exec(l)?.[1]));
  assert.deepEqual(numbers, [...numbers].sort((x, y) => x - y));
});

test('every YAML syntax error is reported, and other files are still checked', () => {
  const broken = ['rules:', '  - id: a', '    when: {class: DDL', '  - id: b', '    tags: [x', ''].join('\n');
  const other = ['rules:', '  - id: c', '    severity: lo', '    when: {class: DDL}'].join('\n');
  const dupKeys = ['rules:', '  - id: d', '    severity: low', '    severity: high', '    when: {class: DDL}'].join('\n');
  const { ok, lines } = load({ 'broken.yaml': broken, 'other.yaml': other, 'dup.yaml': dupKeys });
  assert.equal(ok, false);
  assert.ok(lines.filter((l) => l.startsWith('broken.yaml:') && l.includes('YAML syntax')).length >= 2, lines.join('\n'));
  has(lines, 'dup.yaml:4 -:', /YAML syntax: Map keys must be unique/);
  has(lines, 'other.yaml:3 c:', /bad severity text "lo" \(did you mean 'low'\?\)/);
});

test('lists, macros and rule ids are global: duplicates across files name both places', () => {
  const a = ['lists:', '  admins: [root]', 'macros:', '  is_ddl: {class: DDL}', 'rules:', '  - {id: r, severity: low, when: {macro: is_ddl}}'].join('\n');
  const b = ['lists:', '  admins: [postgres]', 'macros:', '  is_ddl: {class: DDL}', 'rules:', '  - {id: r, severity: low, when: {dbUserName: $admins}}'].join('\n');
  const { ok, lines } = load({ 'a.yaml': a, 'b.yaml': b });
  assert.equal(ok, false);
  has(lines, 'b.yaml:2 -:', /duplicate list 'admins' \(also defined at a\.yaml:2\)/);
  has(lines, 'b.yaml:4 -:', /duplicate macro 'is_ddl' \(also defined at a\.yaml:4\)/);
  has(lines, 'b.yaml:6 r:', /duplicate rule id 'r' \(first defined at a\.yaml:6\)/);
});

test('a list or macro defined in another file is found', () => {
  const defs = ['lists:', '  admins: [root]', 'macros:', '  by_admin: {dbUserName: {iin: $admins}}'].join('\n');
  const rules = ['rules:', '  - {id: r, severity: low, when: {all: [{macro: by_admin}, {class: DDL}]}}'].join('\n');
  const { ruleSet, problems } = loadRuleTexts([{ file: 'rules.yaml', text: rules }, { file: 'defs.yaml', text: defs }]);
  assert.deepEqual(problems, []);
  assert.equal(ruleSet?.evaluate({ dbUserName: 'ROOT', class: 'DDL' }).length, 1);
});

test('macro cycles are reported, with the cycle', () => {
  const text = ['macros:', '  a: {macro: b}', '  b: {any: [{class: DDL}, {macro: a}]}', 'rules:', '  - {id: r, severity: low, when: {macro: a}}'].join('\n');
  const { ok, lines } = load({ 'm.yaml': text });
  assert.equal(ok, false);
  assert.ok(lines.some((l) => /macro cycle: (a -> b -> a|b -> a -> b)/.test(l)), lines.join('\n'));
});

test('a mistake inside a macro is reported at the macro, even when no rule uses it', () => {
  const text = ['macros:', '  unused: {dbUserNme: x}', 'rules: []'].join('\n');
  const { ok, lines } = load({ 'm.yaml': text });
  assert.equal(ok, false);
  has(lines, 'm.yaml:2 -:', /macro 'unused': unknown field 'dbUserNme' \(did you mean 'dbUserName'\?\)/);
});

test('condition shapes that cannot mean what the author wants are rejected', () => {
  const text = [
    'rules:',
    '  - {id: r1, severity: low, when: [{class: DDL}]}', //           2 list instead of all:
    '  - {id: r2, severity: low, when: {all: []}}', //                 3 empty all (json-rules-engine: true)
    '  - {id: r3, severity: low, when: {all: [{class: DDL}], dbUserName: x}}', // 4 mixing
    '  - {id: r4, severity: low, when: {not: [{class: DDL}]}}', //     5
    '  - {id: r5, severity: low, when: {engineNativeAuditFields: {OS_USERNAME: x}}}', // 6
    '  - {id: r6, severity: low, when: {engineNativeAuditFields.os_username: x}}', // 7 case
    '  - {id: r7, severity: low, when: {dbUserName.x: y}}', //          8
    '  - {id: r8, severity: low, when: {rowCount: "100"}}', //          9
    '  - {id: r9, severity: low, when: {fact: dbUserName, operator: eqals, value: x}}', // 10
    '  - {id: r10, severity: low, when: {class: {in: DDL}}}', //        11
    '  - {id: r11, severity: low, when: {class: {exists: yes}}}', //    12
  ].join('\n');
  const { ok, lines } = load({ 'c.yaml': text });
  assert.equal(ok, false);
  has(lines, 'c.yaml:2 r1:', /not a list: write `all:`/);
  has(lines, 'c.yaml:3 r2:', /'all' has no conditions/);
  has(lines, 'c.yaml:4 r3:', /'dbUserName' cannot sit beside 'all'/);
  has(lines, 'c.yaml:5 r4:', /'not' takes one condition, not a list/);
  has(lines, 'c.yaml:6 r5:', /write 'engineNativeAuditFields\.OS_USERNAME: \.\.\.'/);
  has(lines, 'c.yaml:7 r6:', /case-sensitive: did you mean 'OS_USERNAME'/);
  has(lines, 'c.yaml:8 r7:', /dbUserName is text: it has no keys/);
  has(lines, 'c.yaml:9 r8:', /rowCount is a number and string "100" never equals it: write it without quotes/);
  has(lines, 'c.yaml:10 r9:', /unknown operator 'eqals' \(did you mean 'equals'?|unknown operator 'eqals' \(did you mean 'equal'\?\)/);
  has(lines, 'c.yaml:11 r10:', /'in' takes a list/);
  has(lines, 'c.yaml:12 r11:', /'exists' takes true or false, got text "yes"/);
});

test('templates and tests blocks are checked too', () => {
  const text = [
    'rules:',
    '  - id: t',
    '    severity: low',
    '    when: {class: DDL}',
    "    message: '{{ dbUserName | upper }} {{commandText'",
    '    tests:',
    '      fire: []',
    '  - id: u',
    '    severity: low',
    '    when: {class: DDL}',
    "    message: '{{rule.nope}}'",
    '    tests:',
    '      fires:',
    '        - {clas: DDL}',
    '        - {engine: postgres}',
  ].join('\n');
  const { ok, lines } = load({ 't.yaml': text });
  assert.equal(ok, false);
  has(lines, 't.yaml:5 t:', /never closed/);
  has(lines, 't.yaml:7 t:', /unknown key 'fire' in tests \(did you mean 'fires'\?\)/);
  has(lines, 't.yaml:11 u:', /unknown '\{\{rule\.nope\}\}'/);
  has(lines, 't.yaml:14 u:', /test event: unknown field 'clas' \(did you mean 'class'\?\)/);
  has(lines, 't.yaml:15 u:', /test event: engine must be one of postgresql, mysql, oracle, sqlserver, unknown, got text "postgres" \(did you mean 'postgresql'\?\)/);
});

test('declared fields are accepted; unknown native audit keys only warn', () => {
  const text = [
    'fields:',
    '  newAwsField: string',
    '  engineNativeAuditFields.NEW_KEY: string',
    'rules:',
    '  - {id: f, severity: low, when: {newAwsField: x}}',
    '  - {id: g, severity: low, when: {engineNativeAuditFields.NEW_KEY: y}}',
    '  - {id: h, severity: low, when: {engineNativeAuditFields.SOMETHING_ELSE: z}}',
  ].join('\n');
  const { ruleSet, problems } = loadRuleTexts([{ file: 'f.yaml', text }]);
  assert.ok(ruleSet !== undefined, problems.map(formatProblem).join('\n'));
  assert.equal(problems.length, 1);
  assert.equal(problems[0]?.severity, 'warning');
  assert.match(formatProblem(problems[0] as Problem), /^f\.yaml:7 h: warning: 'engineNativeAuditFields\.SOMETHING_ELSE' is not a key AWS documents/);
  assert.deepEqual(ruleSet.evaluate({ newAwsField: 'x' }).map((m) => m.rule.id), ['f']);
  assert.deepEqual(ruleSet.evaluate({ engineNativeAuditFields: { NEW_KEY: 'y' } }).map((m) => m.rule.id), ['g']);
});

test('rds-event rules have their own fields and are evaluated only for that target', () => {
  const text = [
    'rules:',
    "  - {id: das-stopped, severity: high, target: rds-event, when: {eventId: RDS-EVENT-0180}, message: '{{sourceIdentifier}}: {{message}}'}",
    '  - {id: bad, severity: low, target: rds-event, when: {dbUserName: x}}',
  ].join('\n');
  const { lines } = load({ 'e.yaml': text });
  has(lines, 'e.yaml:3 bad:', /unknown field 'dbUserName' of an RDS event/);
  const { ruleSet } = loadRuleTexts([{ file: 'e.yaml', text: text.split('\n').slice(0, 2).join('\n') }]);
  const ev = { eventId: 'RDS-EVENT-0180', sourceIdentifier: 'prod', message: 'Database Activity Streams is stopped' };
  assert.deepEqual(ruleSet?.evaluate(ev, 'rds-event').map((m) => m.message), ['prod: Database Activity Streams is stopped']);
  assert.deepEqual(ruleSet?.evaluate(ev, 'activity'), []);
});

test("an RDS event's own `date` is its date, in messages and conditions (not the local date computed for activity events)", async () => {
  const text = [
    'rules:',
    "  - {id: stopped, severity: high, target: rds-event, when: {all: [{eventId: RDS-EVENT-0180}, {fact: date, operator: startsWith, value: '2026-12-02'}]}, message: 'stopped at {{date}}'}",
  ].join('\n');
  const { ruleSet, problems } = loadRuleTexts([{ file: 'e.yaml', text }]);
  assert.ok(ruleSet !== undefined, problems.map(formatProblem).join('\n'));
  const ev = { eventId: 'RDS-EVENT-0180', sourceIdentifier: 'prod', message: 'stopped', date: '2026-12-02T19:57:26.134Z' };
  assert.deepEqual(ruleSet.evaluate(ev, 'rds-event').map((m) => m.message), ['stopped at 2026-12-02T19:57:26.134Z']);
  // the json-rules-engine reference agrees
  const { events } = await (ruleSet as CompiledRuleSet).referenceEngine('rds-event').run(ev);
  assert.deepEqual(events.map((e) => e.type), ['stopped']);
  // and the bundled das-stream-stopped rule names the time
  const pack = await loadRules(['rules']);
  assert.ok(pack.ruleSet);
  const msg = pack.ruleSet.evaluate({ ...ev, message: 'Database Activity Streams is stopped on your database cluster.' }, 'rds-event').find((m) => m.rule.id === 'das-stream-stopped');
  assert.equal(msg?.message, 'activity stream STOPPED on prod at 2026-12-02T19:57:26.134Z: Database Activity Streams is stopped on your database cluster.');
});

test('loadRules reads directories recursively in sorted order, skips non-YAML, reports unreadable paths', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dasguard-rules-'));
  try {
    await mkdir(join(dir, 'sub'));
    await writeFile(join(dir, 'b.yml'), 'rules:\n  - {id: b, severity: low, when: {class: DDL}}\n');
    await writeFile(join(dir, 'a.yaml'), 'rules:\n  - {id: a, severity: low, when: {class: DDL}, enabled: false}\n');
    await writeFile(join(dir, 'sub', 'c.yaml'), 'rules:\n  - {id: c, severity: info, when: {class: DDL}}\n');
    await writeFile(join(dir, 'notes.txt'), 'not rules');
    const r = await loadRules([dir]);
    assert.deepEqual(r.problems, []);
    assert.deepEqual(r.files, [join(dir, 'a.yaml'), join(dir, 'b.yml'), join(dir, 'sub', 'c.yaml')]);
    assert.deepEqual(r.ruleSet?.rules.map((x) => [x.id, x.enabled, x.line]), [['a', false, 2], ['b', true, 2], ['c', true, 2]]);
    assert.deepEqual(r.ruleSet?.evaluate({ class: 'DDL' }).map((m) => m.rule.id), ['b', 'c']);

    const missing = await loadRules([join(dir, 'nope.yaml')]);
    assert.equal(missing.ruleSet, undefined);
    assert.match(formatProblem(missing.problems[0] as Problem), /nope\.yaml:0 -: cannot read rules: ENOENT/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a macro bomb (macros using macros nine times over, no YAML alias) is refused at the rule, not compiled', { timeout: 1000 }, () => {
  const names = 'abcdefg';
  const lines = ['macros:', '  a: {dbUserName: root}'];
  for (let i = 1; i < names.length; i++) lines.push(`  ${names[i]}: {any: [${Array(9).fill(`{macro: ${names[i - 1]}}`).join(', ')}]}`);
  lines.push('rules:', '  - id: bomb', '    severity: low', '    when: {macro: g}');
  const { ok, lines: problems } = load({ 'm.yaml': lines.join('\n') });
  assert.equal(ok, false);
  assert.deepEqual(problems, ['m.yaml:12 bomb: the condition holds more than 10,000 tests once its macros are expanded (a macro bomb?)']);
});

test('a macro bomb spread over many rules (each under the per-rule cap) is refused once, at the rule that crosses the total', { timeout: 2000 }, () => {
  const names = 'abcde';
  const lines = ['macros:', '  a: {dbUserName: root}'];
  for (let i = 1; i < names.length; i++) lines.push(`  ${names[i]}: {any: [${Array(9).fill(`{macro: ${names[i - 1]}}`).join(', ')}]}`);
  lines.push('rules:');
  // 6,561 tests each: under 10,000 per rule; 400 of them are 2.6 million (3.7 s and 776 MB to compile before).
  for (let r = 0; r < 400; r++) lines.push(`  - {id: r${r}, severity: low, when: {macro: e}}`);
  const { ok, lines: problems } = load({ 'm.yaml': lines.join('\n') });
  assert.equal(ok, false);
  assert.equal(problems.length, 1, problems.join('\n'));
  assert.match(problems[0]!, /^m\.yaml:\d+ r30: the rules hold more than 200,000 tests in all once their macros are expanded/);
});
