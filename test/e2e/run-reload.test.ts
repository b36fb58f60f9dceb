/**
 * Hot reload of `dasguard run` (README "Hot reload"; src/commands/ruleReload.ts), the real CLI in a child process on
 * the local stack (kinesalite, the loopback KMS): a rule added to the rule files and SIGHUP gives that rule's alerts
 * for the records put after, every alert stamped with the new rulesVersion, and a `rules reloaded` log line; a bad
 * rule file and SIGHUP is refused with every problem logged (file:line and rule id), the old rules firing on;
 * --watch-rules reloads on an editor's save (a new file renamed over the old), and a threshold correlation counts
 * across the reload of an unrelated rule (2 failed logins before, 1 after: it fires), while a change to the
 * correlation itself restarts its state (logged).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import { LocalKeyProvider } from '../../src/keys/LocalKeyProvider.js';
import type { Alert } from '../../src/pipeline/alert.js';
import { loadRules } from '../../src/rules/index.js';
import { DasguardProcess } from '../support/child.js';
import { startKmsServer, type KmsServer } from '../support/kmsServer.js';
import { KEY_FILE, RESOURCE_ID, createStream, kinesisClient, loopbackEnv, putRecords, replayAlertIds, startKinesalite, tempDir, waitFor, type Kinesalite } from '../support/kinesis.js';
import { alertsIn, failedLoginRecords } from '../support/failedLogins.js';

let kinesalite: Kinesalite;
let kms: KmsServer;
let client: KinesisClient;
let env: NodeJS.ProcessEnv;
let streamNo = 0;

before(async () => {
  kinesalite = await startKinesalite();
  kms = await startKmsServer({ keys: LocalKeyProvider.fromFile(KEY_FILE) });
  client = kinesisClient(kinesalite.url);
  env = loopbackEnv({ kinesis: kinesalite.url, kms: kms.url });
});

after(async () => {
  client.destroy();
  await Promise.all([kinesalite.close(), kms.close()]);
});

async function newStream(): Promise<string> {
  const name = `aws-rds-das-${RESOURCE_ID}-r${++streamNo}`;
  await createStream(client, name, 1);
  return name;
}

function startRun(stream: string, rulesDir: string, extra: string[] = []): DasguardProcess {
  const dir = tempDir('dasguard-reload-');
  return new DasguardProcess(
    ['run', '--stream', stream, '--resource-id', RESOURCE_ID, '--from', 'trim-horizon', '--rules', rulesDir, '--output', 'jsonl',
      '--checkpoint-dir', join(dir, 'checkpoints'), '--state-dir', join(dir, 'state'), '--poll-interval', '100ms', '--status-interval', '500ms', ...extra],
    env,
  );
}

async function versionOf(dir: string): Promise<string> {
  const { ruleSet, problems } = await loadRules([dir]);
  assert.ok(ruleSet, JSON.stringify(problems));
  return ruleSet.version!;
}

const byRule = (p: DasguardProcess, id: string): Alert[] => alertsIn(p.stdout).filter((a) => a.ruleId === id);
const logsWith = (p: DasguardProcess, msg: string) => p.logs().filter((l) => typeof l.msg === 'string' && l.msg.startsWith(msg));

/** Waits for the log line, then for the child's exit after SIGINT (the test fails on a hang, not waits forever). */
async function stop(p: DasguardProcess): Promise<void> {
  p.proc.kill('SIGINT');
  assert.equal(await p.exit(), 0, p.stderr);
}

const rule = (id: string, when = '{command: AUTH FAILURE}') => `  - id: ${id}\n    description: ${id} (tests)\n    severity: info\n    when: ${when}\n`;

