/** The baseline pack in rules/ and the examples of docs/rules.md: they load, and their tests pass. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { completeTestEvent, formatProblem, loadRules, loadRuleTexts, runRuleTests } from '../../src/rules/index.js';
import { CompiledRuleSet } from '../../src/rules/RuleSet.js';

test('the baseline pack loads without a problem and every rule test passes', async () => {
  const { ruleSet, problems, files } = await loadRules(['rules']);
  assert.deepEqual(problems.map(formatProblem), []);
  assert.ok(ruleSet instanceof CompiledRuleSet);
  assert.ok(files.length >= 2);
  const result = runRuleTests(ruleSet);
  assert.deepEqual(result.failed, []);
  assert.ok(result.passed >= ruleSet.rules.length * 2);
});

test('every pack rule has both kinds of tests, PCI/SOX tags, a severity and a description', async () => {
  const { ruleSet } = await loadRules(['rules']);
  assert.ok(ruleSet instanceof CompiledRuleSet);
  const ids = ruleSet.rules.map((r) => r.id);
  for (const expected of [
    'ddl-by-privileged-user',
    'sql-error',
    'heavy-read',
    'privilege-change',
    'authentication-failure',
    'drop-or-truncate',
    'delete-or-update-without-where',
  ]) {
    assert.ok(ids.includes(expected), `pack has ${expected}`);
  }
  for (const r of ruleSet.compiledRules()) {
    if (r.correlation !== undefined) {
      // A correlation: timed sequences, one that fires and one that must not, on both engines.
      const seqs = r.tests?.sequences ?? [];
      assert.ok(seqs.some((q) => q.expect.length > 0) && seqs.some((q) => q.expect.length === 0), `${r.info.id} has a sequence that fires and one that does not`);
      const engines = new Set(seqs.flatMap((q) => q.events.map((e) => e.event.engine)));
      assert.ok(engines.has('postgresql') && engines.has('mysql'), `${r.info.id} tests PostgreSQL and MySQL`);
      assert.ok(r.info.tags.some((t) => t.startsWith('pci-dss:') || t.startsWith('sox')), `${r.info.id} is tagged`);
      continue;
    }
    assert.ok(r.tests !== undefined && r.tests.fires.length >= 1 && r.tests.doesNotFire.length >= 1, `${r.info.id} tests both ways`);
    assert.ok(r.info.description.length > 10, `${r.info.id} has a description`);
    assert.ok(r.info.tags.some((t) => t.startsWith('pci-dss:') || t.startsWith('sox')), `${r.info.id} is tagged`);
    // PostgreSQL and MySQL forms are both tested (activity rules; RDS-event rules have no engine)
    if (r.info.target !== 'activity') continue;
    const engines = new Set([...r.tests.fires, ...r.tests.doesNotFire].map((t) => t.event.engine));
    assert.ok(engines.has('postgresql') && engines.has('mysql'), `${r.info.id} tests PostgreSQL and MySQL`);
  }
});

test('a failing rule test is reported with the rule id, file and line of the test event', () => {
  const text = ['rules:', '  - id: wrong', '    severity: low', '    when: {class: DDL}', '    tests:', '      fires:', '        - {class: READ}', '      doesNotFire:', '        - {class: DDL}'].join('\n');
  const { ruleSet } = loadRuleTexts([{ file: 'w.yaml', text }]);
  assert.ok(ruleSet !== undefined);
  const r = runRuleTests(ruleSet);
  assert.equal(r.passed, 0);
  assert.deepEqual(
    r.failed.map((f) => [f.ruleId, f.file, f.line, f.message.replace(/ on .*/, '')]),
    [
      ['wrong', 'w.yaml', 7, 'tests.fires[0]: expected the rule to fire; it did not'],
      ['wrong', 'w.yaml', 9, 'tests.doesNotFire[0]: expected the rule not to fire; it fired'],
    ],
  );
});

test('disabled rules are not evaluated, but their tests still run', () => {
  const text = ['rules:', '  - id: off', '    severity: low', '    enabled: false', '    when: {class: DDL}', '    tests:', '      fires: [{class: DDL}]', '      doesNotFire: [{class: READ}]'].join('\n');
  const { ruleSet } = loadRuleTexts([{ file: 'o.yaml', text }]);
  assert.ok(ruleSet !== undefined);
  assert.deepEqual(ruleSet.evaluate({ class: 'DDL' }), []);
  assert.deepEqual(runRuleTests(ruleSet), { passed: 2, failed: [] });
});

test('MySQL: one statement (MAIN + AUX events) fires each pack rule once; admin noise is ignored', async () => {
  const { ruleSet } = await loadRules(['rules']);
  assert.ok(ruleSet !== undefined);
  const base = { engine: 'mysql', dbUserName: 'admin', statementId: 9, commandText: 'DROP TABLE orders', objectName: 'orders' };
  const main = completeTestEvent({ ...base, class: 'MAIN', command: 'QUERY' });
  const aux = completeTestEvent({ ...base, class: 'AUX', command: 'DROP', commandText: 'orders' });
  const fired = [...ruleSet.evaluate(main), ...ruleSet.evaluate(aux)].map((m) => m.rule.id).sort();
  assert.deepEqual(fired, ['ddl-by-privileged-user', 'drop-or-truncate']);
  const admin = completeTestEvent({ engine: 'postgresql', class: 'ROLE', command: 'GRANT', dbUserName: 'rdsadmin' });
  assert.deepEqual(ruleSet.evaluate(admin), []);
});

