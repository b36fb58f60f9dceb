/**
 * One redaction policy for every output: events carrying a known secret in every field that can hold one
 * (statement literals and comments, MySQL executable comments, bind values, server messages, Oracle and SQL Server
 * native audit fields, an Oracle password written as an identifier), pushed through every output a user or an
 * auditor reads: replay text and JSON Lines, decode, every sink (console, file, SNS, Slack, webhook), the outbox
 * and its dead-letter file, `run`'s stdout and log lines, and the Lambda handler's output and log lines. Under
 * `literals` no secret appears anywhere; under `full` no statement text, bind value or server message text at all.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import { runCommand } from '../../src/commands/run.js';
import { createEnvHandler, type KinesisStreamEvent } from '../../src/lambda.js';
import { capturedIo, runCli } from '../support/cli.js';
import { createStream, kinesisClient, loopbackEnv, putRecords, startKinesalite, waitFor, type Kinesalite } from '../support/kinesis.js';
import { startSnsServer, type SnsServer } from '../support/snsServer.js';
import { startWebhookServer, type WebhookServer } from '../support/webhookServer.js';
import { withEnv } from '../support/env.js';

/** Every secret, by the field that carries it. */
const SECRETS = {
  pgLiteral: '4111111111111111',
  pgComment: 'cmt7f3aHunter2',
  pgLineComment: 'tok9b1cLine',
  pgBind: 'bind91c2Secret',
  pgError: 'err5d0eSecret',
  myDuplicate: '5500000000000004',
  myExecLiteral: 'exec4f1bSecret',
  myHash: 'hash0a0bComment',
  oraPassword: 'OraPw8812x',
  oraQuotedPassword: 'OraQuoted77x',
  oraBind: 'orabind3c4d',
  oraInfo: 'orainfo2e9a',
  msLiteral: 'msstmt66aa',
  msInfo: 'msinfo77bb',
  /** Never in a template: only in a line that is not JSON (quarantined; its message must not quote it). */
  broken: 'broken9a9aSecret',
} as const;

/** Words that exist only in statement text, bind values or server messages: under `full` they must vanish too. */
const FULL_MARKERS = ['vault_q9', 'SET pan', 'SET note', 'VALUES', 'IDENTIFIED BY', 'syntax for type integer', 'Duplicate entry', '#1('] as const;

const CLUSTER = 'cluster-LEAKTESTLEAKTESTLEAKTEST00';
const STREAM = `aws-rds-das-${CLUSTER}`;

const COMMON = { type: 'record', dbUserName: 'leak_tester', databaseName: 'vaultdb', remoteHost: '10.0.0.9', objectName: 'cards', logTime: '2026-10-14 09:00:00.100000+00' };

function envelope(version: string, events: Record<string, unknown>[]): Record<string, unknown> {
  return {
    type: 'DatabaseActivityMonitoringRecords',
    version,
    databaseActivityEvents: { type: 'DatabaseActivityMonitoringRecord', clusterId: CLUSTER, instanceId: 'db-LEAKTESTINSTANCE0000000000', databaseActivityEventList: events },
    key: '',
  };
}

const S = SECRETS;
const RECORDS: Record<string, unknown>[] = [
  envelope('1.1', [
    {
      ...COMMON,
      statementId: 1,
      class: 'WRITE',
      command: 'UPDATE',
      serverType: 'PostgreSQL',
      commandText: `UPDATE vault_q9 SET pan = '${S.pgLiteral}' WHERE id = $1 /* pan ${S.pgComment} password=x */ -- ${S.pgLineComment}`,
      paramList: [S.pgBind, null],
      errorMessage: `invalid input syntax for type integer: "${S.pgError}"`,
    },
  ]),
  envelope('1.2', [
    {
      ...COMMON,
      statementId: 2,
      class: 'MAIN',
      command: 'QUERY',
      serverType: 'MySQL',
      serverVersion: 'MySQL 8.0.32',
      commandText: `INSERT INTO vault_q9 VALUES ('${S.myDuplicate}') /*!50000 , ('${S.myExecLiteral}') */ # ${S.myHash}`,
      errorMessage: `Duplicate entry '${S.myDuplicate}' for key 'vault_q9.PRIMARY'`,
    },
  ]),
  envelope('1.3', [
    {
      ...COMMON,
      statementId: 3,
      class: 'Standard',
      command: 'ALTER USER',
      serverType: 'ORACLE',
      commandText: `ALTER USER vault_q9 IDENTIFIED BY "${S.oraQuotedPassword}"`,
      engineNativeAuditFields: {
        SQL_TEXT: `ALTER USER vault_q9 IDENTIFIED BY ${S.oraPassword}`,
        SQL_BINDS: ` #1(11):${S.oraBind}`,
        ADDITIONAL_INFO: `set by app: ${S.oraInfo}`,
        OS_USERNAME: 'oracle',
      },
    },
  ]),
  envelope('1.4', [
    {
      ...COMMON,
      statementId: '0x1A',
      class: 'SCHEMA_OBJECT_ACCESS_GROUP',
      command: 'UPDATE',
      serverType: 'SQLSERVER',
      commandText: `UPDATE vault_q9 SET note = N'${S.msLiteral}'`,
      engineNativeAuditFields: { statement: `UPDATE vault_q9 SET note = N'${S.msLiteral}'`, additional_information: `<info>${S.msInfo}</info>`, server_principal_name: 'sa' },
    },
  ]),
];

