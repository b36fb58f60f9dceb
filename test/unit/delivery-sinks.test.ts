/** Each sink against a real receiver: the real SNSClient against the loopback SNS, fetch against node:http. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SnsSink } from '../../src/delivery/sinks/SnsSink.js';
import { fitAlert } from '../../src/pipeline/alertSize.js';
import { SlackSink } from '../../src/delivery/sinks/SlackSink.js';
import { WebhookSink } from '../../src/delivery/sinks/WebhookSink.js';
import { startSnsServer, type SnsServer } from '../support/snsServer.js';
import { startWebhookServer, type WebhookServer } from '../support/webhookServer.js';
import { makeAlert } from '../support/alerts.js';

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

test('SNS Publish: subject within the rules, attributes for filter policies, the alert as JSON', async () => {
  const sink = new SnsSink('s', { type: 'sns', topicArn: TOPIC, endpoint: sns.url, batch: false });
  const long = makeAlert(1, { ruleId: `very.long.rule.${'x'.repeat(120)}`, tags: ['pci-dss:10.2', 'sox'] });
  const [r] = await sink.send([long]);
  await sink.close();
  assert.deepEqual(r, { ok: true });
  const m = sns.messages.at(-1)!;
  assert.equal(m.action, 'Publish');
  assert.ok(m.subject!.length < 100 && m.subject!.startsWith('[HIGH] very.long.rule.'));
  assert.deepEqual(m.attributes.severity, { type: 'String', value: 'high' });
  assert.deepEqual(m.attributes.ruleId, { type: 'String', value: long.ruleId });
  assert.deepEqual(m.attributes.cluster, { type: 'String', value: 'cluster-ABCDEFGHIJKLMNOP' });
  assert.deepEqual(m.attributes.tags, { type: 'String.Array', value: '["pci-dss:10.2","sox"]' });
  assert.equal((JSON.parse(m.message) as { id: string }).id, long.id);
  assert.equal(m.groupId, undefined);
});

test('SNS FIFO: MessageGroupId = cluster, MessageDeduplicationId = alert id (a resend is dropped by SNS)', async () => {
  const sink = new SnsSink('f', { type: 'sns', topicArn: `${TOPIC}.fifo`, endpoint: sns.url });
  const before = sns.messages.length;
  const alerts = [makeAlert(10), makeAlert(11), makeAlert(12)];
  assert.ok((await sink.send(alerts)).every((r) => r.ok));
  assert.ok((await sink.send([alerts[1]!])).every((r) => r.ok));
  await sink.close();
  const got = sns.messages.slice(before);
  assert.deepEqual(got.map((m) => m.dedupId), alerts.map((a) => a.id));
  assert.ok(got.every((m) => m.groupId === 'cluster-ABCDEFGHIJKLMNOP' && m.action === 'PublishBatch'));
  assert.equal(sns.duplicatesDropped, 1);
});

test('SNS PublishBatch: per-entry failures come back per alert, marked retryable or not', async () => {
  const sink = new SnsSink('b', { type: 'sns', topicArn: TOPIC, endpoint: sns.url });
  sns.failEntries(1, 'InternalError', false);
  const r1 = await sink.send([1, 2, 3, 4].map((i) => makeAlert(20 + i)));
  assert.deepEqual(r1.map((r) => r.ok), [true, false, true, false]);
  assert.ok(r1.every((r) => r.ok || r.retryable));
  sns.failEntries(1, 'InvalidParameter', true);
  const r2 = await sink.send([1, 2].map((i) => makeAlert(30 + i)));
  assert.equal(r2[1]!.ok === false && r2[1]!.retryable, false);
  sns.failNext(1, 'Throttling', 400);
  const r3 = await sink.send([makeAlert(40), makeAlert(41)]);
  assert.ok(r3.every((r) => !r.ok && r.retryable && /Throttling/.test(r.error)));
  sns.failNext(1, 'AuthorizationError', 403);
  const [r4] = await sink.send([makeAlert(42)]);
  assert.ok(r4 && !r4.ok && !r4.retryable && /AuthorizationError/.test(r4.error));
  await sink.close();
});

test('SNS 256 KiB: a huge statement is cut first (truncated: true) and SNS accepts it; a batch is split by size', async () => {
  const huge = makeAlert(50);
  huge.event = { ...huge.event, commandText: `SELECT ${'a, '.repeat(200_000)}1` };
  const text = fitAlert(huge, 200_000).json;
  assert.ok(Buffer.byteLength(text) <= 200_000);
  const parsed = JSON.parse(text) as { truncated: boolean; event: { commandText: string; dbUserName: string } };
  assert.equal(parsed.truncated, true);
  assert.match(parsed.event.commandText, /^SELECT a, a, .*…\[truncated\]$/);
  assert.equal(parsed.event.dbUserName, 'app_admin');
  const sink = new SnsSink('big', { type: 'sns', topicArn: TOPIC, endpoint: sns.url });
  const bigs = [51, 52, 53].map((i) => ({ ...makeAlert(i), event: { ...huge.event, commandText: 'x'.repeat(120_000) } }));
  const calls = sns.calls.PublishBatch;
  const r = await sink.send([huge, ...bigs]);
  await sink.close();
  assert.ok(r.every((x) => x.ok), JSON.stringify(r));
  assert.ok(sns.calls.PublishBatch - calls >= 3, 'four ~120-256 KiB messages cannot share one 256 KiB batch');
});

test('Slack: Block Kit with severity, rule, user, host, database, object, statement, time; 429 Retry-After surfaces', async () => {
  const url = `${hook.url}/services/T000/B000/XXXXSECRET`;
  const sink = new SlackSink('slack', { type: 'slack', url });
  const [ok] = await sink.send([makeAlert(60)]);
  assert.deepEqual(ok, { ok: true });
  const body = hook.received.at(-1)!.body as { text: string; blocks: { type: string; text?: { text: string }; fields?: { text: string }[] }[] };
  const all = JSON.stringify(body.blocks);
  for (const want of ['HIGH', 'pg.role-password-change', 'app_admin', '10.0.0.7', 'payments', '*Object*', '2026-11-20 10:00:00.000 UTC', 'ALTER ROLE app PASSWORD']) {
    assert.ok(all.includes(want), `${want} missing from ${all}`);
  }
  hook.failNext(1, 429, { 'retry-after': '2' }, 'rate_limited');
  const [limited] = await sink.send([makeAlert(61)]);
  assert.ok(limited && !limited.ok && limited.retryable && limited.retryAfterMs === 2000);
  assert.doesNotMatch(limited.error, /XXXXSECRET/);
  hook.failNext(1, 404, {}, 'no_service');
  const [gone] = await sink.send([makeAlert(62)]);
  assert.ok(gone && !gone.ok && !gone.retryable);
});

test('Slack: alert text can neither ping, mention nor link: the notification text is escaped like the blocks, no unfurling', async () => {
  const live = ['<!channel>', '<!here>', '<@U123>', '<https://evil.example|click>'];
  const alert = makeAlert(63, {
    message: `dropped by <!channel> at <https://evil.example|click>`,
    event: {
      ...makeAlert(63).event,
      dbUserName: '<!here>',
      objectName: '<@U123>',
      databaseName: '<https://evil.example|click>',
      commandText: "SELECT '<!channel>'",
    },
  });
  const sink = new SlackSink('slack', { type: 'slack', url: `${hook.url}/services/T000/B000/XXXXSECRET` });
  assert.deepEqual(await sink.send([alert]), [{ ok: true }]);
  const got = hook.received.at(-1)!;
  const body = got.body as { text: string; unfurl_links: unknown; unfurl_media: unknown };
  for (const token of live) assert.ok(!got.raw.includes(token), `${token} is live in ${got.raw}`);
  assert.equal(body.text, '[HIGH] pg.role-password-change on cluster-ABCDEFGHIJKLMNOP: dropped by &lt;!channel&gt; at &lt;https://evil.example|click&gt;');
  assert.equal(body.unfurl_links, false);
  assert.equal(body.unfurl_media, false);
  for (const shown of ['&lt;!here&gt;', '&lt;@U123&gt;', '&lt;https://evil.example|click&gt;']) assert.ok(got.raw.includes(shown), `${shown} missing from ${got.raw}`);
});

test('webhook: JSON POST with configured headers; timeouts and refused connections are retryable, URL masked', async () => {
  const url = `${hook.url}/ingest?token=SUPERSECRET`;
  const sink = new WebhookSink('siem', { type: 'webhook', url, headers: { Authorization: 'Bearer tok-SECRET' }, timeoutMs: 300 });
  assert.deepEqual(await sink.send([makeAlert(70)]), [{ ok: true }]);
  const got = hook.received.at(-1)!;
  assert.equal(got.headers.authorization, 'Bearer tok-SECRET');
  assert.equal((got.body as { id: string }).id, makeAlert(70).id);
  hook.hangNext(1);
  const [slow] = await sink.send([makeAlert(71)]);
  assert.ok(slow && !slow.ok && slow.retryable && /no answer within 300 ms/.test(slow.error), JSON.stringify(slow));
  await hook.down();
  const [cut] = await sink.send([makeAlert(72)]); // a kept-alive socket closed by the server, or refused
  const [refused] = await sink.send([makeAlert(72)]);
  await hook.up();
  assert.ok(cut && !cut.ok && cut.retryable);
  assert.ok(refused && !refused.ok && refused.retryable && /ECONNREFUSED/.test(refused.error), JSON.stringify(refused));
  for (const r of [slow, refused]) assert.doesNotMatch(JSON.stringify(r), /SUPERSECRET|tok-SECRET/);
});

test('webhook and Slack: a redirect to another origin is a delivery failure naming the target; nothing reaches it', async (t) => {
  const other = await startWebhookServer();
  t.after(() => other.close());
  const webhook = new WebhookSink('siem', { type: 'webhook', url: `${hook.url}/ingest?token=SUPERSECRET`, headers: { Authorization: 'Bearer tok-SECRET' } });
  const slack = new SlackSink('slack', { type: 'slack', url: `${hook.url}/services/T000/B000/XXXXSECRET` });
  for (const [sink, status] of [[webhook, 307], [webhook, 308], [webhook, 302], [slack, 301], [slack, 303], [slack, 307]] as const) {
    const attempts = hook.attempts;
    hook.failNext(1, status, { location: `${other.url}/collect?key=abc` });
    const [r] = await sink.send([makeAlert(80)]);
    assert.ok(r && !r.ok, `${sink.name} ${status}: ${JSON.stringify(r)}`);
    assert.equal(r.retryable, false, 'a redirect is a configuration problem: retrying cannot help');
    assert.equal(r.error, `${sink.type} sink '${sink.name}': HTTP ${status} redirect to another origin, ${other.url}/collect: not followed (the headers and the alert would go there); set the sink's url to the address that should get them`);
    assert.doesNotMatch(r.error, /SUPERSECRET|tok-SECRET|XXXXSECRET|key=abc/);
    assert.equal(hook.attempts - attempts, 1);
  }
  assert.equal(other.attempts, 0, 'the other origin got no request: no headers, no body');
});

test('webhook: same-origin 307/308 redirects are followed with method, headers and body; 301/302/303 (POST turned into GET) are not', async () => {
  const sink = new WebhookSink('siem', { type: 'webhook', url: `${hook.url}/ingest?token=SUPERSECRET`, headers: { Authorization: 'Bearer tok-SECRET' } });
  hook.failNext(1, 307, { location: '/v2/ingest' });
  hook.failNext(1, 308, { location: `${hook.url}/v3/ingest` });
  assert.deepEqual(await sink.send([makeAlert(81)]), [{ ok: true }]);
  const got = hook.received.at(-1)!;
  assert.equal(got.path, '/v3/ingest');
  assert.equal(got.headers.authorization, 'Bearer tok-SECRET');
  assert.equal((got.body as { id: string }).id, makeAlert(81).id);

  for (const status of [301, 302, 303]) {
    const attempts = hook.attempts;
    hook.failNext(1, status, { location: '/elsewhere' });
    const [r] = await sink.send([makeAlert(82)]);
    assert.ok(r && !r.ok && !r.retryable, JSON.stringify(r));
    assert.equal(r.error, `webhook sink 'siem': HTTP ${status} redirect to ${hook.url}/elsewhere: not followed (the POST would become a GET and deliver nothing); set the sink's url to the new address`);
    assert.equal(hook.attempts - attempts, 1, 'the redirect is not followed');
  }

  const attempts = hook.attempts;
  hook.failNext(6, 307, { location: '/loop' });
  const [loop] = await sink.send([makeAlert(83)]);
  assert.ok(loop && !loop.ok && !loop.retryable, JSON.stringify(loop));
  assert.equal(loop.error, `webhook sink 'siem': more than 5 redirects (the last to ${hook.url}/loop): not followed`);
  assert.equal(hook.attempts - attempts, 6);
});
