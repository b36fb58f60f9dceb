/**
 * The rule index (src/rules/RuleIndex.ts) of the stateless rules: RuleSet.evaluate tries a rule only on an event whose
 * fields meet one of its alternatives, and must say exactly what trying every rule says, in load order, however many
 * words of bits the alternatives take. (The correlations' base events: correlation-base-index.test.ts; the pack
 * against json-rules-engine itself: test/e2e/rules-differential.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatProblem, loadRuleTexts } from '../../src/rules/index.js';
import { CompiledRuleSet } from '../../src/rules/RuleSet.js';
import { prng } from '../../scripts/sampleData.js';

function load(text: string): CompiledRuleSet {
  const { ruleSet, problems } = loadRuleTexts([{ file: 'rules.yaml', text }]);
  assert.deepEqual(problems.map(formatProblem), []);
  assert.ok(ruleSet instanceof CompiledRuleSet);
  return ruleSet;
}

const COMMANDS = ['SELECT', 'UPDATE', 'DELETE', 'GRANT', 'CREATE TABLE', 'DROP TABLE', 'COPY', 'CONNECT'];

/** 40 rules of 2 alternatives each (PostgreSQL by class and command, MySQL by sqlCommand): 80 bits, 3 words. */
const RULES = `rules:${Array.from({ length: 40 }, (_, i) => `
  - id: r${i}
    severity: low
    when:
      all:
        - any:
            - all: [{engine: postgresql}, {class: ${['READ', 'WRITE', 'DDL', 'ROLE'][i % 4]}}, {command: ${JSON.stringify(COMMANDS[i % COMMANDS.length])}}]
            - all: [{engine: mysql}, {sqlCommand: ${JSON.stringify(COMMANDS[(i * 3) % COMMANDS.length])}}]
        - dbUserName: {${i % 5 === 0 ? 'exists: true' : `notIn: [u${i % 7}]`}}`).join('')}
  - id: anything-by-root
    severity: low
    when: {dbUserName: root}
  - id: never
    severity: low
    when: {all: [{class: READ}, {class: WRITE}]}
`;

test('40 rules of 2 alternatives each: every rule indexed (3 words of bits), and evaluate says what trying every rule says', () => {
  const rs = load(RULES);
  assert.deepEqual(rs.indexStats(), { indexed: 42, always: 0, fields: ['engine', 'class', 'command', 'sqlCommand', 'dbUserName'] });
  const rnd = prng(7);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const fired = new Set<string>();
  for (let i = 0; i < 4000; i++) {
    const event: Record<string, unknown> = {
      engine: pick(['postgresql', 'mysql', 'oracle', undefined]),
      class: pick(['READ', 'WRITE', 'DDL', 'ROLE', 'MAIN', 'MISC']),
      command: pick(COMMANDS),
      sqlCommand: pick([...COMMANDS, 'ERROR']),
      dbUserName: pick(['u0', 'u1', 'u3', 'root', undefined]),
    };
    const direct = rs.rules.filter((r) => rs.evaluateRule(r.id, event) != null).map((r) => r.id);
    const viaIndex = rs.evaluate(event).map((m) => m.rule.id);
    assert.deepEqual(viaIndex, direct, JSON.stringify(event));
    for (const id of viaIndex) fired.add(id);
  }
  // Every rule that can fire did, so the test can fail for each (the last word's too).
  assert.equal(fired.size, 41);
  assert.ok(!fired.has('never'));
});

/** Rules whose conditions hold only for text (a regex, startsWith, iin, CIDR), alone or as one branch of an any, on sparse fields and others. */
const TEXT_RULES = `rules:
  - id: syntax-error
    severity: low
    when:
      any:
        - exitCode: {in: ['42601', 1064]}
        - errorMessage: {matches: {pattern: 'syntax error', flags: i}}
  - id: auth-command
    severity: low
    when: {all: [{engine: postgresql}, {command: {matches: '^auth'}}]}
  - id: admin-user
    severity: low
    when: {dbUserName: {iin: [Admin, root]}}
  - id: from-lab
    severity: low
    when: {remoteHost: {inCidr: [10.0.0.0/8]}}
  - id: not-admin-starts-sel
    severity: low
    when: {all: [{dbUserName: {notIin: [admin]}}, {commandText: {startsWith: SEL}}]}
  - id: syntax-code
    severity: low
    when: {exitCode: {matches: '^4260'}}
`;

test('a text operator on a sparse field is tried only on events whose field holds text (or a number, for matches), iin only on its values in any case, and says what trying every rule says', () => {
  const rs = load(TEXT_RULES);
    // Text on the sparse fields (errorMessage, exitCode) only: a field every event holds would be read for nothing;
  // iin by the field's lower case.
  assert.deepEqual(rs.indexStats(), { indexed: 4, always: 2, fields: ['exitCode', 'errorMessage (text)', 'engine', 'dbUserName (lower case)', 'exitCode (text)'] });
  const rnd = prng(11);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const odd = [undefined, null, 0, 42601, true, ['42601'], { a: 1 }, ''];
  const fired = new Set<string>();
  for (let i = 0; i < 4000; i++) {
    const event: Record<string, unknown> = {
      engine: pick(['postgresql', 'mysql', undefined]),
      exitCode: pick(['42601', 1064, '1064', ...odd]),
      errorMessage: pick(['syntax error at or near', 'SYNTAX ERROR', 'relation does not exist', ...odd]),
      command: pick(['auth failure', 'AUTH', 'SELECT', ...odd]),
      dbUserName: pick(['admin', 'ROOT', 'Root', 'app', 'İ', ...odd]),
      remoteHost: pick(['10.1.2.3', '192.0.2.1', ...odd]),
      commandText: pick(['SELECT 1', 'select 1', ...odd]),
    };
    const direct = rs.rules.filter((r) => rs.evaluateRule(r.id, event) != null).map((r) => r.id);
    assert.deepEqual(rs.evaluate(event).map((m) => m.rule.id), direct, JSON.stringify(event));
    for (const id of direct) fired.add(id);
  }
  assert.equal(fired.size, 6, [...fired].join(' '));
});
