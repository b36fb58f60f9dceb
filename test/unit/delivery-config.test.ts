import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatConfigProblem, parseDeliveryConfig, shortcutConfig } from '../../src/delivery/config.js';
import { Router } from '../../src/delivery/routing.js';
import { SCHEMA_PATH, schemaText } from '../../schema/generate.js';
import { runCli } from '../support/cli.js';
import { makeAlert } from '../support/alerts.js';

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
    // the cross-checks run on what did parse, in the same pass
    [16, /route 'pci': no sink named 'nowhere'/],
    [17, /route name 'pci' is already used by route 1/],
    [21, /must be a duration such as 500ms, 1.5s, 30s, 10m, 1h or 7d; got "10 minutes"/],
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

const EVERY_MISTAKE = `version: 2
colour: blue
sinks:
  ops: {type: sns, topicArn: arn:aws:sns:eu-west-1:111122223333:alerts}
  team: {type: slak, url: https://hooks.slack.com/x}
  hook: {type: webhook, url: "\${HOOK_URL}", timeoutMs: 5}
  bad name: {type: console}
  log: {type: file}
routes:
  - name: pci
    severity: urgent
    sinks: [ops, team, hook, nowhere]
    rules: [pci-*]
  - name: pci
    sinks: [ops]
  - name: rest
    default: true
    severity: high
    sinks: [log]
  - sinks: [ops]
suppression:
  - rules: [das-stream-silense]
    window: 10 minutes
    keys: [dbUser]
delivery:
  maxAttempts: 0
  fallbackSink: nope
`;

test('config: a file with one mistake of every kind reports them all in one pass, and nothing twice', () => {
  const { config, problems } = parseDeliveryConfig('every.yaml', EVERY_MISTAKE, {}, { loadedRuleIds: ['pg-ddl', 'mysql-ddl'] });
  assert.equal(config, undefined);
  const lines = problems.map(formatConfigProblem);
  const expect: [number, RegExp][] = [
    [1, /1 is out of range|2 is out of range/],
    [2, /unknown key 'colour'/],
    [5, /unknown sink type text "slak".*did you mean 'slack'/],
    [6, /environment variable HOOK_URL is not set/],
    [6, /5 is out of range/],
    [7, /bad name 'bad name'/],
    [8, /missing 'path'/],
    [11, /"urgent" is not one of/],
    [12, /route 'pci': no sink named 'nowhere'/],
    [13, /route 'pci': rules pattern 'pci-\*' matches no loaded rule and no built-in alert/],
    [14, /route name 'pci' is already used by route 1/],
    [17, /route 'rest': a default route takes what no other route matched/],
    [20, /missing 'name'/],
    [22, /suppression 1: rules pattern 'das-stream-silense' matches no loaded rule.*did you mean 'das-stream-silence'/],
    [23, /must be a duration such as 500ms, 1.5s, 30s, 10m, 1h or 7d; got "10 minutes"/],
    [24, /unknown suppression key 'dbUser' \(did you mean 'dbUserName'\?\)/],
    [26, /0 is out of range/],
    [27, /fallbackSink: no sink named 'nope'/],
  ];
  for (const [line, re] of expect) assert.ok(lines.some((l) => l.startsWith(`every.yaml:${line}: `) && re.test(l)), `no problem at line ${line} matching ${re}:\n${lines.join('\n')}`);
  // No cascade: the sinks whose own definition is wrong (team, hook, log) are not "missing" as well.
  assert.equal(problems.length, expect.length, lines.join('\n'));
});

test('config: a fallbackSink naming a sink whose definition is wrong gets no second problem, nor do routes without sinks:', () => {
  const text = 'sinks:\n  a: {type: console}\n  b: {type: console, stream: nowhere}\nroutes:\n  - {name: r, sinks: [a]}\ndelivery: {fallbackSink: b}\n';
  assert.deepEqual(parseDeliveryConfig('c.yaml', text, {}).problems.map(formatConfigProblem), ['c.yaml:3: b: "nowhere" is not one of stdout, stderr']);
  // a misspelt `sinks:` is two problems, not one more per route
  const misspelt = 'sink:\n  a: {type: console}\nroutes:\n  - {name: r, sinks: [a]}\n  - {name: s, sinks: [a]}\ndelivery: {fallbackSink: a}\n';
  assert.deepEqual(parseDeliveryConfig('m.yaml', misspelt, {}).problems.map(formatConfigProblem), [
    "m.yaml:1: unknown key 'sink' (did you mean 'sinks'?) (expected version, sinks, routes, suppression, clusters, delivery, coordination)",
    "m.yaml:1: missing 'sinks'",
  ]);
});

test('config: suppression keys are checked against the fields alerts carry (activity, RDS event, health and delivery facts)', () => {
  const text = `sinks: {c: {type: console}}
routes: [{name: r, sinks: [c]}]
suppression:
  - rules: ['*']
    window: 10m
    keys:
      - dbUserName
      - remoteHost
      - sourceIdentifier
      - shardId
      - windowId
      - sink
      - dbUser
      - remote_host
`;
  const { config, problems } = parseDeliveryConfig('s.yaml', text, {});
  assert.equal(config, undefined);
  assert.deepEqual(problems.map(formatConfigProblem), [
    "s.yaml:13: unknown suppression key 'dbUser' (did you mean 'dbUserName'?)",
    "s.yaml:14: unknown suppression key 'remote_host' (did you mean 'remoteHost'?)",
  ]);
  const ok = parseDeliveryConfig('s.yaml', text.replace(/      - dbUser\n      - remote_host\n/, ''), {});
  assert.deepEqual(ok.problems, []);
  assert.deepEqual(ok.config?.suppression[0]?.keys, ['dbUserName', 'remoteHost', 'sourceIdentifier', 'shardId', 'windowId', 'sink']);
});