const RULES = `rules:
  - id: leak-probe
    description: Fires on the leak test's events.
    severity: high
    tags: [leak-test]
    when: {dbUserName: leak_tester}
    message: 'sql={{commandText}} binds={{paramList}} err={{errorMessage}} native={{engineNativeAuditFields}} nsql={{engineNativeAuditFields.SQL_TEXT}} raw={{commandText|raw}}'
`;

interface Output {
  name: string;
  text: string;
}

/** Asserts no secret (and under `full`, no marker) in any output; and that the outputs saw the alerts at all. */
function assertClean(outputs: Output[], mode: 'literals' | 'full'): void {
  for (const o of outputs) {
    for (const [field, secret] of Object.entries(SECRETS)) {
      assert.ok(!o.text.includes(secret), `${mode}: ${o.name} leaks the ${field} secret ${secret}:\n${o.text.slice(0, 3000)}`);
    }
    if (mode === 'full') {
      for (const m of FULL_MARKERS) assert.ok(!o.text.includes(m), `full: ${o.name} shows statement or message text (${m}):\n${o.text.slice(0, 3000)}`);
    }
  }
}

let dir: string;
let input: string;
let rules: string;
let sns: SnsServer;
let slack: WebhookServer;
let hook: WebhookServer;
let rejecting: WebhookServer;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dasguard-leaks-'));
  input = join(dir, `${STREAM}.jsonl`);
  const broken = `{"type": "DatabaseActivityMonitoringRecords", "note": "${S.broken}" oops`;
  await writeFile(input, [...RECORDS.map((r) => JSON.stringify(r)), broken].join('\n') + '\n');
  rules = join(dir, 'leak-rules.yaml');
  await writeFile(rules, RULES);
  [sns, slack, hook, rejecting] = await Promise.all([startSnsServer(), startWebhookServer(), startWebhookServer(), startWebhookServer()]);
});

after(async () => {
  await Promise.all([sns.close(), slack.close(), hook.close(), rejecting.close()]);
});

async function filesUnder(d: string): Promise<Output[]> {
  const out: Output[] = [];
  for (const e of await readdir(d, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) {
      const p = join(e.parentPath ?? (e as unknown as { path: string }).path, e.name);
      out.push({ name: p, text: await readFile(p, 'utf8') });
    }
  }
  return out;
}

