/**
 * What `dasguard run` writes to stderr, as a log shipper reads it (stderr not a terminal): every line one JSON object
 * with level, time and msg, a delivery warning (a Slack webhook answering 500) and a quarantined record included, the
 * webhook URL never in it; --log-level warn keeps the warnings only; and the AWS SDK's Node version warning is not
 * printed by the installed command.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import { runCommand, type RunOptions } from '../../src/commands/run.js';
import { testRunOptions } from '../support/runOptions.js';
import { LocalKeyProvider } from '../../src/keys/LocalKeyProvider.js';
import { capturedIo, jsonLines } from '../support/cli.js';
import { startKmsServer, type KmsServer } from '../support/kmsServer.js';
import { startWebhookServer, type WebhookServer } from '../support/webhookServer.js';
import {
  KEY_FILE,
  RESOURCE_ID,
  createStream,
  encryptedRecords,
  everyEventRules,
  kinesisClient,
  loopbackEnv,
  putRecords,
  startKinesalite,
  tempDir,
  waitFor,
  type Kinesalite,
} from '../support/kinesis.js';

let kinesalite: Kinesalite;
let kms: KmsServer;
let slack: WebhookServer;
let client: KinesisClient;
let streamNo = 0;

before(async () => {
  kinesalite = await startKinesalite();
  kms = await startKmsServer({ keys: LocalKeyProvider.fromFile(KEY_FILE) });
  slack = await startWebhookServer();
  client = kinesisClient(kinesalite.url);
  Object.assign(process.env, loopbackEnv({ kinesis: kinesalite.url, kms: kms.url }));
});

after(async () => {
  client.destroy();
  await Promise.all([kinesalite.close(), kms.close(), slack.close()]);
});

/** A stream holding `n` good records and one that is not a DAS record (quarantined). */
async function streamWithPoison(n: number): Promise<string> {
  const name = `aws-rds-das-${RESOURCE_ID}-log${++streamNo}`;
  await createStream(client, name, 1);
  await putRecords(client, name, [...(await encryptedRecords(n, 1, 300 + streamNo)), new TextEncoder().encode('not a DAS record')], { spread: 1 });
  return name;
}

function runOptions(stream: string, extra: Partial<RunOptions> = {}): RunOptions {
  return testRunOptions({ stream, resourceId: RESOURCE_ID, rules: [everyEventRules()], statusIntervalMs: 100, silenceMs: 0, ...extra });
}

describe('run: stderr not a terminal', () => {
  test('every line is one JSON object with level, time and msg: a failing Slack sink and a quarantined record included', async () => {
    const stream = await streamWithPoison(3);
    const hook = `${slack.url}/services/T000/B000/LOGSECRET`;
    // two failures, then it recovers: run's drain at exit has nothing left to wait for
    slack.failNext(2, 500, {}, 'server_error');
    const c = capturedIo({ ...process.env, NO_COLOR: '1' });
    const ac = new AbortController();
    const code = runCommand(runOptions(stream, { delivery: { slackWebhookUrl: hook, outboxDir: tempDir('dasguard-log-outbox-') } }), c.io, { signal: ac.signal });
    const sinkFailing = (l: Record<string, unknown>) => l.component === 'delivery' && l.sink === 'cli-slack' && /retrying/.test(String(l.msg));
    await waitFor(() => jsonLines(c.stderr()).some(sinkFailing), 'the Slack failure logged');
    await waitFor(() => jsonLines(c.stderr()).some((l) => l.msg === 'quarantined'), 'the quarantined record logged');
    // a status line comes every statusIntervalMs: waited for, not raced (the run can be done with the rest before one)
    await waitFor(() => jsonLines(c.stderr()).some((l) => l.msg === 'status'), 'a status line logged');
    ac.abort();
    assert.equal(await code, 0);

    const lines = c.stderr().split('\n').filter((l) => l !== '');
    for (const line of lines) {
      const entry = JSON.parse(line) as Record<string, unknown>;
      assert.ok(['debug', 'info', 'warn', 'error'].includes(String(entry.level)), line);
      assert.match(String(entry.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, line);
      assert.equal(typeof entry.msg, 'string', line);
    }
    const logs = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    // the delivery warning: real fields, not a line of text
    const failing = logs.find(sinkFailing)!;
    assert.equal(failing.level, 'warn');
    assert.equal(typeof failing.attempt, 'number');
    assert.match(String(failing.error), /500/);
    assert.equal(logs.find((l) => l.msg === 'quarantined')?.level, 'warn');
    assert.ok(logs.some((l) => l.msg === 'status') && logs.some((l) => l.msg === 'stopped'));
    assert.ok(logs.some((l) => /^delivery: \d+ deliveries done/.test(String(l.msg))), 'the delivery summary is a log line too');
    // the webhook URL is a secret: masked in every field
    assert.doesNotMatch(c.stderr(), /LOGSECRET|T000/);
  });

  test('--log-level warn: no info line, the warnings still there', async () => {
    const stream = await streamWithPoison(2);
    const c = capturedIo({ ...process.env, NO_COLOR: '1' });
    const ac = new AbortController();
    const code = runCommand(runOptions(stream, { logLevel: 'warn' }), c.io, { signal: ac.signal });
    await waitFor(() => jsonLines(c.stdout()).length >= 2 && jsonLines(c.stderr()).some((l) => l.msg === 'quarantined'), 'the alerts and the quarantined record');
    ac.abort();
    assert.equal(await code, 0);
    const logs = jsonLines(c.stderr());
    assert.deepEqual(logs.filter((l) => l.level === 'info' || l.level === 'debug'), [], c.stderr());
    assert.ok(logs.some((l) => l.level === 'warn' && l.msg === 'quarantined'));
  });
});

describe('the AWS SDK Node version warning', () => {
  // The SDK prints it on Node < 22 at the first client use; the installed command makes an RDS client here.
  const node = Number.parseInt(process.versions.node, 10);
  const status = (env: NodeJS.ProcessEnv) =>
    promisify(execFile)(process.execPath, ['bin/dasguard.js', 'status', '--cluster', 'x'], {
      env: { ...process.env, AWS_REGION: 'eu-west-1', AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'y', AWS_ENDPOINT_URL_RDS: 'http://127.0.0.1:9', ...env },
    }).then(
      () => assert.fail('status of an unreachable RDS succeeded'),
      // status says UNKNOWN (exit 3) on stdout, with the RDS failure; the SDK would warn on stderr
      (err: { stdout: string; stderr: string }) => ({ stdout: err.stdout, stderr: err.stderr }),
    );

  test('not printed by the installed command', async () => {
    const { stdout, stderr } = await status({ AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: undefined });
    assert.match(stdout + stderr, /DescribeDBClusters/, 'an RDS client was used');
    assert.doesNotMatch(stderr, /NodeVersionSupportWarning/);
  });

  test('a user who set the SDK variable keeps what it says', { skip: node >= 22 ? 'the SDK warns on Node < 22 only' : false }, async () => {
    const { stderr } = await status({ AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'false' });
    assert.match(stderr, /NodeVersionSupportWarning/);
  });
});