test('pack messages never carry the password of a privilege change', async () => {
  const { ruleSet } = await loadRules(['rules']);
  assert.ok(ruleSet !== undefined);
  const events = [
    completeTestEvent({ engine: 'postgresql', class: 'ROLE', command: 'ALTER ROLE', commandText: "ALTER ROLE app WITH PASSWORD 'hunter2'" }),
    completeTestEvent({ engine: 'mysql', command: 'QUERY', commandText: "CREATE USER 'bob'@'%' IDENTIFIED BY 'hunter2'" }),
    completeTestEvent({ engine: 'mysql', command: 'QUERY', commandText: "SET PASSWORD FOR 'bob'@'%' = 'hunter2'" }),
  ];
  for (const e of events) {
    const [m] = ruleSet.evaluate(e);
    assert.equal(m?.rule.id, 'privilege-change');
    assert.ok(!m.message.includes('hunter2'), m.message);
    assert.ok(/app|'bob'/.test(m.message), `the account is still named: ${m.message}`);
  }
});

/** The ```yaml blocks of docs/rules.md; a block after `<!-- problems -->` comes with its expected ```text output. */
async function docExamples(): Promise<{ yaml: string; problems?: string[] }[]> {
  const md = await readFile('docs/rules.md', 'utf8');
  const out: { yaml: string; problems?: string[] }[] = [];
  const re = /(<!-- problems -->\n)?```yaml\n([\s\S]*?)```(?:\n\n```text\n([\s\S]*?)```)?/g;
  for (const m of md.matchAll(re)) {
    const yaml = m[2] as string;
    if (m[1] !== undefined) out.push({ yaml, problems: (m[3] ?? '').trim().split('\n') });
    else out.push({ yaml });
  }
  return out;
}

test('docs/rules.md: every example loads with the pack and its tests pass; the error example prints what the doc shows', async () => {
  const pack = await loadRules(['rules']);
  const packTexts = await Promise.all(pack.files.map(async (file) => ({ file, text: await readFile(file, 'utf8') })));
  const examples = await docExamples();
  assert.ok(examples.length >= 5, 'the doc has examples');
  for (const ex of examples) {
    const { ruleSet, problems } = loadRuleTexts([...packTexts, { file: 'example.yaml', text: ex.yaml }]);
    if (ex.problems !== undefined) {
      assert.equal(ruleSet, undefined);
      assert.deepEqual(problems.map(formatProblem), ex.problems);
      continue;
    }
    assert.deepEqual(problems.map(formatProblem), [], ex.yaml);
    assert.ok(ruleSet !== undefined);
    const exampleIds = ruleSet.rules.filter((r) => r.file === 'example.yaml').map((r) => r.id);
    assert.ok(exampleIds.length > 0);
    const result = runRuleTests(ruleSet, { ruleIds: exampleIds });
    assert.deepEqual(result.failed, [], ex.yaml);
    assert.ok(result.passed >= 2);
  }
});

test('rules/site.yaml is the one place for the time zone: set there, privileged-off-hours reads company time; set twice, it is refused', async () => {
  const pack = await loadRules(['rules']);
  const texts = await Promise.all(pack.files.map(async (file) => ({ file, text: await readFile(file, 'utf8') })));
  const site = texts.find((t) => t.file.endsWith('site.yaml'));
  assert.ok(site !== undefined && site.text.includes('\n# timeZone: Europe/Paris\n'), 'site.yaml shows where to set it');
  const paris = texts.map((t) => (t === site ? { file: t.file, text: t.text.replace('\n# timeZone: Europe/Paris\n', '\ntimeZone: Europe/Paris\n') } : t));
  const { ruleSet, problems } = loadRuleTexts(paris);
  assert.deepEqual(problems.map(formatProblem), []);
  assert.ok(ruleSet !== undefined);
  // A test sequence starts at noon on the rule's clock: every test of the pack holds in Paris as in UTC, and in
  // zones a day apart or a half hour off.
  assert.deepEqual(runRuleTests(ruleSet).failed, []);
  for (const zone of ['Pacific/Kiritimati', 'Asia/Kolkata', 'America/Los_Angeles', 'Pacific/Pago_Pago']) {
    const other = loadRuleTexts(texts.map((t) => (t === site ? { file: t.file, text: t.text.replace('\n# timeZone: Europe/Paris\n', `\ntimeZone: ${zone}\n`) } : t)));
    assert.ok(other.ruleSet !== undefined, zone);
    assert.deepEqual(runRuleTests(other.ruleSet).failed, [], zone);
  }
  // Company time: 05:30 UTC is off hours in UTC, 07:30 in Paris is not; 21:30 UTC is 23:30 in Paris.
  const offHours = (set: NonNullable<typeof ruleSet>, logTime: string): boolean =>
    set.baseMatches!(completeTestEvent({ dbUserName: 'postgres', class: 'READ', command: 'SELECT', logTime })).some((r) => r.info.id === 'privileged-off-hours');
  assert.equal(offHours(pack.ruleSet!, '2024-05-01 05:30:00.000000+00'), true);
  assert.equal(offHours(ruleSet, '2024-05-01 05:30:00.000000+00'), false);
  assert.equal(offHours(ruleSet, '2024-05-01 21:30:00.000000+00'), true);
  // A second file with another zone is an error naming both places.
  const twice = loadRuleTexts([...paris, { file: 'mine.yaml', text: 'timeZone: America/New_York\n' }]);
  assert.equal(twice.ruleSet, undefined);
  assert.match(twice.problems.map(formatProblem).join('\n'), /mine\.yaml:1 .*timeZone America\/New_York here and Europe\/Paris at rules\/site\.yaml:\d+/);
});
