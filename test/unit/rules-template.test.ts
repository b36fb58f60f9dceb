import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatProblem, loadRuleTexts } from '../../src/rules/index.js';

function messageOf(message: string, event: Record<string, unknown>, extra = ''): string {
  const text = `rules:\n  - id: t1\n    description: Test rule\n    severity: high\n    tags: [pci-dss:10.2.1.2, sox]\n    when: {class: DDL}\n    message: ${JSON.stringify(message)}\n${extra}`;
  const { ruleSet, problems } = loadRuleTexts([{ file: 't.yaml', text }]);
  assert.ok(ruleSet !== undefined, problems.map(formatProblem).join('\n'));
  const [m] = ruleSet.evaluate({ class: 'DDL', ...event });
  assert.ok(m !== undefined);
  return m.message;
}

test('fields are substituted; missing and null render empty; numbers and objects readable', () => {
  assert.equal(
    messageOf('{{dbUserName}}@{{ remoteHost }} rows={{rows}} err={{errorMessage}} x={{objectName}}', {
      dbUserName: 'alice',
      remoteHost: '10.0.0.1',
      rows: 12,
      errorMessage: null,
    }),
    'alice@10.0.0.1 rows=12 err= x=',
  );
  assert.equal(messageOf('{{engineNativeAuditFields}}', { engineNativeAuditFields: { a: 1 } }), '{"a":1}');
  assert.equal(messageOf('{{engineNativeAuditFields.OS_USERNAME}}', { engineNativeAuditFields: { OS_USERNAME: 'oracle' } }), 'oracle');
});

test('rule.id / severity / description / tags', () => {
  assert.equal(messageOf('[{{rule.severity}}] {{rule.id}}: {{rule.description}} ({{rule.tags}})', {}), '[high] t1: Test rule (pci-dss:10.2.1.2, sox)');
});

test('without a message the description is used', () => {
  const text = 'rules:\n  - {id: d, description: Something happened, severity: low, when: {class: DDL}}\n  - {id: e, severity: low, when: {class: DDL}}';
  const { ruleSet } = loadRuleTexts([{ file: 'd.yaml', text }]);
  assert.deepEqual(ruleSet?.evaluate({ class: 'DDL' }).map((m) => m.message), ['Something happened', 'e']);
});

test('templates follow the redaction policy: commandText, paramList, errorMessage and native SQL are masked; |raw is ignored with a warning', () => {
  const event = { engine: 'postgresql', commandText: "ALTER ROLE app PASSWORD 'hunter2' /* pw hunter2 */", paramList: ['4111111111111111', null] };
  const m = messageOf('{{commandText}} {{paramList}}', event);
  assert.equal(m, 'ALTER ROLE app PASSWORD ? /* ? */ ["?",null]');
  assert.ok(!m.includes('hunter2') && !m.includes('4111'));
  // |raw no longer opts out: the output's redaction mode decides (--redaction none)
  const raw = loadRuleTexts([{ file: 'r.yaml', text: 'rules:\n  - {id: r, severity: low, when: {class: DDL}, message: "{{commandText|raw}}"}' }]);
  assert.ok(raw.ruleSet !== undefined);
  assert.deepEqual(raw.problems.map(formatProblem), ["r.yaml:2 r: warning: message: '|raw' in '{{commandText|raw}}' is ignored: messages follow the redaction policy (--redaction none shows values as written)"]);
  assert.equal(raw.ruleSet.evaluate({ class: 'DDL', ...event })[0]?.message, 'ALTER ROLE app PASSWORD ? /* ? */');
  // MySQL: double-quoted strings are literals there
  assert.equal(messageOf('{{commandText}}', { engine: 'mysql', commandText: 'SET PASSWORD = "x"' }), 'SET PASSWORD = ?');
  // Oracle's SQL text in the native audit fields too, also when the whole object is shown
  const oracle = { engine: 'oracle', engineNativeAuditFields: { SQL_TEXT: 'ALTER USER x IDENTIFIED BY pw', OS_USERNAME: 'oracle' } };
  assert.equal(messageOf('{{engineNativeAuditFields.SQL_TEXT}}', oracle), 'ALTER USER x IDENTIFIED BY ?');
  assert.equal(messageOf('{{engineNativeAuditFields}}', oracle), '{"SQL_TEXT":"ALTER USER x IDENTIFIED BY ?","OS_USERNAME":"oracle"}');
  // server messages: the values they quote
  assert.equal(messageOf('{{errorMessage}}', { errorMessage: "Duplicate entry '4111111111111111' for key 'PRIMARY'" }), "Duplicate entry '?' for key '?'");
  // other fields are shown as they are
  assert.equal(messageOf('{{dbUserName}}', { dbUserName: "o'brien" }), "o'brien");
});

test('very long values are cut', () => {
  const m = messageOf('{{objectName}}', { objectName: 'x'.repeat(5000) });
  assert.equal(m.length, 1001);
  assert.ok(m.endsWith('…'));
});
