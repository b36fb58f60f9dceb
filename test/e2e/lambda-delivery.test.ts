/**
 * The Lambda handler delivering alerts (dasguard.yaml / DASGUARD_SNS_TOPIC_ARN / DASGUARD_SLACK_WEBHOOK_URL)
 * through the real delivery module, to the loopback SNS (real SNSClient via AWS_ENDPOINT_URL_SNS) and the
 * loopback webhook receiver: delivered before the handler returns, or the records reported for retry.
 */
import { kinesisRecord } from '../support/lambdaEvent.js';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, afterEach, before, describe, it } from 'node:test';
import { shortcutConfig } from '../../src/delivery/config.js';
import { DeliveryHandoff } from '../../src/delivery/DeliveryHandoff.js';
import { ConfigError } from '../../src/errors.js';
import { LocalKeyProvider } from '../../src/keys/LocalKeyProvider.js';
import { createEnvHandler, createHandler, type EnvHandler, type KinesisStreamRecord, type LambdaContext } from '../../src/lambda.js';
import type { Alert } from '../../src/pipeline/alert.js';
import { loadRules } from '../../src/rules/index.js';
import { PG } from '../../scripts/sampleData.js';
import { makeAlert } from '../support/alerts.js';
import { jsonLines } from '../support/cli.js';
import { checkEmf } from '../support/emf.js';
import { LOOPBACK_AWS_ENV } from '../support/env.js';
import { startSnsServer, type SnsServer } from '../support/snsServer.js';
import { startWebhookServer, type WebhookServer } from '../support/webhookServer.js';
import { secretArn, startSecretsServer, type SecretsServer } from '../support/secretsServer.js';

const keys = LocalKeyProvider.fromFile('samples/demo-master-key.json');
const PG_STREAM = `samples/streams/aws-rds-das-${PG.clusterId}.jsonl`;
const TOPIC = 'arn:aws:sns:us-east-1:111122223333:dasguard-alerts';
const FIFO_TOPIC = 'arn:aws:sns:us-east-1:111122223333:dasguard-alerts.fifo';

let sns: SnsServer;
let hook: WebhookServer;
let work: string;
const savedEnv: Record<string, string | undefined> = {};
const handlers: EnvHandler[] = [];

interface StreamLine {
  StreamName: string;
  ShardId: string;
  SequenceNumber: string;
  PartitionKey: string;
  Data: string;
}

async function pgRecords(): Promise<KinesisStreamRecord[]> {
  const lines = jsonLines(await readFile(PG_STREAM, 'utf8')) as unknown as StreamLine[];
  return lines.map((l) => kinesisRecord(l.StreamName, l.ShardId, l.SequenceNumber, l.Data, { partitionKey: l.PartitionKey }));
}

/** A record that is not a DAS envelope: quarantined, never retried. */
function poisonRecord(like: KinesisStreamRecord): KinesisStreamRecord {
  const stream = like.eventSourceARN.split('/')[1]!;
  return kinesisRecord(stream, 'shardId-000000000000', '49630000000000000000000000000000000000000000000000000001', Buffer.from('{"type": not json').toString('base64'));
}

/** The alerts the records produce (the handler without delivery), and the sequence numbers that produce them. */
async function expectedAlerts(records: KinesisStreamRecord[]): Promise<{ alerts: Alert[]; sequences: string[] }> {
  const { ruleSet } = await loadRules(['rules']);
  assert.ok(ruleSet);
  const alerts: Alert[] = [];
  const h = createHandler({ rules: ruleSet, keys, handoff: { handOff: async (a) => void alerts.push(...a), close: async () => undefined }, log: () => undefined });
  assert.deepEqual(await h({ Records: records }), { batchItemFailures: [] });
  const sequences = records.map((r) => r.kinesis.sequenceNumber).filter((seq) => alerts.some((a) => a.source.endsWith(` sequence ${seq}`)));
  assert.ok(alerts.length > 0 && sequences.length > 1);
  return { alerts, sequences };
}

