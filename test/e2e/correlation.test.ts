/**
 * Correlation rules end to end: the same records give the same correlation alerts with the same ids through
 * `replay` and the Lambda handler; `replay --state-file` carries a half-full window to the next replay and never
 * fires twice on records it saw (the record that fired, seen again, gives the same alert again, same id); the state a
 * Correlator persists (run's CheckpointedState) survives a restart.
 */
import { kinesisRecord } from '../support/lambdaEvent.js';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { encodeRecord } from '../../src/codec/encode.js';
import { LocalKeyProvider } from '../../src/keys/LocalKeyProvider.js';
import { createHandler, type KinesisStreamRecord } from '../../src/lambda.js';
import type { Alert } from '../../src/pipeline/alert.js';
import { Correlator } from '../../src/pipeline/Correlator.js';
import { FileCorrelationStore } from '../../src/pipeline/CorrelationStore.js';
import { PipelineStats } from '../../src/pipeline/PipelineStats.js';
import { evaluateBatch } from '../../src/pipeline/processRecord.js';
import { loadRules, type RuleSet } from '../../src/rules/index.js';
import { decodeRecord } from '../../src/codec/decode.js';
import { jsonLines, runCli } from '../support/cli.js';
import { PG } from '../../scripts/sampleData.js';

const KEY = 'samples/demo-master-key.json';
const keys = LocalKeyProvider.fromFile(KEY);
const STREAM = `aws-rds-das-${PG.clusterId}`;
const RULES = `
rules:
  - id: failed-login
    severity: medium
    when: {command: AUTH FAILURE}
  - id: brute-force
    description: Failed logins from one host
    severity: high
    message: 'brute force from {{remoteHost}}'
    correlation: {type: event_count, rules: [failed-login], groupBy: [remoteHost], window: 1m, gte: 5}
`;

let dir: string;
let rulesFile: string;
/** Get-records lines: 5 records of 2 failed logins each, 10 s apart (events at 0..90 s). */
let lines: { StreamName: string; ShardId: string; SequenceNumber: string; PartitionKey: string; ApproximateArrivalTimestamp: number; Data: string }[];

function event(i: number): Record<string, unknown> {
  const t = new Date(Date.parse('2026-10-14T09:00:00.000Z') + i * 10_000).toISOString().replace('T', ' ').replace('Z', '000+00');
  return {
    type: 'record', class: 'MISC', command: 'AUTH FAILURE', logTime: t, startTime: t, statementId: i + 1, substatementId: 1,
    dbUserName: 'alice', remoteHost: '203.0.113.9', sessionId: `s${i}`, serverType: 'PostgreSQL', databaseName: 'postgres',
    objectType: null, objectName: null, remotePort: '5000', rowCount: null, commandText: null, paramList: [], pid: 1,
    clientApplication: 'psql', exitCode: null, errorMessage: null, serverVersion: '2.3.5', serviceName: 'Amazon Aurora PostgreSQL-Compatible edition',
    serverHost: '172.31.3.192', netProtocol: 'TCP', dbProtocol: 'Postgres 3.0',
  };
}

async function writeStream(name: string, from: number, to: number): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, lines.slice(from, to).map((l) => JSON.stringify(l)).join('\n') + '\n');
  return file;
}

async function replay(file: string, ...extra: string[]): Promise<Alert[]> {
  const r = await runCli(['replay', file, '--key-file', KEY, '--rules', rulesFile, '--output', 'jsonl', '--quiet', ...extra]);
  assert.equal(r.code, 0, r.stderr);
  return jsonLines(r.stdout) as unknown as Alert[];
}

