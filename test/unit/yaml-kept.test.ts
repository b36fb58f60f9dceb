/**
 * Parses kept by src/config/yamlTree.ts: a clean parse of a file is given again (a copy) for the same text (a
 * reload of unchanged rules, a record worker handed the main thread's parse); a parse with any problem is not kept,
 * so its problems are reported every time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serialize } from 'node:v8';
import { ProblemList } from '../../src/config/problems.js';
import { keepParse, keptParse, parseYamlFile } from '../../src/config/yamlTree.js';
import { loadRuleTexts } from '../../src/rules/load.js';

const RULES = `rules:
  - id: kept-parse-rule
    description: a rule
    severity: low
    when:
      dbUserName: admin
    message: 'admin: {{ dbUserName }}'
`;

test('a clean parse is kept and given again for the same text, each caller its own copy; another text is parsed', () => {
  const file = `kept-${process.pid}.yaml`;
  const first = parseYamlFile(file, RULES, new ProblemList());
  assert.equal(first.ok, true);
  assert.ok(keptParse(file, RULES) instanceof Uint8Array, 'kept serialised, off the heap');
  const again = parseYamlFile(file, RULES, new ProblemList());
  assert.deepEqual(again, first);
  assert.notEqual(again.docs[0], first.docs[0], 'a copy: what one caller does with its tree cannot reach another');
  const changed = RULES.replace('admin', 'root');
  assert.notDeepEqual(parseYamlFile(file, changed, new ProblemList()).docs, first.docs);
  assert.equal(keptParse(file, RULES), undefined, 'the file is kept at its last text');
});

test('a parse with a problem is not kept: the problem is reported again each time', () => {
  const file = `warned-${process.pid}.yaml`;
  const text = 'a: 1\na: 2\n';
  for (let i = 0; i < 2; i++) {
    const problems = new ProblemList();
    parseYamlFile(file, text, problems);
    assert.equal(problems.items.length, 1, `parse ${i + 1}: ${JSON.stringify(problems.items)}`);
    assert.match(problems.items[0]!.message, /YAML/);
  }
  assert.equal(keptParse(file, text), undefined);
});

test('a parse handed over from another thread is what the rules are compiled from (no parse of their own)', () => {
  const file = `handed-${process.pid}.yaml`;
  // The trees of the same rules two lines further down: a rule compiled from them says line 4, from a parse line 2.
  const shifted = parseYamlFile(`elsewhere-${file}`, '\n\n' + RULES, new ProblemList()).docs;
  const handed = serialize(JSON.parse(JSON.stringify(shifted).replaceAll(`elsewhere-${file}`, file)));
  keepParse(file, RULES, handed);
  const fromTrees = loadRuleTexts([{ file, text: RULES }]);
  assert.deepEqual(fromTrees.problems, []);
  assert.deepEqual(fromTrees.ruleSet?.rules.map((r) => [r.id, r.line]), [['kept-parse-rule', 4]]);
  assert.equal(fromTrees.ruleSet?.evaluate({ dbUserName: 'admin' })[0]?.message, 'admin: admin');
  const parsed = loadRuleTexts([{ file: `fresh-${file}`, text: RULES }]);
  assert.deepEqual(parsed.ruleSet?.rules.map((r) => [r.id, r.line]), [['kept-parse-rule', 2]]);
});