function lineStream(): { stream: PassThrough; lines: () => Record<string, unknown>[]; text: () => string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  const text = () => Buffer.concat(chunks).toString('utf8');
  return { stream, lines: () => jsonLines(text()), text };
}

function context(remainingMs: number): LambdaContext {
  return { awsRequestId: 'req-1', getRemainingTimeInMillis: () => remainingMs };
}

/** An env handler that the suite closes afterwards (its outbox and dispatcher live as long as the container). */
function envHandler(env: NodeJS.ProcessEnv, out = lineStream(), logOut = lineStream()) {
  env.DASGUARD_RULES ??= 'rules';
  // The same object: a test may change the environment between invocations (a redeployment's settings).
  const h = createEnvHandler({ env, keys, stdout: out.stream, logOut: logOut.stream });
  handlers.push(h);
  return { h, out, logOut };
}

/** Alert ids the loopback SNS accepted since `from`. */
function snsIds(server: SnsServer, from = 0): string[] {
  return server.messages.slice(from).map((m) => (JSON.parse(m.message) as { id: string }).id);
}

async function outboxBatches(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((f) => f.startsWith('batch-'));
}

/** Puts back every variable setEnv changed, as it was before the suite. */
function restoreEnv(): void {
  for (const [k, v] of Object.entries(savedEnv)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
}

function setEnv(vars: Record<string, string | undefined>): void {
  for (const [k, v] of Object.entries(vars)) {
    if (!(k in savedEnv)) savedEnv[k] = process.env[k];
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
}

describe('Lambda handler: alert delivery', () => {
  before(async () => {
    sns = await startSnsServer();
    hook = await startWebhookServer();
    work = await mkdtemp(join(tmpdir(), 'dasguard-lambda-delivery-'));
    setEnv({
      AWS_ENDPOINT_URL_SNS: sns.url,
      ...LOOPBACK_AWS_ENV,
    });
  });
  afterEach(async () => {
    for (const h of handlers.splice(0)) await h.close(0);
  });
  after(async () => {
    restoreEnv();
    await sns.close();
    await hook.close();
    await rm(work, { recursive: true, force: true });
  });

  it("delivers a batch's alerts to SNS and Slack before the handler returns (dasguard.yaml with ${ENV})", async () => {
    const records = await pgRecords();
    const { alerts } = await expectedAlerts(records);
    const config = join(work, 'dasguard.yaml');
    await writeFile(
      config,
      [
        'sinks:',
        `  alerts: {type: sns, topicArn: ${TOPIC}}`,
        '  team: {type: slack, url: "${SLACK_URL}"}',
        'routes:',
        '  - {name: everything, sinks: [alerts, team], default: true}',
        '',
      ].join('\n'),
    );
    const outbox = join(work, 'outbox-1');
    const { h, out, logOut } = envHandler({ DASGUARD_CONFIG: config, DASGUARD_OUTBOX_DIR: outbox, SLACK_URL: `${hook.url}/services/T000/B000/SLACKSECRET` });
    const snsBefore = sns.messages.length;
    const hookBefore = hook.received.length;

    assert.deepEqual(await h({ Records: records }, context(30_000)), { batchItemFailures: [] });

    // Checked as soon as the handler returned: Lambda may freeze the process from here on.
    assert.deepEqual(snsIds(sns, snsBefore).sort(), alerts.map((a) => a.id).sort());
    const slack = hook.received.slice(hookBefore);
    assert.equal(slack.length, alerts.length);
    for (const a of alerts) assert.ok(slack.some((r) => r.raw.includes(a.id)), `alert ${a.id} missing at Slack`);
    assert.ok(slack.every((r) => r.path === '/services/T000/B000/SLACKSECRET'));
    assert.deepEqual(await outboxBatches(outbox), []);
    assert.equal(out.text(), '', 'alerts go to the sinks, not to stdout');

    const init = logOut.lines().find((l) => l.msg === 'init')!;
    assert.deepEqual((init.delivery as { sinks: string[] }).sinks, ['alerts', 'team']);
    assert.equal((init.delivery as { outboxDir: string }).outboxDir, outbox);
    const summary = logOut.lines().find((l) => l.msg === 'batch')!;
    assert.equal(summary.alerts, alerts.length);
    assert.equal(summary.deliveries, 2 * alerts.length);
    assert.equal(summary.undeliveredRecords, 0);
    assert.equal(summary.outboxPending, 0);
    // The summary is the invocation's EMF document: the delivery counts are metrics too.
    const emf = checkEmf(summary).values;
    assert.equal(emf.deliveries, 2 * alerts.length);
    assert.equal(emf.deliveryRetries, 0);
    assert.equal(emf.deadLettered, 0);
    assert.equal(emf.outboxPending, 0);
    assert.doesNotMatch(logOut.text(), /SLACKSECRET/);
  });

  it('SNS down for the whole invocation: the records with undelivered alerts are reported; the retry delivers them, same ids', async () => {
    const records = await pgRecords();
    const { alerts, sequences } = await expectedAlerts(records);
    const batch = [poisonRecord(records[0]!), ...records];
    const outbox = join(work, 'outbox-2');
    const { h, logOut } = envHandler({ DASGUARD_SNS_TOPIC_ARN: FIFO_TOPIC, DASGUARD_OUTBOX_DIR: outbox });
    const snsBefore = sns.messages.length;

    await sns.down();
    let first;
    let arrivedWhileDown: number;
    try {
      // 1.5 s left before the timeout, 1 s kept as margin: deliveries get 0.5 s.
      first = await h({ Records: batch }, context(1_500));
      arrivedWhileDown = snsIds(sns, snsBefore).length;
    } finally {
      await sns.up();
    }
    assert.deepEqual(first, { batchItemFailures: sequences.map((itemIdentifier) => ({ itemIdentifier })) });
    assert.ok(!first.batchItemFailures.some((f) => f.itemIdentifier === batch[0]!.kinesis.sequenceNumber), 'the poison record is not retried');
    assert.equal(arrivedWhileDown, 0);
    const logs = logOut.lines();
    assert.equal(logs.find((l) => l.msg === 'quarantined')?.sequenceNumber, batch[0]!.kinesis.sequenceNumber);
    const failure = logs.find((l) => l.msg === 'alerts not delivered: records reported for retry')!;
    assert.equal(failure.level, 'error');
    assert.equal(failure.firstSequenceNumber, sequences[0]);
    assert.equal(failure.records, sequences.length);
    assert.equal(failure.deadlineMs, 500);
    const summary = logs.find((l) => l.msg === 'batch')!;
    assert.equal(summary.failed, sequences.length);
    assert.equal(summary.quarantinedRecords, 1);
    assert.equal(checkEmf(summary).values.undeliveredRecords, sequences.length);
    assert.ok((summary.outboxPending as number) >= alerts.length, 'the alerts stay in the outbox');

    // Lambda retries from the lowest reported sequence number, on the same container.
    const retry = batch.slice(batch.findIndex((r) => r.kinesis.sequenceNumber === sequences[0]));
    assert.deepEqual(await h({ Records: retry }, context(30_000)), { batchItemFailures: [] });
    const ids = alerts.map((a) => a.id).sort();
    // The retry delivers every alert again, a correlation's (brute-force...) included: the container's correlation
    // state counted its events once, and the event that completed it gives the same firing, so the same alert, again.
    const delivered = new Set(snsIds(sns, snsBefore));
    assert.ok(alerts.some((a) => (a.event as { correlation?: unknown }).correlation !== undefined), 'the sample fires correlations');
    assert.deepEqual(ids.filter((id) => !delivered.has(id)), [], 'every alert delivered when the retry returns');

    // The first invocation's copies, still queued, go out too: same ids, so the FIFO topic drops them.
    await handlers.pop()!.close(30_000);
    assert.deepEqual(snsIds(sns, snsBefore).sort(), ids, 'each alert exactly once at the FIFO topic');
    assert.deepEqual(sns.messages.slice(snsBefore).map((m) => m.dedupId).sort(), ids);
    assert.deepEqual(await outboxBatches(outbox), []);
  });

  it('alerts dead-lettered (sns:Publish denied) are reported for retry: /tmp does not outlive the container', async () => {
    const denied = await startSnsServer();
    const records = await pgRecords();
    const { sequences } = await expectedAlerts(records);
    denied.failNext(1000, 'AuthorizationError', 403);
    setEnv({ AWS_ENDPOINT_URL_SNS: denied.url });
    try {
      const { h, out, logOut } = envHandler({ DASGUARD_SNS_TOPIC_ARN: TOPIC, DASGUARD_OUTBOX_DIR: join(work, 'outbox-3') });
      const res = await h({ Records: records }, context(30_000));
      assert.deepEqual(res, { batchItemFailures: sequences.map((itemIdentifier) => ({ itemIdentifier })) });
      const logs = logOut.lines();
      const failure = logs.find((l) => l.msg === 'alerts not delivered: records reported for retry')!;
      assert.equal(failure.deadLettered, sequences.length);
      assert.equal(failure.pendingAtDeadline, 0);
      // Delivery's log lines are JSON log lines with their fields, not text turned into JSON.
      const retrying = logs.find((l) => l.component === 'delivery' && l.level === 'warn' && /retrying/.test(String(l.msg)))!;
      assert.ok(retrying, 'the sink error is logged');
      assert.equal(retrying.sink, 'cli-sns');
      assert.match(String(retrying.error), /AuthorizationError/);
      assert.equal(typeof retrying.attempt, 'number');
      const dead = logs.find((l) => l.component === 'delivery' && l.level === 'error' && l.deadLetters !== undefined)!;
      assert.ok(dead, 'the dead letter is logged');
      assert.equal(dead.sink, 'cli-sns');
      // the delivery-failure alert (no fallbackSink): a JSON Lines alert on stdout, beside the others
      assert.ok(out.lines().some((a) => a.ruleId === 'dasguard.delivery-failed'), 'the fallback alert is on stdout');
      assert.equal(denied.messages.length, 0);
    } finally {
      setEnv({ AWS_ENDPOINT_URL_SNS: sns.url });
      await denied.close();
    }
  });

  it('deliveries left in the outbox (a runtime restart on the same /tmp) are delivered by the first invocation', async () => {
    const outbox = join(work, 'outbox-4');
    const leftover = [makeAlert(1), makeAlert(2), makeAlert(3)];
    await sns.down();
    try {
      const earlier = await DeliveryHandoff.open(shortcutConfig({ snsTopicArn: TOPIC }), { outboxDir: outbox, stderr: new PassThrough() });
      await earlier.handOff(leftover);
      await earlier.close(0);
    } finally {
      await sns.up();
    }
    assert.equal((await outboxBatches(outbox)).length, 1);
    const snsBefore = sns.messages.length;
    const { h, logOut } = envHandler({ DASGUARD_SNS_TOPIC_ARN: TOPIC, DASGUARD_OUTBOX_DIR: outbox });
    assert.deepEqual(await h({ Records: [] }, context(30_000)), { batchItemFailures: [] });
    assert.deepEqual(snsIds(sns, snsBefore).sort(), leftover.map((a) => a.id).sort());
    assert.deepEqual(await outboxBatches(outbox), []);
    assert.equal((logOut.lines().find((l) => l.msg === 'init')!.delivery as { resumed: number }).resumed, 3);
  });

  it('invalid delivery settings: the first invocation throws with every problem; fixed settings load on the next one', async () => {
    const config = join(work, 'bad.yaml');
    await writeFile(
      config,
      [
        'sinks:',
        `  alerts: {type: sns, topicArn: ${TOPIC}}`,
        '  hook: {type: webhook, url: "${DASGUARD_TEST_UNSET_URL}"}',
        'routes:',
        '  - {name: all, sinks: [alerts], severity: urgent}',
        '',
      ].join('\n'),
    );
    const outbox = join(work, 'outbox-5');
    const env: NodeJS.ProcessEnv = {
      DASGUARD_CONFIG: config,
      DASGUARD_SNS_TOPIC_ARN: 'dasguard-alerts',
      DASGUARD_SLACK_WEBHOOK_URL: 'hooks.slack.com/services/T/B/X',
      DASGUARD_OUTBOX_DIR: outbox,
    };
    const { h, logOut } = envHandler(env);
    await assert.rejects(h({ Records: [] }, context(30_000)), (err: unknown) => {
      assert.ok(err instanceof ConfigError, String(err));
      assert.match(err.message, /bad\.yaml:3: .*DASGUARD_TEST_UNSET_URL is not set/);
      assert.match(err.message, /bad\.yaml:5: .*"urgent" is not one of/);
      assert.match(err.message, /DASGUARD_SNS_TOPIC_ARN: expected an SNS topic ARN/);
      assert.match(err.message, /DASGUARD_SLACK_WEBHOOK_URL: expected an http\(s\) URL/);
      return true;
    });
    assert.equal(logOut.lines().find((l) => l.msg === 'invalid delivery config')?.level, 'error');
    assert.ok(!existsSync(outbox), 'nothing is opened before the settings are valid');

    await writeFile(config, `sinks:\n  alerts: {type: sns, topicArn: ${TOPIC}}\nroutes:\n  - {name: all, sinks: [alerts]}\n`);
    env.DASGUARD_SNS_TOPIC_ARN = TOPIC;
    delete env.DASGUARD_SLACK_WEBHOOK_URL;
    assert.deepEqual(await h({ Records: [] }, context(30_000)), { batchItemFailures: [] });
    const init = logOut.lines().find((l) => l.msg === 'init')!;
    assert.deepEqual((init.delivery as { sinks: string[] }).sinks, ['alerts', 'cli-sns']);
  });

  it('a rules pattern in dasguard.yaml that matches no loaded rule: the invocation fails naming it, nothing opened', async () => {
    const config = join(work, 'typo.yaml');
    await writeFile(config, `sinks:\n  alerts: {type: sns, topicArn: ${TOPIC}}\nroutes:\n  - {name: ddl, rules: [ddl-by-privileged-usr], sinks: [alerts]}\n  - {name: health, rules: ['das-*'], sinks: [alerts]}\n`);
    const outbox = join(work, 'outbox-typo');
    const { h } = envHandler({ DASGUARD_CONFIG: config, DASGUARD_OUTBOX_DIR: outbox });
    await assert.rejects(h({ Records: [] }, context(30_000)), (err: unknown) => {
      assert.ok(err instanceof ConfigError, String(err));
      assert.match(err.message, /typo\.yaml:4: route 'ddl': rules pattern 'ddl-by-privileged-usr' matches no loaded rule and no built-in alert \(did you mean 'ddl-by-privileged-user'\?\)/);
      assert.doesNotMatch(err.message, /das-\*/);
      return true;
    });
    assert.ok(!existsSync(outbox));
  });

  it('without delivery settings nothing changes: alerts on stdout, no outbox', async () => {
    const records = await pgRecords();
    const { alerts } = await expectedAlerts(records);
    const outbox = join(work, 'outbox-6');
    const { h, out, logOut } = envHandler({ DASGUARD_OUTBOX_DIR: outbox });
    assert.deepEqual(await h({ Records: records }, context(30_000)), { batchItemFailures: [] });
    assert.deepEqual(out.lines().map((a) => a.id), alerts.map((a) => a.id));
    assert.ok(!existsSync(outbox));
    assert.equal(logOut.lines().find((l) => l.msg === 'batch')!.deliveries, undefined);
  });
});

describe('Lambda handler: the Slack webhook from Secrets Manager (DASGUARD_SLACK_WEBHOOK_SECRET)', () => {
  let secrets: SecretsServer;
  before(async () => {
    sns = await startSnsServer();
    hook = await startWebhookServer();
    work = await mkdtemp(join(tmpdir(), 'dasguard-lambda-secret-'));
    secrets = await startSecretsServer({
      'dasguard/slack': `${hook.url}/services/T000/B000/SECRETTOKEN`,
      // the console's key/value form
      'dasguard/slack-kv': JSON.stringify({ url: `${hook.url}/services/T000/B000/KVTOKEN` }),
      'dasguard/not-a-url': 'SECRETTOKEN-without-scheme',
    });
    setEnv({
      AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.url,
      ...LOOPBACK_AWS_ENV,
    });
  });
  afterEach(async () => {
    for (const h of handlers.splice(0)) await h.close(0);
    secrets.deny(false);
  });
  after(async () => {
    restoreEnv();
    await Promise.all([sns.close(), hook.close(), secrets.close()]);
    await rm(work, { recursive: true, force: true });
  });

  it('read once at init (by ARN, or by name in key/value form): every alert reaches that webhook, and the URL is in no log line', async () => {
    const records = await pgRecords();
    const { alerts } = await expectedAlerts(records);
    for (const [i, [id, token]] of [
      [secretArn('dasguard/slack'), 'SECRETTOKEN'],
      ['dasguard/slack-kv', 'KVTOKEN'],
    ].entries()) {
      const asked = secrets.requests.length;
      const hookBefore = hook.received.length;
      const { h, out, logOut } = envHandler({ DASGUARD_SLACK_WEBHOOK_SECRET: id, DASGUARD_OUTBOX_DIR: join(work, `outbox-${i}`) });
      assert.deepEqual(await h({ Records: records }, context(30_000)), { batchItemFailures: [] });
      assert.deepEqual(await h({ Records: [] }, context(30_000)), { batchItemFailures: [] });
      assert.deepEqual(secrets.requests.slice(asked), [id], 'one GetSecretValue for the container, not one per invocation');
      const slack = hook.received.slice(hookBefore);
      assert.deepEqual(slack.map((r) => alerts.find((a) => r.raw.includes(a.id))?.id).sort(), alerts.map((a) => a.id).sort());
      assert.ok(slack.every((r) => r.path === `/services/T000/B000/${token}`));
      assert.deepEqual((logOut.lines().find((l) => l.msg === 'init')!.delivery as { sinks: string[] }).sinks, ['cli-slack']);
      assert.doesNotMatch(logOut.text() + out.text(), new RegExp(token!));
    }
  });

  it('a missing secret, a refused one, one that is not a URL, or both variables: the invocation fails naming the variable, the value never shown', async () => {
    const fails = async (env: NodeJS.ProcessEnv, pattern: RegExp) => {
      const { h, logOut } = envHandler({ ...env, DASGUARD_OUTBOX_DIR: join(work, 'outbox-bad') });
      await assert.rejects(h({ Records: [] }, context(30_000)), (err: unknown) => {
        assert.ok(err instanceof ConfigError, String(err));
        assert.match(err.message, pattern);
        assert.doesNotMatch(err.message, /SECRETTOKEN/);
        return true;
      });
      assert.doesNotMatch(logOut.text(), /SECRETTOKEN/);
      assert.ok(!existsSync(join(work, 'outbox-bad')), 'nothing opened');
    };
    await fails({ DASGUARD_SLACK_WEBHOOK_SECRET: 'dasguard/nope' }, /DASGUARD_SLACK_WEBHOOK_SECRET: Secrets Manager GetSecretValue of dasguard\/nope failed \(ResourceNotFoundException/);
    await fails({ DASGUARD_SLACK_WEBHOOK_SECRET: 'dasguard/not-a-url' }, /DASGUARD_SLACK_WEBHOOK_SECRET: the secret dasguard\/not-a-url is not a webhook URL: expected an http\(s\) URL/);
    await fails(
      { DASGUARD_SLACK_WEBHOOK_SECRET: 'dasguard/slack', DASGUARD_SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T/B/SECRETTOKEN' },
      /DASGUARD_SLACK_WEBHOOK_SECRET: set with DASGUARD_SLACK_WEBHOOK_URL/,
    );
    secrets.deny(true);
    await fails({ DASGUARD_SLACK_WEBHOOK_SECRET: 'dasguard/slack' }, /GetSecretValue of dasguard\/slack failed \(AccessDeniedException.*secretsmanager:GetSecretValue permission/);
  });
});