const correlations = (alerts: readonly Alert[]) => alerts.filter((a) => a.ruleId === 'brute-force');

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dasguard-corr-'));
  rulesFile = join(dir, 'rules.yaml');
  await writeFile(rulesFile, RULES);
  lines = [];
  for (let r = 0; r < 5; r++) {
    const data = await encodeRecord(
      { clusterId: PG.clusterId, instanceId: PG.instanceId, databaseActivityEventList: [event(2 * r), event(2 * r + 1)] },
      { resourceId: PG.clusterId, version: PG.version, wrapper: keys },
    );
    lines.push({ StreamName: STREAM, ShardId: 'shardId-000000000000', SequenceNumber: String(1000 + r), PartitionKey: 'pk', ApproximateArrivalTimestamp: 1791968400.75, Data: Buffer.from(data).toString('base64') });
  }
});
after(async () => rm(dir, { recursive: true, force: true }));

describe('correlation rules end to end', () => {
  it('replay: 10 failures from one host in 90 s are ONE correlation alert; the base rule only feeds it (generate: false)', async () => {
    const alerts = await replay(await writeStream('all.jsonl', 0, 5));
    assert.equal(alerts.filter((a) => a.ruleId === 'failed-login').length, 0);
    const c = correlations(alerts);
    assert.equal(c.length, 1);
    const a = c[0]!;
    assert.match(a.message, /^brute force from 203\.0\.113\.9 \(5 events within 1m for remoteHost=203\.0\.113\.9\)$/);
    const corr = (a.event as { correlation: Record<string, unknown> }).correlation;
    assert.deepEqual(corr.group, { remoteHost: '203.0.113.9' });
    assert.equal(corr.value, 5);
    assert.equal(corr.firstTime, '2026-10-14T09:00:00.000Z');
    assert.equal(corr.lastTime, '2026-10-14T09:00:40.000Z');
    assert.equal((a.event as { first: { statementId: number } }).first.statementId, 1);
    assert.equal((a.event as { last: { statementId: number } }).last.statementId, 5);
    assert.equal(a.time, '2026-10-14T09:00:40.000Z');
  });

  it('replay with generate: true: the base rule alerts on each of the 10 failures too, beside the one correlation alert', async () => {
    const file = join(dir, 'generate.yaml');
    await writeFile(file, RULES.replace('gte: 5}', 'gte: 5, generate: true}'));
    const r = await runCli(['replay', await writeStream('gen.jsonl', 0, 5), '--key-file', KEY, '--rules', file, '--output', 'jsonl', '--quiet']);
    assert.equal(r.code, 0, r.stderr);
    const alerts = jsonLines(r.stdout) as unknown as Alert[];
    assert.equal(alerts.filter((a) => a.ruleId === 'failed-login').length, 10);
    assert.equal(correlations(alerts).length, 1);
  });

  it('replay and the Lambda give the same correlation alerts with the same ids (in one invocation or several)', async () => {
    const fromReplay = correlations(await replay(await writeStream('all2.jsonl', 0, 5)));
    const rules = (await loadRules([rulesFile])).ruleSet as RuleSet;
    const got: Alert[] = [];
    const h = createHandler({ rules, keys, handoff: { handOff: async (a) => void got.push(...a), close: async () => undefined }, log: () => undefined });
    const records: KinesisStreamRecord[] = lines.map((l) => kinesisRecord(STREAM, 'shardId-000000000000', l.SequenceNumber, l.Data, { partitionKey: l.PartitionKey }));
    // Two invocations: the window is half full between them (the container keeps the state).
    await h({ Records: records.slice(0, 2) });
    await h({ Records: records.slice(2) });
    const fromLambda = correlations(got);
    assert.equal(fromLambda.length, 1);
    const strip = (a: Alert) => ({ ...a, source: undefined });
    assert.deepEqual(fromLambda.map(strip), fromReplay.map(strip));
  });

  it('replay --state-file that is not a state this version reads: exit 2 naming the file, nothing evaluated', async () => {
    const file = await writeStream('some.jsonl', 0, 2);
    for (const [name, text] of [['other-version.json', '{"version": 9}'], ['broken.json', '{"version": 1, "rules": {'], ['bad-groups.json', '{"version": 1, "rules": {"brute-force": 3}}']]) {
      const state = join(dir, name!);
      await writeFile(state, text!);
      const r = await runCli(['replay', file, '--key-file', KEY, '--rules', rulesFile, '--output', 'jsonl', '--quiet', '--state-file', state]);
      assert.equal(r.code, 2, `${name}: ${r.stderr}`);
      assert.ok(r.stderr.includes(`the correlation state file ${state}`), r.stderr);
      assert.match(r.stderr, /move it away to start afresh/);
      assert.doesNotMatch(r.stderr, /internal error/);
      assert.equal(r.stdout, '', 'nothing evaluated');
      assert.equal(await readFile(state, 'utf8'), text, 'the file is left as it was');
    }
  });

  it('replay --state-file: a window half full at the end of one replay fills in the next; the same file twice gives the same alert, never a second', async () => {
    const state = join(dir, 'state.json');
    const first = await writeStream('first.jsonl', 0, 2); // 4 failures: nothing yet
    const second = await writeStream('second.jsonl', 2, 5);
    assert.equal(correlations(await replay(first, '--state-file', state)).length, 0);
    const fired = correlations(await replay(second, '--state-file', state));
    assert.equal(fired.length, 1);
    assert.equal((fired[0]!.event as { correlation: { firstTime: string } }).correlation.firstTime, '2026-10-14T09:00:00.000Z');
    // The same records again: duplicates to the state, no second firing; the record that fired gives its alert again
    // (same id and content, as its other alerts: at least once), the records that did not fire give none.
    assert.deepEqual(correlations(await replay(second, '--state-file', state)), fired);
    assert.equal(correlations(await replay(first, '--state-file', state)).length, 0);
    const saved = JSON.parse(await readFile(state, 'utf8')) as { version: number };
    assert.equal(saved.version, 1);
    // Without the state file, each replay starts afresh.
    // Without the state file, each replay starts afresh: the second file alone (6 failures from 40 s) fires on its own.
    assert.equal(correlations(await replay(second)).length, 1);
  });

  it("run's CheckpointedState: persisted mid-window, restored after a crash, records after the checkpoint seen again: fires once (the same alert again when the record that fired is read again)", async () => {
    const rules = (await loadRules([rulesFile])).ruleSet as RuleSet;
    const store = new FileCorrelationStore(join(dir, 'run-state.json'));
    const outcomes = await Promise.all(lines.map(async (l) => evaluateBatch(await decodeRecord(Buffer.from(l.Data, 'base64'), { keys, resourceId: PG.clusterId }), { source: STREAM, sequenceNumber: l.SequenceNumber }, { rules })));
    const stats = new PipelineStats();
    // As the record driver does: a record's changes are committed once its alerts are handed off.
    const applied = async (k: Correlator, o: (typeof outcomes)[number]) => {
      const alerts = await k.apply(o, stats);
      k.commit();
      return alerts;
    };
    const appliedAll = async (k: Correlator, os: typeof outcomes) => {
      const alerts: Alert[] = [];
      for (const o of os) alerts.push(...(await applied(k, o)));
      return alerts;
    };
    const a = (await Correlator.open(rules, { store }))!;
    assert.equal((await applied(a, outcomes[0]!)).length, 0);
    await a.persist(); // the checkpoint after record 0
    assert.equal((await applied(a, outcomes[1]!)).length, 0); // applied, then the process dies before the next checkpoint
    const b = (await Correlator.open(rules, { store }))!; // restart: resumes after record 0
    const fired = await appliedAll(b, outcomes.slice(1));
    assert.equal(fired.length, 1);
    await b.persist();
    const c = (await Correlator.open(rules, { store }))!; // a second crash after the last record, before its checkpoint
    assert.deepEqual(await appliedAll(c, outcomes), fired, 'the same alert again, not a second one');
  });
});
