import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatConfigProblem, parseDeliveryConfig, shortcutConfig } from '../src/delivery/config.js';
import { Router } from '../src/delivery/routing.js';
import { SCHEMA_PATH, schemaText } from '../schema/generate.js';
import { runCli } from './support/cli.js';
import { makeAlert } from './support/alerts.js';

const BROKEN = `version: 1
sinks:
  ops-sns:
    type: sns
    topicArn: arn:aws:sns:eu-west-1:111122223333:alerts
  team:
    type: slak
    url: https://hooks.slack.com/x
  hook:
    type: webhook
    url: \${HOOK_URL}
    colour: red
routes:
  - name: pci
    severity: urgent
    sinks: [ops-sns, nowhere]
  - name: pci
    sinks: [ops-sns]
suppression:
  - rules: ['*']
    window: 10 minutes
delivery:
  maxAttempts: 0
`;

test('config: every problem is reported at once, each at its file:line', () => {
  const { config, problems } = parseDeliveryConfig('dasguard.yaml', BROKEN, {});
  assert.equal(config, undefined);
  const lines = problems.map(formatConfigProblem);
  const expect: [number, RegExp][] = [
    [7, /unknown sink type text "slak".*did you mean 'slack'/],
    [11, /environment variable HOOK_URL is not set/],
    [12, /unknown key 'colour'/],
    [15, /"urgent" is not one of info, low, medium, high, critical/],
    [21, /expected a duration such as/],
    [23, /0 is out of range/],
  ];
  for (const [line, re] of expect) assert.ok(lines.some((l) => l.startsWith(`dasguard.yaml:${line}: `) && re.test(l)), `no problem at line ${line} matching ${re}:\n${lines.join('\n')}`);
  assert.equal(problems.length, expect.length, lines.join('\n'));
});

test('config: names are cross-checked once the shape is right (unknown sink, duplicate route, fallback)', () => {
  const text = `sinks:
  a: {type: console}
routes:
  - {name: r1, sinks: [a, b]}
  - {name: r1, sinks: [a]}
delivery: {fallbackSink: nope}
`;
  const lines = parseDeliveryConfig('c.yaml', text, {}).problems.map(formatConfigProblem);
  assert.deepEqual(lines, [
    "c.yaml:4: route 'r1': no sink named 'b' (did you mean 'a'?) (sinks: a)",
    "c.yaml:5: route name 'r1' is already used by route 1",
    "c.yaml:6: fallbackSink: no sink named 'nope'",
  ]);
});

test('config: ${ENV} fills secrets, and a secret never appears in a problem message', () => {
  const secret = 'https://hooks.slack.com/services/T000/B000/SECRETSECRET';
  const ok = parseDeliveryConfig('c.yaml', 'sinks:\n  s: {type: slack, url: "${SLACK}"}\nroutes:\n  - {name: r, sinks: [s]}\n', { SLACK: secret });
  assert.deepEqual(ok.problems, []);
  assert.equal(ok.config?.sinks.s?.type === 'slack' && ok.config.sinks.s.url, secret);
  assert.ok(ok.config?.secrets.includes(secret));
  const bad = parseDeliveryConfig('c.yaml', 'sinks:\n  s: {type: slack, url: "${SLACK}"}\nroutes:\n  - {name: r, sinks: [s]}\n', { SLACK: 'ftp://SECRETSECRET' });
  const text = bad.problems.map(formatConfigProblem).join('\n');
  assert.match(text, /c\.yaml:2: s: expected an http\(s\) URL, got \(value hidden\)/);
  assert.doesNotMatch(text, /SECRETSECRET/);
});

test('routing: severity threshold, tag and rule globs, several routes, default only when nothing else matched', () => {
  const { config } = parseDeliveryConfig(
    'r.yaml',
    `sinks: {sns: {type: console}, slack: {type: console}, file: {type: console}}
routes:
  - {name: pci, tags: ['pci-dss:*'], sinks: [sns]}
  - {name: loud, severity: high, sinks: [slack], redaction: full}
  - {name: pg, rules: ['pg.*'], sinks: [slack]}
  - {name: rest, default: true, sinks: [file]}
`,
    {},
  );
  assert.ok(config);
  const r = new Router(config.routes);
  const sinks = (a: ReturnType<typeof makeAlert>) => r.targets(a).map((t) => `${t.sink}/${t.redaction}`).sort();
  assert.deepEqual(sinks(makeAlert(1, { tags: ['pci-dss:10.2.2'], severity: 'low', ruleId: 'x' })), ['sns/literals']);
  assert.deepEqual(sinks(makeAlert(2, { tags: ['pci-dss:10.2.2'], severity: 'critical', ruleId: 'x' })), ['slack/full', 'sns/literals']);
  // pg.* sends literals to slack, loud sends full: the stricter wins
  assert.deepEqual(sinks(makeAlert(3, { tags: [], severity: 'high', ruleId: 'pg.ddl' })), ['slack/full']);
  assert.deepEqual(sinks(makeAlert(4, { tags: ['sox'], severity: 'medium', ruleId: 'mysql.x' })), ['file/literals']);
  // --sns-topic-arn on top of a config: every alert also goes to SNS, and the default route still applies
  const withShortcut = new Router(shortcutConfig({ snsTopicArn: 'arn:aws:sns:eu-west-1:111122223333:t', base: config }).routes);
  assert.deepEqual(withShortcut.targets(makeAlert(5, { tags: [], severity: 'low', ruleId: 'x' })).map((t) => t.sink).sort(), ['cli-sns', 'file']);
  assert.deepEqual(withShortcut.targets(makeAlert(6, { tags: ['pci-dss:1'], severity: 'low', ruleId: 'x' })).map((t) => t.sink).sort(), ['cli-sns', 'sns']);
});

test('schema/dasguard.schema.json is generated from the config definition (regenerate: node --import tsx schema/generate.ts)', async () => {
  assert.equal(await readFile(SCHEMA_PATH, 'utf8'), schemaText());
});

test('README: the Alert delivery example config loads and validates', async () => {
  const readme = await readFile('README.md', 'utf8');
  const section = readme.slice(readme.indexOf('## Alert delivery'));
  const m = /```yaml\n([\s\S]*?)```/.exec(section);
  assert.ok(m, 'no yaml block in ## Alert delivery');
  const env = { SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T/B/x', SIEM_URL: 'https://siem.example.com/in', SIEM_TOKEN: 't0ken' };
  const { config, problems } = parseDeliveryConfig('README.md', m[1]!, env);
  assert.deepEqual(problems.map(formatConfigProblem), []);
  assert.ok(config && config.routes.length >= 2);
});

test('replay --config with a broken file: exit 2, every problem on stderr, nothing evaluated', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dasguard-cfg-'));
  const file = join(dir, 'dasguard.yaml');
  await writeFile(file, BROKEN);
  const r = await runCli(['replay', 'samples/streams', '--key-file', 'samples/demo-master-key.json', '--config', file]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /6 problems in .*dasguard\.yaml/);
  for (const line of [7, 11, 12, 15, 21, 23]) assert.match(r.stderr, new RegExp(`dasguard\\.yaml:${line}: `));
  assert.equal(r.stdout, '');
});