describe('no secret reaches any output', () => {
  for (const mode of ['literals', 'full'] as const) {
    test(`replay (text, jsonl), decode: ${mode}`, async () => {
      const outputs: Output[] = [];
      let alerts = 0;
      for (const output of ['text', 'jsonl']) {
        const r = await runCli(['replay', input, '--rules', rules, '--output', output, '--redaction', mode]);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stderr, /1 quarantined/);
        alerts += r.stdout.split('\n').filter((l) => l.includes('leak-probe')).length;
        outputs.push({ name: `replay --output ${output} stdout`, text: r.stdout }, { name: `replay --output ${output} stderr`, text: r.stderr });
      }
      assert.equal(alerts, 8, 'every event fired the probe rule, in both formats');
      const d = await runCli(['decode', input, '--redaction', mode]);
      assert.equal(d.code, 0, d.stderr);
      assert.equal(d.stdout.trim().split('\n').length, 4);
      outputs.push({ name: 'decode stdout', text: d.stdout }, { name: 'decode stderr', text: d.stderr });
      assertClean(outputs, mode);
      if (mode === 'literals') {
        // masked, not dropped: the statement is still there for the auditor
        assert.ok(outputs[1]!.text.length > 0 && outputs[0]!.text.includes('UPDATE vault_q9 SET pan = ?'), outputs[0]!.text);
        assert.ok(outputs[0]!.text.includes('IDENTIFIED BY ?'));
      }
    });

    test(`every sink, the outbox and the dead-letter file: route redaction ${mode}`, async () => {
      const outbox = join(dir, `outbox-${mode}`);
      const fileSink = join(dir, `alerts-${mode}.jsonl`);
      const config = join(dir, `dasguard-${mode}.yaml`);
      await writeFile(
        config,
        `version: 1
sinks:
  out: {type: console, stream: stdout, format: jsonl}
  err: {type: console, stream: stderr, format: text}
  file: {type: file, path: ${JSON.stringify(fileSink)}}
  sns: {type: sns, topicArn: 'arn:aws:sns:us-east-1:111122223333:leaks', endpoint: ${JSON.stringify(sns.url)}}
  slack: {type: slack, url: ${JSON.stringify(`${slack.url}/services/T/B/x`)}}
  hook: {type: webhook, url: ${JSON.stringify(`${hook.url}/siem`)}}
  rejecting: {type: webhook, url: ${JSON.stringify(`${rejecting.url}/reject`)}}
  down: {type: webhook, url: 'http://127.0.0.1:9/nowhere', timeoutMs: 200}
routes:
  - {name: all, sinks: [out, err, file, sns, slack, hook, rejecting, down], redaction: ${mode}}
delivery: {maxAttempts: 3, initialBackoffMs: 5000, maxBackoffMs: 5000, drainTimeoutMs: 1000}
`,
      );
      rejecting.failNext(1000, 400, {}, 'rejected');
      const before = { sns: sns.messages.length, slack: slack.received.length, hook: hook.received.length };
      const r = await withEnv({ AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'AKIDTEST', AWS_SECRET_ACCESS_KEY: 'secret-test' }, () =>
        runCli(['replay', input, '--rules', rules, '--config', config, '--outbox-dir', outbox, '--redaction', 'literals']),
      );
      // the refused sink leaves deliveries pending or dead-lettered: exit 4, by design
      assert.equal(r.code, 4, r.stderr);
      const outputs: Output[] = [
        { name: 'stdout (console sink)', text: r.stdout },
        { name: 'stderr (console sink, delivery log, fallback alerts)', text: r.stderr },
        { name: 'file sink', text: await readFile(fileSink, 'utf8') },
        { name: 'SNS messages', text: JSON.stringify(sns.messages.slice(before.sns)) },
        { name: 'Slack requests', text: slack.received.slice(before.slack).map((x) => x.raw).join('\n') },
        { name: 'webhook requests', text: hook.received.slice(before.hook).map((x) => x.raw).join('\n') },
        ...(await filesUnder(outbox)),
      ];
      assert.equal(sns.messages.length - before.sns, 4, 'SNS got every alert');
      assert.equal(slack.received.length - before.slack, 4, 'Slack got every alert');
      assert.equal(hook.received.length - before.hook, 4, 'the webhook got every alert');
      const files = outputs.map((o) => o.name);
      assert.ok(files.some((f) => f.endsWith('dead-letter.jsonl')), `a dead-letter file: ${files.join(', ')}`);
      assert.ok(files.some((f) => /batch-/.test(f)), `pending outbox batches: ${files.join(', ')}`);
      assertClean(outputs, mode);
    });
  }

  test('dasguard run: alerts on stdout and JSON log lines on stderr (quarantines included)', async () => {
    const kinesalite: Kinesalite = await startKinesalite();
    const client: KinesisClient = kinesisClient(kinesalite.url);
    try {
      await createStream(client, STREAM, 1);
      const data = [...RECORDS.map((r) => Buffer.from(JSON.stringify(r))), Buffer.from(`{"commandText": "${S.broken}" oops`)];
      await putRecords(client, STREAM, data);
      const ac = new AbortController();
      const env = loopbackEnv({ kinesis: kinesalite.url });
      const c = capturedIo(env);
      const code = withEnv(env, () =>
        runCommand(
          {
            stream: STREAM,
            rules: [rules],
            output: 'jsonl',
            redaction: 'literals',
            from: 'trim-horizon',
            checkpointDir: join(dir, 'run-checkpoints'),
            stateDir: join(dir, 'run-state'),
            pollIntervalMs: 50,
            statusIntervalMs: 100,
            discoveryIntervalMs: 1000,
            concurrency: 4,
            silenceMs: 0,
          },
          c.io,
          { signal: ac.signal },
        ),
      );
      await waitFor(() => c.stdout().split('\n').filter((l) => l.includes('leak-probe')).length >= 4 && c.stderr().includes('quarantined'), 'alerts and the quarantine line');
      ac.abort();
      assert.equal(await code, 0, c.stderr());
      assertClean([{ name: 'run stdout', text: c.stdout() }, { name: 'run stderr', text: c.stderr() }], 'literals');
    } finally {
      client.destroy();
      await kinesalite.close();
    }
  });

  test('Lambda handler: alerts and log lines (CloudWatch)', async () => {
    const lines: string[] = [];
    const sink = new PassThrough();
    sink.on('data', (c: Buffer) => lines.push(c.toString()));
    const handler = createEnvHandler({ env: { DASGUARD_RULES: rules }, stdout: sink, logOut: sink });
    const records = [...RECORDS.map((r) => JSON.stringify(r)), `{"commandText": "${S.broken}" oops`].map((text, i) => ({
      kinesis: { data: Buffer.from(text).toString('base64'), sequenceNumber: String(1000 + i), partitionKey: 'k', approximateArrivalTimestamp: 1791968400 },
      eventID: `shardId-000000000000:${1000 + i}`,
      eventSourceARN: `arn:aws:kinesis:us-east-1:111122223333:stream/${STREAM}`,
    }));
    const res = await handler({ Records: records } as KinesisStreamEvent);
    await handler.close();
    assert.deepEqual(res.batchItemFailures, []);
    const text = lines.join('');
    assert.equal(text.split('\n').filter((l) => l.includes('"leak-probe"') && l.includes('"kind":"activity"')).length, 4, text);
    assert.match(text, /quarantined/);
    assertClean([{ name: 'Lambda stdout (alerts and logs)', text }], 'literals');
  });
});
