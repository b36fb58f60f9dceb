/**
 * The config toolkit (src/config/): the spec engine on YAML trees and on a flat environment, its JSON Schema, the
 * Lambda environment spec.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { checkEnv } from '../../src/config/checkEnv.js';
import { checkYaml, formatPath } from '../../src/config/checkYaml.js';
import { checkLambdaEnv, invalidLambdaEnvMessage, LAMBDA_ENV, LAMBDA_OUTBOX_DIR } from '../../src/config/lambdaEnv.js';
import { ProblemList, formatFileProblem } from '../../src/config/problems.js';
import { toJsonSchema, type ObjectSpec } from '../../src/config/spec.js';
import { parseYamlFile } from '../../src/config/yamlTree.js';
import { parseDeliveryConfig, shortcutConfig } from '../../src/delivery/config.js';

const SPEC: ObjectSpec = {
  type: 'object',
  description: 'test',
  required: ['name'],
  properties: {
    name: { type: 'string', description: 'n' },
    wait: { type: 'duration', description: 'w' },
    level: { type: 'string', enum: ['low', 'high'], description: 'l' },
    token: { type: 'string', pattern: '^tok-', patternHint: 'a token', secret: true, description: 't' },
    count: { type: 'integer', minimum: 1, maximum: 9, description: 'c' },
    items: {
      type: 'array',
      nullIsEmpty: true,
      description: 'i',
      items: {
        type: 'object',
        description: 'item',
        needsOneOf: ['a', 'b'],
        properties: { a: { type: 'boolean', description: 'a' }, b: { type: 'string', parse: (t) => (t === 'bad' ? { problem: 'not that' } : { value: t.length }), description: 'b' } },
      },
    },
  },
};

function check(text: string, spec: ObjectSpec = SPEC, env?: NodeJS.ProcessEnv): { value: unknown; lines: string[]; secrets: string[] } {
  const problems = new ProblemList();
  const { docs } = parseYamlFile('t.yaml', text, problems);
  const secrets: string[] = [];
  const value = checkYaml(docs[0]!, spec, { problems, secrets, ...(env ? { env } : {}) });
  return { value, lines: problems.items.map(formatFileProblem), secrets };
}

test('spec engine: a right file comes back as values (durations in ms, parse hooks applied, null lists empty)', () => {
  const r = check('name: x\nwait: 1.5s\nlevel: high\ntoken: tok-1\ncount: 3\nitems:\n  - {a: true}\n  - {b: abcd}\n');
  assert.deepEqual(r.lines, []);
  assert.deepEqual(r.value, { name: 'x', wait: 1500, level: 'high', token: 'tok-1', count: 3, items: [{ a: true }, { b: 4 }] });
  assert.deepEqual(r.secrets, ['tok-1']);
  assert.deepEqual(check('name: x\nitems:\n').value, { name: 'x', items: [] });
});

test('spec engine: every problem at once, each at its line and named by its path', () => {
  const r = check('nme: x\nwait: 60\nlevel: hihg\ntoken: nope\ncount: 10\nitems:\n  - {}\n  - {b: bad}\n  - 7\n');
  assert.deepEqual(r.lines, [
    "t.yaml:1: unknown key 'nme' (did you mean 'name'?) (expected name, wait, level, token, count, items)",
    't.yaml:2: wait: must be a duration such as 500ms, 1.5s, 30s, 10m, 1h or 7d; got "60" (add a unit: 60s for seconds)',
    "t.yaml:3: level: \"hihg\" is not one of low, high (did you mean 'high'?)",
    't.yaml:4: token: expected a token, got (value hidden)',
    't.yaml:5: count: 10 is out of range (1..9)',
    't.yaml:7: items[0]: needs a or b',
    't.yaml:8: items[1].b: not that',
    't.yaml:9: items[2]: expected a mapping, got number 7',
    "t.yaml:1: missing 'name'",
  ]);
  assert.equal(formatPath(['a', 0, 'b']), 'a[0].b');
});

test('spec engine: ${VAR} substitution when an environment is given; a substituted value is not shown', () => {
  assert.deepEqual(check('name: ${WHO}\ntoken: ${TOKEN}\n', SPEC, { WHO: 'me', TOKEN: 'tok-x' }).value, { name: 'me', token: 'tok-x' });
  assert.deepEqual(check('name: ${WHO}\nlevel: $${X}\n', SPEC, {}).lines, [
    't.yaml:1: environment variable WHO is not set (referenced as ${WHO})',
    't.yaml:2: level: "${X}" is not one of low, high',
  ]);
  assert.deepEqual(check('name: $${X}\n').value, { name: '$${X}' }, 'without an environment, text is taken as it is');
});

test('spec engine: other keys can be left alone; JSON Schema from the same spec', () => {
  const open: ObjectSpec = { ...SPEC, otherKeys: 'ignored' };
  assert.deepEqual(check('name: x\nsomethingElse: 1\n', open).lines, []);
  const schema = toJsonSchema(SPEC, { $id: 'x', title: 't' }) as { properties: Record<string, Record<string, unknown>>; additionalProperties: boolean };
  assert.equal(schema.additionalProperties, false);
  assert.deepEqual(schema.properties.wait, { description: 'w', type: 'string', pattern: '^[0-9]+(\\.[0-9]+)?(ms|s|m|h|d)$' });
  const items = schema.properties.items as { type: unknown; items: { anyOf: unknown } };
  assert.deepEqual(items.type, ['array', 'null']);
  assert.deepEqual(items.items.anyOf, [{ required: ['a'] }, { required: ['b'] }]);
  assert.equal((toJsonSchema(open, { $id: 'x', title: 't' }) as { additionalProperties?: boolean }).additionalProperties, undefined);
});

test('dasguard.yaml: a suppression window takes the one duration grammar (1.5s, 2m); a bare number is refused with a hint', () => {
  const text = (w: string) => `sinks:\n  a: {type: console}\nroutes:\n  - {name: r, sinks: [a]}\nsuppression:\n  - {rules: ['*'], window: ${w}}\n`;
  assert.equal(parseDeliveryConfig('c.yaml', text('1.5s'), {}).config?.suppression[0]?.windowMs, 1500);
  assert.equal(parseDeliveryConfig('c.yaml', text('2m'), {}).config?.suppression[0]?.windowMs, 120_000);
  assert.equal(parseDeliveryConfig('c.yaml', text('0s'), {}).config?.suppression[0]?.windowMs, 0, 'as before: a zero window is allowed');
  assert.match(formatFileProblem(parseDeliveryConfig('c.yaml', text('60'), {}).problems[0]!), /^c\.yaml:6: must be a duration .*add a unit: 60s for seconds/);
});

test('spec engine: a key or a tag named like an Object.prototype property is unknown, not a crash or a silent pass', () => {
  const text = `sinks:\n  a: {type: constructor}\n  b: {type: console, toString: 1}\nroutes:\n  - {name: r, sinks: [b], __proto__: 1}\n`;
  const { config, problems } = parseDeliveryConfig('p.yaml', text, {});
  assert.equal(config, undefined);
  assert.deepEqual(problems.map(formatFileProblem), [
    'p.yaml:2: a: unknown sink type text "constructor" (expected sns, slack, webhook, console, file)',
    "p.yaml:3: b: unknown key 'toString' (expected type, stream, format)",
    "p.yaml:5: unknown key '__proto__' (expected name, sinks, severity, tags, rules, default, redaction)",
  ]);
  const hook = parseDeliveryConfig('h.yaml', 'sinks:\n  h: {type: webhook, url: "https://x", headers: {__proto__: v}}\nroutes:\n  - {name: r, sinks: [h]}\n', {});
  const headers = (hook.config?.sinks.h as { headers?: Record<string, string> }).headers!;
  assert.deepEqual(Object.entries(headers), [['__proto__', 'v']]);
  assert.equal(Object.getPrototypeOf(headers), Object.prototype);
});

test('the command-line shortcuts are checked by the same specs as dasguard.yaml; a webhook URL is never shown', () => {
  assert.throws(() => shortcutConfig({ snsTopicArn: 'alerts' }), { name: 'ConfigError', message: '--sns-topic-arn: expected an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME), got "alerts"' });
  assert.throws(() => shortcutConfig({ slackWebhookUrl: 'hooks.slack.com/SECRET' }), { name: 'ConfigError', message: '--slack-webhook-url: expected an http(s) URL, got (value hidden)' });
});

test('env engine: typed values, lists split on commas, blanks unset, defaults; every problem names its variable', () => {
  const spec = {
    prefix: 'APP_',
    settings: {
      wait: { env: 'APP_WAIT', type: 'duration', description: 'w' },
      n: { env: 'APP_N', type: 'integer', minimum: 1, description: 'n' },
      on: { env: 'APP_ON', type: 'boolean', default: false, description: 'o' },
      list: { env: 'APP_LIST', type: 'array', items: { type: 'string', pattern: '^[a-z]+$', description: 'x' }, description: 'l' },
    },
  } as const;
  assert.deepEqual(checkEnv({ APP_WAIT: ' 1.5s ', APP_N: '3', APP_LIST: 'a, b,,', APP_ON: '' }, spec), { settings: { wait: 1500, n: 3, on: false, list: ['a', 'b'] }, partial: { wait: 1500, n: 3, on: false, list: ['a', 'b'] }, problems: [] });
  const bad = checkEnv({ APP_WAIT: '10', APP_N: '0', APP_ON: 'yes', APP_LIST: 'a,B', APP_WAITT: '1s', APP_OTHER: 'x' }, spec);
  assert.equal(bad.settings, undefined);
  assert.deepEqual(bad.problems.map(formatFileProblem), [
    'APP_WAIT: must be a duration such as 500ms, 1.5s, 30s, 10m, 1h or 7d; got "10" (add a unit: 10s for seconds)',
    'APP_N: 0 is out of range (1..∞)',
    'APP_ON: expected true or false, got "yes"',
    'APP_LIST: item "B": expected text matching ^[a-z]+$, got "B"',
    "APP_WAITT: warning: not a setting: ignored (did you mean 'APP_WAIT'?)",
  ]);
});

test('Lambda environment: defaults when nothing is set, typed settings when all is right', () => {
  const lambdaSettings = (env: NodeJS.ProcessEnv) => {
    const { settings, problems } = checkLambdaEnv(env);
    assert.deepEqual(problems, []);
    return settings;
  };
  assert.deepEqual(lambdaSettings({}), { redaction: 'literals', outboxDir: LAMBDA_OUTBOX_DIR, stateTableCreate: true, logLevel: 'info' });
  const topic = 'arn:aws:sns:eu-west-1:111122223333:alerts';
  assert.deepEqual(
    lambdaSettings({
      DASGUARD_RULES: ' /opt/rules, ,rules/extra.yaml',
      DASGUARD_RESOURCE_ID: 'cluster-ABC123',
      DASGUARD_KMS_KEY_ID: 'alias/das',
      DASGUARD_REDACTION: 'full',
      DASGUARD_CONFIG: 'dasguard.yaml',
      DASGUARD_SNS_TOPIC_ARN: topic,
      DASGUARD_SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T/B/X',
      DASGUARD_OUTBOX_DIR: '/tmp/o',
      DASGUARD_STATE_TABLE: 'dasguard-state',
      DASGUARD_STATE_TABLE_CREATE: 'false',
      DASGUARD_LOG_LEVEL: 'debug',
    }),
    {
      rulePaths: ['/opt/rules', 'rules/extra.yaml'],
      resourceId: 'cluster-ABC123',
      kmsKeyId: 'alias/das',
      redaction: 'full',
      configPath: 'dasguard.yaml',
      snsTopicArn: topic,
      slackWebhookUrl: 'https://hooks.slack.com/services/T/B/X',
      outboxDir: '/tmp/o',
      stateTable: 'dasguard-state',
      stateTableCreate: false,
      logLevel: 'debug',
    },
  );
  assert.deepEqual(lambdaSettings({ DASGUARD_RULES: ' , ', DASGUARD_REDACTION: '  ' }), { redaction: 'literals', outboxDir: LAMBDA_OUTBOX_DIR, stateTableCreate: true, logLevel: 'info' }, 'blank is unset');
});

test('Lambda environment: every mistake at once, each naming its variable; the webhook URL is never shown', () => {
  const env = {
    DASGUARD_RESOURCE_ID: 'prod-cluster',
    DASGUARD_REDACTION: 'ful',
    DASGUARD_SNS_TOPIC_ARN: 'dasguard-alerts',
    DASGUARD_SLACK_WEBHOOK_URL: 'hooks.slack.com/services/T/B/SECRET',
    DASGUARD_REDACTON: 'none',
    DASGUARD_LOCAL_SNS_TOPIC: 'for ${} in dasguard.yaml',
  };
  assert.deepEqual(checkLambdaEnv(env).problems.map(formatFileProblem), [
    'DASGUARD_RESOURCE_ID: expected a DAS resource id, cluster-… or db-… (the DbClusterResourceId or DbiResourceId, not the cluster name), got "prod-cluster"',
    `DASGUARD_REDACTION: "ful" is not one of none, literals, full (did you mean 'full'?)`,
    'DASGUARD_SNS_TOPIC_ARN: expected an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME), got "dasguard-alerts"',
    'DASGUARD_SLACK_WEBHOOK_URL: expected an http(s) URL, got (value hidden)',
    "DASGUARD_REDACTON: warning: not a setting: ignored (did you mean 'DASGUARD_REDACTION'?)",
  ]);
  // The message the handler's init failure carries (test/e2e/lambda.test.ts, lambda-delivery.test.ts): errors only.
  const message = invalidLambdaEnvMessage(checkLambdaEnv(env).problems);
  const [head, ...lines] = message.split('\n');
  assert.equal(head, 'invalid Lambda environment (4 problems); nothing was evaluated:');
  assert.equal(lines.length, 4);
  assert.match(message, /DASGUARD_SNS_TOPIC_ARN: expected an SNS topic ARN/);
  assert.match(message, /DASGUARD_SLACK_WEBHOOK_URL: expected an http\(s\) URL/);
  assert.doesNotMatch(message, /SECRET|REDACTON/);
  assert.equal(invalidLambdaEnvMessage(checkLambdaEnv({ DASGUARD_REDACTION: 'ful' }).problems).split('\n')[0], 'invalid Lambda environment (1 problem); nothing was evaluated:');
});

test('docs/lambda.md documents every variable of the Lambda environment spec, with its default', async () => {
  const doc = await readFile(new URL('../../docs/lambda.md', import.meta.url), 'utf8');
  for (const s of Object.values(LAMBDA_ENV.settings)) {
    const row = doc.split('\n').find((l) => l.startsWith(`| \`${s.env}\` |`));
    assert.ok(row, `docs/lambda.md has no row for ${s.env}`);
    if ('default' in s) assert.ok(row.includes(`\`${s.default}\``), `the row of ${s.env} gives its default ${s.default}`);
  }
});

test('the duration grammar takes days (first_seen learning: 7d); a day is 24 hours; shown as before (24h)', async () => {
  const { parseDuration, durationProblem, formatMs } = await import('../../src/config/duration.js');
  assert.equal(parseDuration('7d'), 7 * 86_400_000);
  assert.equal(parseDuration('1.5d'), 36 * 3_600_000);
  assert.equal(durationProblem('90d'), undefined);
  assert.match(durationProblem('7 days') ?? '', /must be a duration/);
  assert.equal(formatMs(86_400_000), '24h');
});
