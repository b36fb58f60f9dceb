/**
 * `dasguard import pgaudit` on fixture csvlog and jsonlog lines copied from a PostgreSQL 15 + pgaudit 1.7 server:
 * the events they become (a multi-line quoted statement, a DDL, an ERROR attached to the statement pgaudit logged
 * before it, an ERROR of its own, a failed login as MISC/AUTH FAILURE 28P01), an unreadable line reported with its
 * file:line and exit 1, the record grouping, the fake resource ids, and the encrypted form.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { jsonLines, runCli } from '../support/cli.js';
import { PgauditMapper } from '../../src/import/pgaudit.js';
import { CsvRecordReader, dasLogTime, entryFromCsv } from '../../src/import/pgLog.js';
import { RecordWriter, fakeResourceId } from '../../src/import/records.js';
import { RESOURCE_ID_PATTERN } from '../../src/sources/streamName.js';

const CSV = 'test/fixtures/import/pgaudit.csv';
const JSONLOG = 'test/fixtures/import/pgaudit.json';

function eventsOf(stdout: string): Record<string, unknown>[] {
  return jsonLines(stdout).flatMap((r) => {
    assert.equal(r.type, 'DatabaseActivityMonitoringRecords');
    assert.equal(r.version, '1.1');
    return (r.databaseActivityEvents as { databaseActivityEventList: Record<string, unknown>[] }).databaseActivityEventList;
  });
}

for (const [name, file, badLine] of [
  ['csvlog', CSV, 11],
  ['jsonlog', JSONLOG, 6],
] as const) {
  test(`${name}: connections, DDL, a multi-line statement with its ERROR, an ERROR of its own, a failed login; the unreadable line at file:line`, async () => {
    const r = await runCli(['import', 'pgaudit', file]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`^${file.replace(/\./g, '\\.')}:${badLine}: `, 'm'));
    assert.match(r.stderr, /import pgaudit: 6 events in \d+ records? .*; 1 unreadable line/);
    const ev = eventsOf(r.stdout);
    assert.deepEqual(
      ev.map((e) => [e.class, e.command, e.exitCode]),
      [
        ['MISC', 'CONNECT', null],
        ['DDL', 'CREATE TABLE', null],
        ['READ', 'SELECT', '22012'],
        ['MISC', 'ERROR', '42601'],
        ['MISC', 'DISCONNECT', null],
        ['MISC', 'AUTH FAILURE', '28P01'],
      ],
    );
    const [connect, ddl, select, syntax, , failed] = ev as [Record<string, unknown>, Record<string, unknown>, Record<string, unknown>, Record<string, unknown>, Record<string, unknown>, Record<string, unknown>];
    assert.equal(connect.clientApplication, 'psql');
    assert.equal(connect.remoteHost, '127.0.0.1');
    assert.equal(connect.remotePort, '58034');
    assert.equal(connect.sessionId, '6b0fa98d.2ce3');
    assert.equal(connect.logTime, '2026-12-02 05:15:57.094000+00');
    assert.deepEqual([ddl.statementId, ddl.objectType, ddl.objectName, ddl.rowCount, ddl.dbUserName], [1, 'TABLE', 'public.t', 0, 'postgres']);
    assert.equal(select.commandText, 'select id,\n note from t\n where 1/(id-1) = 0;');
    assert.equal(select.errorMessage, 'division by zero');
    assert.equal(select.statementId, 2);
    assert.deepEqual([syntax.commandText, syntax.errorMessage], ['selec 1;', 'syntax error at or near "selec"']);
    assert.deepEqual([failed.dbUserName, failed.errorMessage, failed.remoteHost], ['alice', 'password authentication failed for user "alice"', '127.0.0.1']);
    // every event has the 1.1 fields the decoder reads
    for (const e of ev) for (const k of ['startTime', 'logTime', 'sessionId', 'pid', 'paramList', 'errorMessage', 'serverType']) assert.ok(k in e, `${k} in ${JSON.stringify(e)}`);
  });
}

test('the imported stream replays: DDL by a privileged user and the runtime SQL error alert (a lone syntax error only feeds sql-injection-probe)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dg-import-'));
  const imp = await runCli(['import', 'pgaudit', CSV, '--output', dir]);
  assert.equal(imp.code, 1, imp.stderr);
  const [file] = await readdir(dir);
  assert.match(file!, /^aws-rds-das-cluster-[A-Z2-7]{26}\.jsonl$/);
  const r = await runCli(['replay', join(dir, file!), '--rules', 'rules', '--output', 'jsonl', '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  const rules = jsonLines(r.stdout).map((a) => a.ruleId);
  assert.ok(rules.includes('ddl-by-privileged-user'), rules.join());
  assert.equal(rules.filter((id) => id === 'sql-error').length, 1, rules.join());
  assert.equal(rules.includes('sql-injection-probe'), false, rules.join());
});

test('--key-file writes encrypted Kinesis records that replay decrypts with the same key', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dg-import-'));
  const out = join(dir, 'x.jsonl');
  const imp = await runCli(['import', 'pgaudit', JSONLOG, '--output', out, '--key-file', 'samples/demo-master-key.json', '--cluster-id', 'cluster-ABCDEFGHIJKLMNOPQRSTUVWXYZ', '--instance-id', 'db-ABCDEFGHIJKLMNOPQRSTUVWXYZ']);
  assert.equal(imp.code, 1, imp.stderr);
  const rec = jsonLines(await readFile(out, 'utf8'))[0]!;
  assert.equal(rec.StreamName, 'aws-rds-das-cluster-ABCDEFGHIJKLMNOPQRSTUVWXYZ');
  assert.equal(rec.PartitionKey, 'db-ABCDEFGHIJKLMNOPQRSTUVWXYZ');
  assert.equal(typeof rec.Data, 'string');
  const r = await runCli(['decode', out, '--key-file', 'samples/demo-master-key.json']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(jsonLines(r.stdout).length, 6);
});

test('bad ids, a missing file and an unknown format are usage errors (exit 2)', async () => {
  assert.equal((await runCli(['import', 'pgaudit', CSV, '--cluster-id', 'my-cluster'])).code, 2);
  const missing = await runCli(['import', 'pgaudit', 'no/such.csv']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /cannot read no\/such\.csv/);
  assert.equal((await runCli(['import', 'nosuch', CSV])).code, 2);
  const max = await runCli(['import', 'pgaudit', CSV, '--max-events', '0']);
  assert.equal(max.code, 2);
  assert.match(max.stderr, /--max-events: expected a whole number of at least 1/);
});

test('a quoted field left open to the end of the file is one problem at the line it starts on', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dg-import-'));
  const f = join(dir, 'cut.csv');
  const lines = (await readFile(CSV, 'utf8')).split('\n');
  await writeFile(f, lines.slice(0, 4).join('\n') + '\n');
  const r = await runCli(['import', 'pgaudit', f]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`${f.replace(/\./g, '\\.')}:4: csvlog record cut off`));
  assert.equal(eventsOf(r.stdout).length, 2);
});

test('CsvRecordReader keeps newlines and doubled quotes inside quoted fields', () => {
  const r = new CsvRecordReader();
  assert.equal(r.push('a,"x ""q'), undefined);
  assert.deepEqual(r.push('y",,z'), ['a', 'x "q\ny', '', 'z']);
});

test('log times become the DAS form in UTC', () => {
  assert.equal(dasLogTime('2026-12-02 05:15:57.094 UTC'), '2026-12-02 05:15:57.094000+00');
  assert.equal(dasLogTime('2026-12-02 06:15:57.094 +01'), '2026-12-02 05:15:57.094000+00');
  assert.equal(dasLogTime('2026-12-02 06:15:57 CET'), undefined);
});

test('the writer closes a record at max events and at each new second; fake ids are DAS-shaped and stable', async () => {
  const out = new PassThrough();
  const chunks: string[] = [];
  out.on('data', (c: Buffer) => chunks.push(c.toString()));
  const w = new RecordWriter({ clusterId: 'cluster-A', instanceId: 'db-B', version: '1.2', out, maxEvents: 2 });
  for (const t of ['2026-01-01 00:00:00.1+00', '2026-01-01 00:00:00.2+00', '2026-01-01 00:00:00.3+00', '2026-01-01 00:00:01.1+00']) await w.add({ logTime: t });
  assert.deepEqual(await w.end(), { records: 3, events: 4 });
  const recs = jsonLines(chunks.join(''));
  assert.deepEqual(recs.map((r) => (r.databaseActivityEvents as { databaseActivityEventList: unknown[] }).databaseActivityEventList.length), [2, 1, 1]);
  assert.equal(recs[0]!.version, '1.2');
  const id = fakeResourceId('cluster', 'h');
  assert.match(id, RESOURCE_ID_PATTERN);
  assert.equal(id, fakeResourceId('cluster', 'h'));
  assert.notEqual(id, fakeResourceId('cluster', 'other'));
});

test('two syntax errors of one session within one millisecond are two events (pgaudit numbers neither): an injection scan counts them all', async () => {
  const line = (n: number, q: string): string[] =>
    ['2026-12-02 05:40:28.638 UTC', 'app', 'shop', '30752', '10.0.0.5:45380', '6b0faf4c.7820', String(n), 'idle', '2026-12-02 05:40:28 UTC', '3/2', '0', 'ERROR', '42601', `syntax error at or near "${q}"`, '', '', '', '', '', q, '', '', 'psql', 'client backend', '', '0'];
  const events: Record<string, unknown>[] = [];
  const mapper = new PgauditMapper(async (e) => void events.push(e as unknown as Record<string, unknown>));
  for (const [n, q] of [[3, 'selec 1'], [4, "select 1'"]] as const) {
    const entry = entryFromCsv(line(n, q));
    assert.equal(typeof entry, 'object');
    assert.equal(await mapper.entry(entry as Exclude<typeof entry, string>), undefined);
  }
  await mapper.end();
  assert.deepEqual(events.map((e) => [e.statementId, e.substatementId, e.exitCode, e.commandText]), [
    [0, 3, '42601', 'selec 1'],
    [0, 4, '42601', "select 1'"],
  ]);
});

// A real PostgreSQL 15 + pgaudit 1.7 csvlog with log_statement = 'all' (pgaudit.log without misc_set): pgaudit logs the
// first SELECT itself; it cannot log `SET pgaudit.log = 'none'` (nor anything after it in that session), the server's
// own statement lines can.
test("csvlog with log_statement: the statements pgaudit did not log (SET pgaudit.log = 'none' and what follows) are events, the audited ones once", async () => {
  const file = 'test/fixtures/import/pgaudit-log-statement.csv';
  const r = await runCli(['import', 'pgaudit', file]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(
    eventsOf(r.stdout).map((e) => [e.class, e.command, e.commandText, e.exitCode]),
    [
      ['MISC', 'CONNECT', null, null],
      ['READ', 'SELECT', 'select count(*) from payroll', null],
      ['MISC_SET', 'SET', "SET pgaudit.log = 'none'", null],
      ['READ', 'SELECT', 'select sum(salary) from payroll', null],
      ['MISC', 'ERROR', 'selec 1', '42601'],
      ['DDL', 'DROP TABLE', 'drop table payroll', null],
      ['MISC', 'DISCONNECT', null, null],
    ],
  );
  const dir = await mkdtemp(join(tmpdir(), 'dg-imp-logstmt-'));
  await writeFile(join(dir, 'aws-rds-das-cluster-CTSTWMT6QFVCFHT4VPL4WDSQ5S.jsonl'), r.stdout);
  const replay = await runCli(['replay', dir, '--rules', 'rules', '--output', 'jsonl', '--quiet']);
  assert.deepEqual(jsonLines(replay.stdout).map((a) => a.ruleId).sort(), ['audit-logging-tampered', 'ddl-by-privileged-user', 'drop-or-truncate']);
});