describe('dasguard run: hot reload on SIGHUP', { timeout: 120_000 }, () => {
  test('a rule added and SIGHUP: its alerts for the records after, with the new rulesVersion; a bad rule file is refused, every problem logged, the old rules run on', async () => {
    const stream = await newStream();
    const rules = tempDir('dasguard-rules-');
    writeFileSync(join(rules, 'a.yaml'), `rules:\n${rule('test-first')}`);
    const v1 = await versionOf(rules);
    const logins = await failedLoginRecords([{ host: '10.0.0.1', user: 'a', at: 0 }, { host: '10.0.0.2', user: 'b', at: 1 }, { host: '10.0.0.3', user: 'c', at: 2 }]);
    const p = startRun(stream, rules);
    try {
      await putRecords(client, stream, logins.slice(0, 1));
      await waitFor(() => byRule(p, 'test-first').length === 1, 'the alert of the first record', 60_000);
      assert.equal(byRule(p, 'test-first')[0]!.rulesVersion, v1);

      // A rule added, then SIGHUP.
      writeFileSync(join(rules, 'b.yaml'), `rules:\n${rule('test-added')}`);
      const v2 = await versionOf(rules);
      assert.notEqual(v2, v1);
      p.proc.kill('SIGHUP');
      await waitFor(() => logsWith(p, 'rules reloaded').length === 1, 'the rules reloaded log line', 30_000);
      const reloaded = logsWith(p, 'rules reloaded')[0]!;
      assert.equal(reloaded.rules, 2);
      assert.equal(reloaded.oldVersion, v1);
      assert.equal(reloaded.newVersion, v2);
      await putRecords(client, stream, logins.slice(1, 2));
      await waitFor(() => byRule(p, 'test-added').length === 1, 'the added rule\'s alert', 60_000);
      assert.deepEqual(alertsIn(p.stdout).map((a) => [a.ruleId, a.rulesVersion]), [['test-first', v1], ['test-first', v2], ['test-added', v2]]);

      // A bad rule file (two mistakes), then SIGHUP: refused, both problems logged with file:line and rule id.
      writeFileSync(join(rules, 'c.yaml'), `rules:\n${rule('test-bad', '{comand: AUTH FAILURE}')}  - id: test-bad-severity\n    severity: urgent\n    when: {command: AUTH FAILURE}\n`);
      p.proc.kill('SIGHUP');
      await waitFor(() => logsWith(p, 'reload refused').length === 1, 'the reload refused log line', 30_000);
      assert.equal(logsWith(p, 'reload refused')[0]!.msg, `reload refused, still running rules ${v2}`);
      const problems = p.logs().filter((l) => l.level === 'error' && l.file === join(rules, 'c.yaml'));
      assert.deepEqual(problems.map((l) => [l.line, l.ruleId]), [[5, 'test-bad'], [7, 'test-bad-severity']], JSON.stringify(problems));
      assert.match(String(problems[0]!.msg), /c\.yaml:5 test-bad: .*comand/);
      await putRecords(client, stream, logins.slice(2));
      await waitFor(() => alertsIn(p.stdout).length === 5, 'the alerts of the third record', 60_000);
      assert.deepEqual(alertsIn(p.stdout).slice(3).map((a) => [a.ruleId, a.rulesVersion]), [['test-first', v2], ['test-added', v2]], 'the old (running) rules fire on');
      // Alert ids do not depend on the version: test-first's ids (under v1, v2, v2) are those replay gives with a.yaml alone.
      assert.deepEqual(byRule(p, 'test-first').map((a) => a.id).sort(), await replayAlertIds(logins, [join(rules, 'a.yaml')]));
    } finally {
      await stop(p);
    }
  });
});

describe('dasguard run --watch-rules', { timeout: 120_000 }, () => {
  test('an editor\'s save reloads; a threshold correlation counts across the reload of another rule, and restarts when it changes itself', async () => {
    const stream = await newStream();
    const rules = tempDir('dasguard-rules-');
    const correlation = (groupBy: string) =>
      `rules:\n${rule('test-failure')}  - id: test-burst\n    description: 3 failed logins from one host (tests)\n    severity: high\n` +
      `    correlation: {type: event_count, rules: [test-failure], groupBy: [${groupBy}], window: 10m, gte: 3, generate: true}\n`;
    writeFileSync(join(rules, 'burst.yaml'), correlation('remoteHost'));
    writeFileSync(join(rules, 'other.yaml'), `rules:\n${rule('test-other', '{command: SELECT}')}`);
    const host = '10.9.9.9';
    const logins = await failedLoginRecords([0, 1, 2, 3, 4, 5].map((at) => ({ host, user: 'u', at })));
    const p = startRun(stream, rules, ['--watch-rules']);
    /** Saves `text` to `file` as editors do: a new file renamed over the old one. */
    const save = (file: string, text: string) => {
      writeFileSync(join(rules, `.${file}.swp`), text);
      renameSync(join(rules, `.${file}.swp`), join(rules, file));
    };
    try {
      await waitFor(() => logsWith(p, 'watching the rule files').length === 1, 'the watchers set up', 60_000);
      await putRecords(client, stream, logins.slice(0, 2));
      await waitFor(() => byRule(p, 'test-failure').length === 2, 'the first 2 failed logins', 60_000);

      // An unrelated rule edited: the correlation keeps its 2 events.
      save('other.yaml', `rules:\n${rule('test-other', '{command: [SELECT, UPDATE]}')}`);
      await waitFor(() => logsWith(p, 'rules reloaded').length === 1, 'the reload after the save', 30_000);
      const v2 = await versionOf(rules);
      assert.equal(logsWith(p, 'rules reloaded')[0]!.newVersion, v2);
      assert.equal(p.logs().filter((l) => Array.isArray(l.restarted)).length, 0, 'no correlation restarted');
      await putRecords(client, stream, logins.slice(2, 3));
      await waitFor(() => byRule(p, 'test-burst').length === 1, 'the correlation firing on the 3rd failed login', 60_000);
      const burst = byRule(p, 'test-burst')[0]!;
      assert.equal((burst.event as { correlation: { events: number } }).correlation.events, 3);
      assert.equal(burst.rulesVersion, v2);

      // The correlation itself changed (its groupBy): its state is dropped, said in the log, and it counts afresh: 3
      // more failed logins fire it again (with its state kept, its quiet period after the firing, 10m, would hold it).
      save('burst.yaml', correlation('remoteHost, dbUserName'));
      await waitFor(() => logsWith(p, 'rules reloaded').length === 2, 'the reload after the second save', 30_000);
      assert.deepEqual(p.logs().filter((l) => Array.isArray(l.restarted)).map((l) => l.restarted), [['test-burst']]);
      await putRecords(client, stream, logins.slice(3));
      await waitFor(() => byRule(p, 'test-burst').length === 2, 'the restarted correlation firing on 3 new failed logins', 60_000);
      const again = byRule(p, 'test-burst')[1]!;
      assert.equal((again.event as { correlation: { events: number } }).correlation.events, 3);
      assert.deepEqual((again.event as { correlation: { group: unknown } }).correlation.group, { remoteHost: host, dbUserName: 'u' });
    } finally {
      await stop(p);
    }
  });
});
