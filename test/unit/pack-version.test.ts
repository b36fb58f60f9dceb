/** The rule files' top-level packVersion: one value across the files, shown by `dasguard validate`. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { loadRuleTexts } from '../../src/rules/index.js';
import { runCli } from '../support/cli.js';

const RULE = 'rules:\n  - id: r\n    severity: low\n    when: {class: DDL}\n';

test('packVersion: kept on the rule set; the same value in two files is fine, two values or a non-text are errors at their line', () => {
  const one = loadRuleTexts([{ file: 'a.yaml', text: `packVersion: '1.2.3'\n${RULE}` }, { file: 'b.yaml', text: "packVersion: '1.2.3'\n" }]);
  assert.deepEqual(one.problems, []);
  assert.equal(one.ruleSet?.packVersion, '1.2.3');
  assert.equal(loadRuleTexts([{ file: 'a.yaml', text: RULE }]).ruleSet?.packVersion, undefined);
  const two = loadRuleTexts([{ file: 'a.yaml', text: `packVersion: '1.2.3'\n${RULE}` }, { file: 'b.yaml', text: "packVersion: '2.0.0'\n" }]);
  assert.deepEqual(two.problems.map((p) => `${p.file}:${p.line} ${p.message}`), ['b.yaml:1 packVersion 2.0.0 here and 1.2.3 at a.yaml:1: the rule files have one packVersion']);
  const bad = loadRuleTexts([{ file: 'a.yaml', text: `packVersion: [1, 2]\n${RULE}` }]);
  assert.equal(bad.problems.length, 1);
  assert.match(bad.problems[0]!.message, /^packVersion is a text/);
});

test('dasguard validate rules shows the pack version, which rules/CHANGELOG.md describes', async () => {
  const r = await runCli(['validate', 'rules']);
  assert.equal(r.code, 0, r.stderr);
  const m = /^\d+ rules \(\d+ enabled\) in \d+ files, pack version (\S+), rules version sha256:[0-9a-f]{12}: OK$/m.exec(r.stdout);
  assert.ok(m, r.stdout);
  const changelog = await readFile('rules/CHANGELOG.md', 'utf8');
  assert.match(changelog, new RegExp(`^## ${m[1]!.replace(/\./g, '\\.')}\\b`, 'm'), 'the changelog has a section for the current version');
});
