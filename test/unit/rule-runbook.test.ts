/** A rule's `runbook:` reaches its alerts (JSON and the text console's second line); every pack rule has one. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadRuleTexts, loadRules, completeTestEvent } from '../../src/rules/index.js';
import { buildAlert } from '../../src/pipeline/alert.js';
import { formatAlert } from '../../src/pipeline/output.js';
import type { ActivityEvent } from '../../src/types.js';

const TEXT = `
rules:
  - id: with-runbook
    severity: high
    runbook: 'Ask the owner of {{dbUserName}} whether the change was planned.'
    when: {class: DDL}
  - id: without-runbook
    severity: low
    when: {class: DDL}
`;

test('runbook: in the alert object and, with --verbose, on a second line of the text format; absent when the rule has none', () => {
  const { ruleSet, problems } = loadRuleTexts([{ file: 'r.yaml', text: TEXT }]);
  assert.deepEqual(problems, []);
  const event = completeTestEvent({ engine: 'postgresql', class: 'DDL', command: 'CREATE TABLE', dbUserName: 'alice' }) as unknown as ActivityEvent;
  const matches = ruleSet!.evaluate(event as unknown as Record<string, unknown>);
  const byId = new Map(matches.map((m) => [m.rule.id, buildAlert(m, event, { source: 'f.jsonl', line: 3 }, 'literals')]));
  const withRb = byId.get('with-runbook')!;
  const without = byId.get('without-runbook')!;
  // the runbook is shown as written: a fixed line, not a template
  assert.equal(withRb.runbook, 'Ask the owner of {{dbUserName}} whether the change was planned.');
  assert.equal('runbook' in without, false);
  const text = formatAlert(withRb, 'text', false, true).split('\n');
  assert.equal(text.length, 2);
  assert.match(text[1]!, /^\s+runbook: Ask the owner/);
  assert.equal(formatAlert(without, 'text', false, true).includes('\n'), false);
  // one line per alert without --verbose
  assert.equal(formatAlert(withRb, 'text', false).includes('\n'), false);
  assert.equal(JSON.parse(formatAlert(withRb, 'jsonl', false)).runbook, withRb.runbook);
});

test('a runbook that is not text is a load error with file:line and rule id', () => {
  const { problems } = loadRuleTexts([{ file: 'r.yaml', text: 'rules:\n  - id: bad\n    severity: low\n    runbook: [a, b]\n    when: {class: DDL}\n' }]);
  assert.ok(problems.some((p) => p.line === 4 && p.ruleId === 'bad'), JSON.stringify(problems));
});

test('every rule of the baseline pack has a runbook', async () => {
  const { ruleSet, problems } = await loadRules(['rules']);
  assert.deepEqual(problems.filter((p) => p.severity !== 'warning'), []);
  const missing = ruleSet!.rules.filter((r) => r.runbook === undefined).map((r) => r.id);
  assert.deepEqual(missing, []);
});
