/**
 * The delivery handoff end to end: durable outbox, retries through faults (500s, throttling, Slack 429,
 * timeouts, refused connections), dead letters, a SIGKILL mid-delivery, suppression and redaction, and the CLI.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import { DeliveryHandoff } from '../../src/delivery/DeliveryHandoff.js';
import { parseDeliveryConfig, type DeliveryConfig } from '../../src/delivery/config.js';
import { startSnsServer, type SnsServer } from '../support/snsServer.js';
import { startWebhookServer, type WebhookServer } from '../support/webhookServer.js';
import { makeAlert, SECRET_LITERAL } from '../support/alerts.js';
import { runCli, jsonLines } from '../support/cli.js';
import { waitFor } from '../support/kinesis.js';

process.env.AWS_ACCESS_KEY_ID = 'AKIDTEST';
process.env.AWS_SECRET_ACCESS_KEY = 'secret-test';

let sns: SnsServer;
let hook: WebhookServer;
before(async () => {
  sns = await startSnsServer();
  hook = await startWebhookServer();
});
after(async () => {
  await sns.close();
  await hook.close();
});

const TOPIC = 'arn:aws:sns:eu-west-1:111122223333:dasguard-alerts';

function config(yaml: string, env: NodeJS.ProcessEnv = {}): DeliveryConfig {
  const { config, problems } = parseDeliveryConfig('test.yaml', yaml, env);
  assert.deepEqual(problems, []);
  assert.ok(config);
  return config;
}

function capture(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

const tmp = () => mkdtemp(join(tmpdir(), 'dasguard-outbox-'));

const FAST = `delivery: {maxAttempts: 30, initialBackoffMs: 5, maxBackoffMs: 40, drainTimeoutMs: 20000}`;

test('handOff resolves once the alerts are on disk; through 500s, throttling, timeouts and a refused port, every alert arrives', async () => {
  const dir = await tmp();
  const slackUrl = `${hook.url}/services/T/B/SLACKSECRET`;
  const cfg = config(
    `sinks:
  sns: {type: sns, topicArn: ${TOPIC}, timeoutMs: 400}
  slack: {type: slack, url: "\${SLACK}", timeoutMs: 400}
routes:
  - {name: all, sinks: [sns, slack]}
${FAST}
`,
    { SLACK: slackUrl },
  );
  process.env.AWS_ENDPOINT_URL_SNS = sns.url;
  const err = capture();
  const h = await DeliveryHandoff.open(cfg, { outboxDir: dir, stderr: err.stream });
  const snsBefore = sns.messages.length;
  const hookBefore = hook.received.length;
  sns.failNext(3, 'InternalError', 500);
  sns.failNext(2, 'Throttling', 400);
  sns.hangNext(1);
  sns.failEntries(2, 'InternalError', false);
  hook.failNext(2, 503);
  hook.failNext(1, 429, { 'retry-after': '0.05' });
  hook.hangNext(1);
  const alerts = Array.from({ length: 40 }, (_, i) => makeAlert(100 + i));
  await h.handOff(alerts.slice(0, 20));
  assert.ok((await readdir(dir)).some((f) => f.startsWith('batch-')), 'the batch is in the outbox');
  const retriesBefore = h.stats().retries;
  await sns.down();
  await h.handOff(alerts.slice(20));
  // Wait until SNS sends failed against the refused port: the retries counted while it is down are SNS's, but
  // for at most the 4 Slack faults injected above (2 x 503, a 429, a hang).
  await waitFor(() => h.stats().retries > retriesBefore + 4, 'SNS sends refused while it is down');
  await sns.up();
  await h.close();
  delete process.env.AWS_ENDPOINT_URL_SNS;
  const s = h.stats();
  assert.equal(s.pending, 0);
  assert.equal(s.deadLettered, 0);
  assert.ok(s.retries > 0);
  const snsIds = new Set(sns.messages.slice(snsBefore).map((m) => (JSON.parse(m.message) as { id: string }).id));
  const slackTexts = hook.received.slice(hookBefore).map((r) => JSON.stringify(r.body));
  for (const a of alerts) {
    assert.ok(snsIds.has(a.id), `alert ${a.id} missing at SNS`);
    assert.ok(slackTexts.some((t) => t.includes(a.id)), `alert ${a.id} missing at Slack`);
  }
  // Duplicates only from the hung request (the server may have accepted nothing): bounded, same ids.
  assert.ok(sns.messages.length - snsBefore <= alerts.length + 10);
  assert.deepEqual((await readdir(dir)).filter((f) => f.startsWith('batch-')), [], 'the outbox is empty');
  assert.doesNotMatch(err.text(), /SLACKSECRET/);
  assert.match(err.text(), /retrying/);
});

test('a 4xx is not retried: dead-letter.jsonl (mode 0600) and a delivery-failure alert on the fallback sink', async () => {
  const dir = await tmp();
  const url = `${hook.url}/hook/HOOKSECRET`;
  const cfg = config(`sinks:\n  h: {type: webhook, url: "${url}"}\nroutes:\n  - {name: r, sinks: [h]}\n${FAST}\n`);
  const err = capture();
  const h = await DeliveryHandoff.open(cfg, { outboxDir: dir, stderr: err.stream });
  hook.failNext(1, 400, {}, 'bad request');
  const attemptsBefore = hook.attempts;
  await h.handOff([makeAlert(200)]);
  await h.close();
  assert.equal(hook.attempts - attemptsBefore, 1, 'no retry after a 400');
  assert.equal(h.stats().deadLettered, 1);
  const dl = join(dir, 'dead-letter.jsonl');
  assert.equal((await stat(dl)).mode & 0o777, 0o600);
  const [entry] = jsonLines(await readFile(dl, 'utf8')) as { sink: string; error: string; alert: { id: string } }[];
  assert.equal(entry!.alert.id, makeAlert(200).id);
  assert.match(entry!.error, /HTTP 400/);
  assert.match(err.text(), /dasguard\.delivery-failed .*could not be delivered to sink 'h'/);
  assert.doesNotMatch(err.text() + (await readFile(dl, 'utf8')), /HOOKSECRET/);
});

test('a redirect to another origin is dead-lettered at once, naming the target; the other origin gets nothing', async (t) => {
  const other = await startWebhookServer();
  t.after(() => other.close());
  const dir = await tmp();
  const url = `${hook.url}/hook/HOOKSECRET`;
  const cfg = config(`sinks:\n  h: {type: webhook, url: "${url}", headers: {Authorization: "Bearer \${TOKEN}"}}\nroutes:\n  - {name: r, sinks: [h]}\n${FAST}\n`, { TOKEN: 'tok-SECRET' });
  const err = capture();
  const h = await DeliveryHandoff.open(cfg, { outboxDir: dir, stderr: err.stream });
  hook.failNext(1, 307, { location: `${other.url}/exfil` });
  const attemptsBefore = hook.attempts;
  await h.handOff([makeAlert(210)]);
  await h.close();
  assert.equal(hook.attempts - attemptsBefore, 1, 'not retried: the config is wrong');
  assert.equal(other.attempts, 0, 'no header, no alert reached the other origin');
  assert.equal(h.stats().deadLettered, 1);
  const text = await readFile(join(dir, 'dead-letter.jsonl'), 'utf8');
  const [entry] = jsonLines(text) as { error: string; alert: { id: string } }[];
  assert.equal(entry!.alert.id, makeAlert(210).id);
  assert.match(entry!.error, new RegExp(`HTTP 307 redirect to another origin, ${other.url}/exfil: not followed`));
  assert.doesNotMatch(err.text() + text, /HOOKSECRET|tok-SECRET/);
});

test('retryable failures give up after maxAttempts into the dead-letter file', async () => {
  const dir = await tmp();
  const cfg = config(`sinks:\n  h: {type: webhook, url: "${hook.url}/x"}\nroutes:\n  - {name: r, sinks: [h]}\ndelivery: {maxAttempts: 3, initialBackoffMs: 1, maxBackoffMs: 5}\n`);
  const h = await DeliveryHandoff.open(cfg, { outboxDir: dir, stderr: capture().stream });
  const before = hook.attempts;
  hook.failNext(3, 500);
  await h.handOff([makeAlert(210)]);
  await h.close();
  assert.equal(hook.attempts - before, 3);
  assert.equal(h.stats().deadLettered, 1);
  assert.match(await readFile(join(dir, 'dead-letter.jsonl'), 'utf8'), /gave up after 3 attempts/);
});

test('SIGKILL during delivery, restart: every alert is delivered at least once, duplicates carry the same id', async () => {
  const dir = await tmp();
  const yaml = `sinks:\n  sns: {type: sns, topicArn: ${TOPIC}, endpoint: "${sns.url}", batch: false}\nroutes:\n  - {name: r, sinks: [sns]}\ndelivery: {concurrency: 1}\n`;
  const cfgFile = join(dir, 'dasguard.yaml');
  await writeFile(cfgFile, yaml);
  const child = join(dir, 'child.mts');
  await writeFile(
    child,
    `import { loadDeliveryConfig } from ${JSON.stringify(resolve('src/delivery/config.ts'))};
import { DeliveryHandoff } from ${JSON.stringify(resolve('src/delivery/DeliveryHandoff.ts'))};
import { makeAlert } from ${JSON.stringify(resolve('test/support/alerts.ts'))};
const { config } = await loadDeliveryConfig(${JSON.stringify(cfgFile)}, process.env);
const h = await DeliveryHandoff.open(config!, { outboxDir: ${JSON.stringify(join(dir, 'outbox'))} });
for (let i = 0; i < 60; i += 10) await h.handOff(Array.from({ length: 10 }, (_, j) => makeAlert(300 + i + j)));
process.stdout.write('handed off\\n');
setInterval(() => {}, 1000);
`,
  );
  const before = sns.messages.length;
  const proc = spawn(process.execPath, ['--import', 'tsx', child], { cwd: resolve('.'), stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env } });
  let out = '';
  let errText = '';
  proc.stdout.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr.on('data', (c: Buffer) => (errText += c.toString()));
  sns.setDelay(25);
  const exited = new Promise((r) => proc.on('exit', r));
  // Kill once the alerts are handed off and some (not all) were delivered.
  for (let i = 0; i < 3000 && !(out.includes('handed off') && sns.messages.length - before >= 5); i++) await new Promise((r) => setTimeout(r, 10));
  proc.kill('SIGKILL');
  await exited;
  sns.setDelay(0);
  assert.ok(out.includes('handed off'), errText);
  const firstRun = sns.messages.length - before;
  assert.ok(firstRun < 60, 'the kill came mid-delivery');
  const cfg = config(yaml);
  const h = await DeliveryHandoff.open(cfg, { outboxDir: join(dir, 'outbox'), stderr: capture().stream });
  const recovered = h.stats().recovered;
  await h.close();
  const ids = sns.messages.slice(before).map((m) => (JSON.parse(m.message) as { id: string }).id);
  for (let i = 0; i < 60; i++) assert.ok(ids.includes(makeAlert(300 + i).id), `alert ${300 + i} lost`);
  assert.equal(recovered + firstRun >= 60, true);
  assert.ok(ids.length - 60 <= 4, `duplicates bounded by the sends in flight: ${ids.length - 60}`);
  assert.equal(h.stats().pending, 0);
});

test('suppression: the first alert goes out, the rest are counted, a digest carries the count', async () => {
  const dir = await tmp();
  const file = join(dir, 'alerts.jsonl');
  const cfg = config(`sinks:\n  f: {type: file, path: "${file}"}\nroutes:\n  - {name: r, sinks: [f]}\nsuppression:\n  - {rules: ['pg.*'], window: 1h, keys: [dbUserName]}\n`);
  const h = await DeliveryHandoff.open(cfg, { outboxDir: join(dir, 'o'), stderr: capture().stream });
  const bob = (i: number) => makeAlert(i, { event: { ...makeAlert(i).event, dbUserName: 'bob' } });
  await h.handOff([makeAlert(400), makeAlert(401), bob(402), makeAlert(403), bob(404), makeAlert(405, { ruleId: 'mysql.other' })]);
  await h.close();
  const got = jsonLines(await readFile(file, 'utf8')) as { id: string; suppressedCount?: number; event: { dbUserName: string } }[];
  const plain = got.filter((a) => a.suppressedCount === undefined).map((a) => a.id);
  assert.deepEqual(plain, [makeAlert(400).id, bob(402).id, makeAlert(405).id]);
  const digests = got.filter((a) => a.suppressedCount !== undefined).map((a) => [a.event.dbUserName, a.suppressedCount]).sort();
  assert.deepEqual(digests, [['app_admin', 2], ['bob', 1]]);
  assert.equal(h.stats().suppressed, 3);
});

test('redaction: no literal reaches any sink, even when the pipeline kept them (replay --redaction none)', async () => {
  const dir = await tmp();
  const file = join(dir, 'alerts.jsonl');
  const cfg = config(`sinks:
  sns: {type: sns, topicArn: ${TOPIC}, endpoint: "${sns.url}"}
  slack: {type: slack, url: "${hook.url}/slack"}
  hook: {type: webhook, url: "${hook.url}/hook"}
  f: {type: file, path: "${file}"}
  fullhook: {type: webhook, url: "${hook.url}/full"}
routes:
  - {name: lit, sinks: [sns, slack, hook, f]}
  - {name: full, sinks: [fullhook], redaction: full}
`);
  const out = capture();
  const h = await DeliveryHandoff.open(cfg, { outboxDir: join(dir, 'o'), stderr: out.stream });
  const snsBefore = sns.messages.length;
  const hookBefore = hook.received.length;
  const a = makeAlert(500);
  a.event = { ...a.event, engineNativeAuditFields: { SQL_TEXT: `select '${SECRET_LITERAL}' from dual`, SQL_BINDS: ` #1(14):${SECRET_LITERAL}` } };
  await h.handOff([a]);
  await h.close();
  const delivered = [
    ...sns.messages.slice(snsBefore).map((m) => m.message),
    ...hook.received.slice(hookBefore).map((r) => r.raw),
    await readFile(file, 'utf8'),
  ];
  assert.equal(delivered.length, 5);
  for (const d of delivered) {
    assert.doesNotMatch(d, new RegExp(SECRET_LITERAL));
    assert.doesNotMatch(d, /4111111111111111/);
  }
  assert.ok(delivered.some((d) => d.includes("ALTER ROLE app PASSWORD ? VALID UNTIL ?")));
  const full = hook.received.slice(hookBefore).find((r) => r.path === '/full')!.body as { event: Record<string, unknown> };
  assert.equal(full.event.commandText, undefined);
  assert.equal(full.event.paramList, undefined);
  for (const f of await readdir(join(dir, 'o'))) {
    if (f.endsWith('.log') || f.endsWith('.json')) assert.doesNotMatch(await readFile(join(dir, 'o', f), 'utf8'), new RegExp(SECRET_LITERAL));
  }
});

test('replay --sns-topic-arn: the sample alerts reach SNS (AWS_ENDPOINT_URL_SNS) and still print on stdout, summary says so', async () => {
  const dir = await tmp();
  const before = sns.messages.length;
  process.env.AWS_ENDPOINT_URL_SNS = sns.url;
  try {
    const plain = await runCli(['replay', 'samples/streams', '--key-file', 'samples/demo-master-key.json', '--rules', 'rules', '--output', 'jsonl', '--quiet']);
    const expected = jsonLines(plain.stdout).map((a) => a.id);
    assert.ok(expected.length > 0);
    const r = await runCli(['replay', 'samples/streams', '--key-file', 'samples/demo-master-key.json', '--rules', 'rules', '--sns-topic-arn', TOPIC, '--outbox-dir', dir, '--output', 'json']);
    assert.equal(r.code, 0, r.stderr);
    // without a delivery config file the shortcut adds SNS to the built-in stdout delivery (the help's "Also send")
    assert.deepEqual(jsonLines(r.stdout).map((a) => a.id).sort(), [...expected].sort());
    // one delivery per alert and sink: stdout and SNS
    assert.match(r.stderr, new RegExp(`delivery: ${2 * expected.length} deliveries done, 0 retried, 0 dead-lettered`));
    const got = sns.messages.slice(before).map((m) => (JSON.parse(m.message) as { id: string }).id);
    assert.deepEqual([...got].sort(), [...expected].sort());
  } finally {
    delete process.env.AWS_ENDPOINT_URL_SNS;
  }
});

test('alert-test --route: exit 0 when every sink accepted it, 1 with the sink error (URL masked)', async () => {
  const dir = await tmp();
  const cfgFile = join(dir, 'dasguard.yaml');
  await writeFile(cfgFile, `sinks:\n  sns: {type: sns, topicArn: ${TOPIC}, endpoint: "${sns.url}"}\n  slack: {type: slack, url: "\${SLACK_URL}"}\nroutes:\n  - {name: ops, sinks: [sns, slack]}\n`);
  const env = { ...process.env, SLACK_URL: `${hook.url}/services/T/B/TESTSECRET` };
  const ok = await runCli(['alert-test', '--route', 'ops', '--config', cfgFile], { env });
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stderr, /route 'ops': 2 of 2 sinks accepted/);
  assert.match(JSON.stringify(hook.received.at(-1)!.body), /dasguard\.alert-test/);
  hook.failNext(1, 403, {}, 'invalid_token');
  const bad = await runCli(['alert-test', '--route', 'ops', '--config', cfgFile], { env });
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /sink 'slack' FAILED: slack sink 'slack': HTTP 403 invalid_token/);
  assert.doesNotMatch(bad.stderr, /TESTSECRET/);
  const unknown = await runCli(['alert-test', '--route', 'nope', '--config', cfgFile], { env });
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /no route named 'nope'/);
});
