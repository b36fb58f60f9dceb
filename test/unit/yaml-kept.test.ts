/**
 * Parses kept by src/config/yamlTree.ts: a clean parse of a file is given again for the same text (a reload of
 * unchanged rules, a record worker handed the main thread's trees) and never changed; a parse with any problem is
 * not kept, so its problems are reported every time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
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

test('a clean parse is kept, frozen, and given again for the same text; another text is parsed', () => {
  const file = `kept-${process.pid}.yaml`;
  const first = parseYamlFile(file, RULES, new ProblemList());
  assert.equal(first.ok, true);
  assert.equal(keptParse(file, RULES), first.docs);
  assert.ok(Object.isFrozen(first.docs[0]), 'the tree is read, never changed: frozen');
  assert.throws(() => (first.docs[0] as { kind: string }).kind = 'seq', TypeError);
  assert.equal(parseYamlFile(file, RULES, new ProblemList()).docs, first.docs);
  const changed = RULES.replace('admin', 'root');
  assert.notEqual(parseYamlFile(file, changed, new ProblemList()).docs, first.docs);
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

test('trees kept from another thread\'s parse (structured clone) compile to the same rules, without parsing', () => {
  const file = `cloned-${process.pid}.yaml`;
  const problems = new ProblemList();
  const docs = parseYamlFile(`elsewhere-${file}`, RULES, problems).docs;
  // What a worker gets: a clone of the main thread's trees, positions naming `file`.
  const cloned = structuredClone(docs).map((d) => JSON.parse(JSON.stringify(d).replaceAll(`elsewhere-${file}`, file)));
  keepParse(file, RULES, cloned);
  const fromTrees = loadRuleTexts([{ file, text: RULES }]);
  assert.equal(keptParse(file, RULES), cloned, 'the kept trees were used, not replaced by a parse');
  const parsed = loadRuleTexts([{ file: `fresh-${file}`, name: file, text: RULES }]);
  assert.deepEqual(fromTrees.problems, []);
  assert.equal(fromTrees.ruleSet?.version, parsed.ruleSet?.version);
  assert.deepEqual(fromTrees.ruleSet?.rules.map((r) => [r.id, r.line]), parsed.ruleSet?.rules.map((r) => [r.id, r.line]));
  assert.equal(fromTrees.ruleSet?.evaluate({ dbUserName: 'admin' })[0]?.message, 'admin: admin');
});