test('config: rules patterns must match a loaded rule or a built-in alert (health, delivery)', () => {
  const text = `sinks: {c: {type: console}}
routes:
  - {name: ddl, rules: ['pg-*', 'mysql-ddl'], sinks: [c]}
  - {name: health, rules: [das-*, dasguard.delivery-failed, dasguard.alert-test], sinks: [c]}
  - {name: typo, rules: [pg-dll, 'oracle-*'], sinks: [c]}
suppression:
  - {rules: [das-stream-silence, das-records-trimmed, das-loss-window, das-stream-not-started], window: 1m}
`;
  const { problems } = parseDeliveryConfig('p.yaml', text, {}, { loadedRuleIds: ['pg-ddl', 'mysql-ddl'] });
  assert.deepEqual(problems.map(formatConfigProblem), [
    "p.yaml:5: route 'typo': rules pattern 'pg-dll' matches no loaded rule and no built-in alert (did you mean 'pg-ddl'?)",
    "p.yaml:5: route 'typo': rules pattern 'oracle-*' matches no loaded rule and no built-in alert",
  ]);
  // Without the rules (a config parsed on its own), the patterns are not judged.
  assert.deepEqual(parseDeliveryConfig('p.yaml', text, {}).problems, []);
});

test('every built-in alert is known to the config checks: its rule id, and every fact key its event carries', async () => {
  const { BUILTIN_ALERTS } = await import('../../src/builtinAlerts.js');
  const ids = BUILTIN_ALERTS.map((k) => k.ruleId).sort();
  assert.deepEqual(ids, ['das-data-key-failure', 'das-loss-window', 'das-records-trimmed', 'das-stream-not-started', 'das-stream-silence', 'dasguard.alert-test', 'dasguard.delivery-failed']);
  const { testAlert, deliveryFailureAlert } = await import('../../src/delivery/syntheticAlerts.js');
  const keysOf = (id: string) => new Set(BUILTIN_ALERTS.find((k) => k.ruleId === id)!.facts);
  for (const k of Object.keys(testAlert('r').event)) assert.ok(keysOf('dasguard.alert-test').has(k), k);
  const job = { batch: 'b', index: 0, sink: 's', alert: makeAlert(1), attempts: 3, notBefore: 0 };
  for (const k of Object.keys(deliveryFailureAlert(job, 'e', 'dl').event)) assert.ok(keysOf('dasguard.delivery-failed').has(k), k);
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
  assert.match(r.stderr, /8 problems in .*dasguard\.yaml/);
  for (const line of [7, 11, 12, 15, 16, 17, 21, 23]) assert.match(r.stderr, new RegExp(`dasguard\\.yaml:${line}: `));
  assert.equal(r.stdout, '');
});

/** A config whose routes name rules: `pg-*` (loaded from the custom file below), `das-*` (built in), a typo. */
async function ruleRefConfig(): Promise<{ dir: string; file: string; rules: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'dasguard-cfg-rules-'));
  const file = join(dir, 'dasguard.yaml');
  await writeFile(
    file,
    ['sinks:', '  out: {type: console, stream: stderr}', 'routes:', "  - {name: pg, rules: ['pg-*'], sinks: [out]}", "  - {name: health, rules: ['das-*'], sinks: [out]}", "  - {name: typo, rules: ['drop-or-truncat'], sinks: [out]}", ''].join('\n'),
  );
  const rules = join(dir, 'rules.yaml');
  await writeFile(rules, 'rules:\n  - id: pg-anything\n    description: d\n    severity: low\n    when: {engine: postgresql}\n');
  return { dir, file, rules };
}

test('replay, run and alert-test judge the rules patterns against the rules they load (exit 2, file:line)', async () => {
  const { dir, file, rules } = await ruleRefConfig();
  const typo = new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:6: route 'typo': rules pattern 'drop-or-truncat' matches no loaded rule and no built-in alert \\(did you mean 'drop-or-truncate'\\?\\)`);
  // replay with the baseline pack: drop-or-truncat is a typo of a loaded rule; pg-* matches nothing there
  const replay = await runCli(['replay', 'samples/streams', '--key-file', 'samples/demo-master-key.json', '--config', file]);
  assert.equal(replay.code, 2, replay.stderr);
  assert.match(replay.stderr, typo);
  assert.match(replay.stderr, /:4: route 'pg': rules pattern 'pg-\*' matches no loaded rule/);
  assert.equal(replay.stdout, '');
  // run refuses before it reads the stream (none exists here)
  const checkpoints = join(dir, 'checkpoints');
  const run = await runCli(['run', '--stream', 'aws-rds-das-cluster-NOPE', '--key-file', 'samples/demo-master-key.json', '--config', file, '--checkpoint-dir', checkpoints]);
  assert.equal(run.code, 2, run.stderr);
  assert.match(run.stderr, typo);
  assert.ok(!existsSync(checkpoints), 'nothing is created before the config is valid');
  // alert-test checks against the default rules, or those given with --rules
  const byDefault = await runCli(['alert-test', '--route', 'health', '--config', file]);
  assert.equal(byDefault.code, 2, byDefault.stderr);
  assert.match(byDefault.stderr, typo);
  const fixed = join(dir, 'fixed.yaml');
  await writeFile(fixed, (await readFile(file, 'utf8')).replace(/.*name: typo.*\n/, ''));
  const custom = await runCli(['alert-test', '--route', 'health', '--config', fixed, '--rules', rules]);
  assert.equal(custom.code, 0, custom.stderr);
  assert.match(custom.stderr, /sink 'out' accepted the test alert/);
});
