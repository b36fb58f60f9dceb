/**
 * Hostile YAML: an alias bomb ("billion laughs") in any of the three files dasguard reads (rules, dasguard.yaml,
 * `--loss-patterns`) is refused at once, at the line of the alias that crosses the limit; ordinary anchors and
 * aliases keep working. Each bomb test has a `timeout` as a hang guard (before the cap, the 7-level bomb below
 * took tens of seconds and gigabytes; the 9-level one ran out of memory after minutes). The assertions check the
 * limits, not the time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveDeliveryConfig } from '../../src/delivery/config.js';
import { loadLossPatterns } from '../../src/health/lossWindows.js';
import { completeTestEvent, formatProblem, loadRules, loadRuleTexts, runRuleTests } from '../../src/rules/index.js';

const HANG_GUARD = { timeout: 1000 };

/**
 * Seven levels of nine aliases each (`g` stands for 9^7 texts), under `key:`, starting on line 1. `e` stands for
 * about 258,000 characters: the third `*e` of line 7 takes the file past the 1,000,000-character limit.
 */
function bomb(key: string): string {
  const names = 'abcdefg';
  const lines = [`${key}:`, `  a: &a [${Array(9).fill('lol').join(', ')}]`];
  for (let i = 1; i < names.length; i++) lines.push(`  ${names[i]}: &${names[i]} [${Array(9).fill(`*${names[i - 1]}`).join(', ')}]`);
  return lines.join('\n') + '\n';
}
const BOMB_LINE = 7;
const LIMIT_TEXT = /YAML: aliases may expand to at most 1,000,000 characters in one file; \*e goes past that \(an alias bomb\?\)/;

async function file(name: string, text: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'dasguard-yaml-'));
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

test('a rules file with an alias bomb is refused at once, at the alias that crosses the limit', HANG_GUARD, async () => {
  const path = await file('bomb.yaml', bomb('lists') + 'rules: []\n');
  const { ruleSet, problems } = await loadRules([path]);
  assert.equal(ruleSet, undefined);
  const lines = problems.map(formatProblem);
  assert.equal(lines.length, 1, lines.join('\n'));
  assert.ok(lines[0]!.startsWith(`${path}:${BOMB_LINE} -: `), lines[0]);
  assert.match(lines[0]!, LIMIT_TEXT);
});

test('a dasguard.yaml with an alias bomb is refused at once, with file:line', HANG_GUARD, async () => {
  const path = await file('dasguard.yaml', bomb('x-anchors') + 'sinks:\n  c: {type: console}\nroutes:\n  - {name: r, sinks: [c]}\n');
  await assert.rejects(resolveDeliveryConfig(path, {}), (err: Error) => {
    assert.equal(err.name, 'ConfigError');
    assert.match(err.message, new RegExp(`^1 problem in ${path}:\n${path}:${BOMB_LINE}: `));
    assert.match(err.message, LIMIT_TEXT);
    return true;
  });
});

test('a loss-pattern file with an alias bomb is refused at once, with file:line', HANG_GUARD, async () => {
  const path = await file('patterns.yaml', bomb('x-anchors') + "lossWindow:\n  open:\n    - message: 'degraded'\n");
  await assert.rejects(loadLossPatterns(path), (err: Error) => {
    assert.equal(err.name, 'ConfigError');
    assert.match(err.message, new RegExp(`^1 problem in ${path}:\n${path}:${BOMB_LINE}: `));
    assert.match(err.message, LIMIT_TEXT);
    return true;
  });
});

test('more than 1,000 aliases in one file are refused at the first one over, whatever they stand for', HANG_GUARD, () => {
  const many = Array(1001).fill('*u').join(', ');
  const text = `lists:\n  users: &u root\n  many: [${many}]\nrules: []\n`;
  const lines = loadRuleTexts([{ file: 'many.yaml', text }]).problems.map(formatProblem);
  assert.deepEqual(lines, ['many.yaml:3 -: YAML: at most 1,000 aliases in one file; this *u is one more (an alias bomb?)']);
});

test('an alias with no anchor before it, or inside its own anchor, is an error at its line (not a silent null)', () => {
  const text = ['lists:', '  a: [*nope]', '  b: &b [x, *b]', 'rules: []'].join('\n');
  const lines = loadRuleTexts([{ file: 'bad.yaml', text }]).problems.map(formatProblem);
  assert.deepEqual(lines, [
    'bad.yaml:2 -: YAML: alias *nope has no anchor &nope before it',
    'bad.yaml:3 -: YAML: alias *b is inside the node its anchor &b names (a cycle)',
  ]);
});

test('nesting deeper than 200 levels is refused at its line before the YAML library recurses into it', HANG_GUARD, () => {
  for (const depth of [250, 20_000]) {
    const text = `lists:\n  deep: ${'['.repeat(depth)}${']'.repeat(depth)}\nrules: []\n`;
    const lines = loadRuleTexts([{ file: 'deep.yaml', text }]).problems.map(formatProblem);
    assert.deepEqual(lines, ['deep.yaml:2 -: YAML: nested deeper than 200 levels'], `depth ${depth}`);
  }
});

test('ordinary anchors keep working: a shared list and shared test events in rules, sinks in dasguard.yaml, patterns', async () => {
  const rules = `lists:
  admins: &admins [root, admin]
rules:
  - id: admin-connect
    severity: high
    when: {command: CONNECT, dbUserName: {in: *admins}}
    tests:
      fires:
        - &root-connect {engine: postgresql, class: MISC, command: CONNECT, dbUserName: root}
      doesNotFire:
        - &alice-connect {engine: postgresql, class: MISC, command: CONNECT, dbUserName: alice}
  - id: root-anything
    severity: low
    when: {dbUserName: root}
    tests:
      fires: [*root-connect]
      doesNotFire: [*alice-connect]
`;
  const loaded = loadRuleTexts([{ file: 'ok.yaml', text: rules }]);
  assert.deepEqual(loaded.problems.map(formatProblem), []);
  assert.ok(loaded.ruleSet);
  assert.deepEqual(runRuleTests(loaded.ruleSet), { passed: 4, failed: [] });
  assert.deepEqual(
    loaded.ruleSet.evaluate(completeTestEvent({ engine: 'postgresql', class: 'MISC', command: 'CONNECT', dbUserName: 'admin' })).map((m) => m.rule.id),
    ['admin-connect'],
  );

  const config = await file('dasguard.yaml', `sinks:\n  a: {type: console}\n  b: {type: console, stream: stderr}\nroutes:\n  - {name: one, sinks: &both [a, b]}\n  - {name: two, severity: high, sinks: *both}\n`);
  const cfg = await resolveDeliveryConfig(config, {});
  assert.deepEqual(cfg?.routes.map((r) => r.sinks), [['a', 'b'], ['a', 'b']]);

  const patterns = await file('p.yaml', "lossWindow:\n  defaults: false\n  open:\n    - &deg {message: 'pipeline degraded'}\n  close:\n    - {message: 'pipeline recovered'}\n    - *deg\n");
  const p = await loadLossPatterns(patterns);
  assert.deepEqual(p.open.map((x) => x.message?.source), ['pipeline degraded']);
  assert.deepEqual(p.close.map((x) => x.message?.source), ['pipeline recovered', 'pipeline degraded']);
});
