/**
 * MariaDB server_audit -> DAS MySQL 1.2 events (src/import/mariadbAudit.ts) on fixture lines as MariaDB 10.11 wrote
 * them here: CONNECT, FAILED_CONNECT, a QUERY with its TABLE lines BEFORE it (emitted as one MAIN then its AUX events,
 * which dasguard joins into one statement with `objects`), quotes, backslash escapes and newlines in a statement,
 * a retcode error, TABLE lines whose QUERY never comes, unreadable lines (reported with their line, never thrown),
 * MariaDB 12's host:port, and the command end to end on a file (stderr's file:line, exit 1, a record replay reads).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { MariadbAuditConverter, dasTime, parseAuditLine, type LineProblem } from '../../src/import/mariadbAudit.js';
import type { DasEvent } from '../../src/import/records.js';
import { normalizeEvent } from '../../src/codec/normalize.js';
import { joinMysqlStatements } from '../../src/codec/mysqlStatements.js';
import type { ActivityEvent } from '../../src/types.js';
import { main } from '../../src/cli.js';
import type { Io } from '../../src/commands/io.js';

function convert(lines: string[]): { events: DasEvent[]; problems: LineProblem[]; conv: MariadbAuditConverter } {
  const problems: LineProblem[] = [];
  const conv = new MariadbAuditConverter((p) => problems.push(p));
  const events: DasEvent[] = [];
  lines.forEach((l, i) => events.push(...conv.push(l, i + 1)));
  events.push(...conv.end());
  return { events, problems, conv };
}

const SELECT_CARDS = [
  '20261202 05:13:30,vm,app,127.0.0.1,4,3,READ,shop,cards,',
  '20261202 05:13:30,vm,app,127.0.0.1,4,3,READ,shop,cards,',
  "20261202 05:13:30,vm,app,127.0.0.1,4,3,QUERY,shop,'SELECT c.pan FROM cards c JOIN cards d ON c.id=d.id WHERE c.pan = \\'it\\'\\'s\\'',0",
];

describe('mariadb-audit: parsing one line', () => {
  it('reads the ten fields; a QUERY statement is unquoted and unescaped', () => {
    const r = parseAuditLine("20261202 05:13:30,vm,app,127.0.0.1,4,2,QUERY,shop,'INSERT INTO cards VALUES (1,\\'4111\\\\\\'x\\nnew\\')',0");
    assert.ok('entry' in r);
    assert.deepEqual(r.entry, {
      timestamp: '20261202 05:13:30', serverHost: 'vm', user: 'app', host: '127.0.0.1', port: null, connectionId: '4', queryId: 2,
      operation: 'QUERY', database: 'shop', object: "INSERT INTO cards VALUES (1,'4111\\'x\nnew')", retcode: 0,
    });
  });
  it("a comma inside the statement does not split it; a TABLE line's retcode is empty (null)", () => {
    const q = parseAuditLine("20261202 05:13:30,vm,app,h,4,5,QUERY,shop,'SELECT a, b FROM t',0");
    assert.ok('entry' in q && q.entry.object === 'SELECT a, b FROM t');
    const t = parseAuditLine('20261202 05:13:30,vm,app,h,4,5,READ,shop,t,');
    assert.ok('entry' in t && t.entry.retcode === null && t.entry.object === 't');
  });
  it("MariaDB 12's host:port gives remoteHost and remotePort; an IPv6 address stays whole", () => {
    const r = parseAuditLine('20261202 05:13:30,vm,app,10.0.0.5:50412,4,0,CONNECT,shop,,0');
    assert.ok('entry' in r && r.entry.host === '10.0.0.5' && r.entry.port === '50412');
    const v6 = parseAuditLine('20261202 05:13:30,vm,app,::1,4,0,CONNECT,shop,,0');
    assert.ok('entry' in v6 && v6.entry.host === '::1' && v6.entry.port === null);
  });
  it('entries of one busy second stay ordered: 1 ms apart, then 1 µs apart after the 999th, never past the second', () => {
    const { events } = convert(Array.from({ length: 2_100 }, (_, i) => `20261202 05:13:30,vm,app,h,${i + 1},0,CONNECT,,,0`));
    assert.equal(events[999]!.logTime, '2026-12-02 05:13:30.999000+00');
    assert.equal(events[1000]!.logTime, '2026-12-02 05:13:30.999001+00');
    assert.equal(events[2099]!.logTime, '2026-12-02 05:13:30.999999+00');
  });
  it('the log time (no zone, whole seconds) becomes DAS time in UTC, shifted by a given offset', () => {
    assert.equal(dasTime('20261202 05:13:30'), '2026-12-02 05:13:30.000000+00');
    assert.equal(dasTime('20261202 01:00:00', 120), '2026-12-01 23:00:00.000000+00');
  });
});

describe('mariadb-audit: events', () => {
  it('CONNECT and DISCONNECT: MAIN events of the connection (statementId 0), no error', () => {
    const { events } = convert(['20261202 05:13:30,vm,app,127.0.0.1,4,0,CONNECT,shop,,0', '20261202 05:13:31,vm,app,127.0.0.1,4,0,DISCONNECT,shop,,0']);
    assert.equal(events.length, 2);
    assert.deepEqual(
      { ...events[0] },
      {
        logTime: '2026-12-02 05:13:30.000000+00', type: 'record', clientApplication: null, pid: null, dbUserName: 'app', databaseName: 'shop',
        remoteHost: '127.0.0.1', remotePort: null, command: 'CONNECT', commandText: '', paramList: null, objectType: 'TABLE', objectName: '',
        statementId: 0, substatementId: 1, exitCode: '0', sessionId: '4', rowCount: null, serverHost: 'vm', serverType: 'MySQL',
        serviceName: 'MariaDB server_audit', serverVersion: null, startTime: '2026-12-02 05:13:30.000000+00', endTime: '2026-12-02 05:13:30.000000+00',
        transactionId: null, dbProtocol: 'MySQL', netProtocol: null, errorMessage: '', class: 'MAIN',
      },
    );
    assert.equal(events[1]!.command, 'DISCONNECT');
  });
  it('FAILED_CONNECT: a MAIN event whose error is named, the message unknown, the code in exitCode', () => {
    const { events } = convert(['20261202 05:13:30,vm,app,127.0.0.1,3,0,FAILED_CONNECT,,,1045']);
    assert.equal(events[0]!.command, 'FAILED_CONNECT');
    assert.equal(events[0]!.exitCode, '1045');
    assert.equal(events[0]!.errorMessage, 'MariaDB error ER_ACCESS_DENIED_ERROR: server_audit logs the error code only, not its message');
  });
  it('a QUERY after its TABLE lines: its MAIN first, then one AUX per TABLE line, same sessionId and statementId', () => {
    const { events, conv } = convert(SELECT_CARDS);
    assert.deepEqual(
      events.map((e) => [e.class, e.command, e.objectName, e.sessionId, e.statementId, e.substatementId]),
      [
        ['MAIN', 'QUERY', 'cards', '4', 3, 1],
        ['AUX', 'READ', 'cards', '4', 3, 2],
        ['AUX', 'READ', 'cards', '4', 3, 2],
      ],
    );
    assert.equal(events[0]!.commandText, "SELECT c.pan FROM cards c JOIN cards d ON c.id=d.id WHERE c.pan = 'it''s'");
    // one second, three entries: 0, 1, 2 ms in log order (the MAIN is its QUERY line, after its TABLE lines)
    assert.deepEqual(events.map((e) => e.logTime), ['2026-12-02 05:13:30.002000+00', '2026-12-02 05:13:30.000000+00', '2026-12-02 05:13:30.001000+00']);
    assert.equal(events[0]!.startTime, '2026-12-02 05:13:30.000000+00');
    assert.equal(events[1]!.commandText, 'cards');
    assert.equal(events[1]!.exitCode, '');
    assert.deepEqual({ ...conv.counts }, { lines: 3, unreadable: 0, mainEvents: 1, auxEvents: 2, orphanTables: 0, unknownOperations: 0 });
  });
  it('dasguard joins them into one statement: the MAIN carries objects (what sensitive-table-read reads)', () => {
    const { events } = convert(SELECT_CARDS);
    const normalized = events.map((e, i) => {
      const r = normalizeEvent(e, i, { clusterId: 'cluster-C', instanceId: 'db-I', version: '1.2' });
      assert.equal(r.kind, 'event');
      return (r as { event: ActivityEvent }).event;
    });
    joinMysqlStatements(normalized);
    assert.equal(normalized[0]!.engine, 'mysql');
    assert.equal(normalized[0]!.sqlCommand, 'SELECT');
    assert.deepEqual(normalized[0]!.objects, [
      { name: 'cards', command: 'READ', type: 'TABLE', database: 'shop' },
      { name: 'cards', command: 'READ', type: 'TABLE', database: 'shop' },
    ]);
  });
  it('lines of other connections between the TABLE lines and their QUERY do not break the statement', () => {
    const { events } = convert([SELECT_CARDS[0]!, '20261202 05:13:30,vm,bob,10.0.0.9,7,0,CONNECT,shop,,0', SELECT_CARDS[2]!]);
    assert.deepEqual(events.map((e) => [e.sessionId, e.class, e.command]), [['7', 'MAIN', 'CONNECT'], ['4', 'MAIN', 'QUERY'], ['4', 'AUX', 'READ']]);
  });
  it('a statement with a raw newline continues on the next line; escaped newlines and tabs are unescaped', () => {
    const { events, problems } = convert([
      "20261202 05:13:30,vm,app,h,4,9,QUERY,shop,'SELECT 1",
      "  FROM dual\\twhere \\'a\\\\b\\'',0",
    ]);
    assert.deepEqual(problems, []);
    assert.equal(events[0]!.commandText, "SELECT 1\n  FROM dual\twhere 'a\\b'");
  });
  it('a retcode other than 0 is an error: exitCode is the code, errorMessage says what is known', () => {
    const { events } = convert(["20261202 05:13:30,vm,app,127.0.0.1,4,4,QUERY,shop,'SELECT * FROM nosuch',1146", "20261202 05:13:30,vm,app,h,4,5,QUERY,shop,'X',4242"]);
    assert.equal(events[0]!.exitCode, '1146');
    assert.match(String(events[0]!.errorMessage), /ER_NO_SUCH_TABLE.*code only, not its message/);
    assert.equal(events[1]!.errorMessage, 'MariaDB error (see exitCode): server_audit logs the error code only, not its message');
  });
  it('TABLE lines whose QUERY never comes (another queryid, a DISCONNECT, the end) are AUX events on their own, counted', () => {
    const { events, conv } = convert([
      '20261202 05:13:30,vm,app,h,4,3,READ,shop,cards,',
      "20261202 05:13:30,vm,app,h,4,4,QUERY,shop,'SELECT 1',0",
      '20261202 05:13:31,vm,app,h,4,5,WRITE,shop,orders,',
      '20261202 05:13:31,vm,app,h,4,0,DISCONNECT,shop,,0',
      '20261202 05:13:32,vm,app,h,8,1,DROP,shop,old,',
    ]);
    assert.deepEqual(
      events.map((e) => [e.class, e.command, e.statementId]),
      [['AUX', 'READ', 3], ['MAIN', 'QUERY', 4], ['AUX', 'WRITE', 5], ['MAIN', 'DISCONNECT', 0], ['AUX', 'DROP', 1]],
    );
    assert.equal(conv.counts.orphanTables, 3);
  });
  it('unreadable lines are reported with their line number and skipped; the lines around them still convert', () => {
    const { events, problems, conv } = convert([
      'garbage',
      '20261202 05:13:30,vm,app,h,x,3,QUERY,shop,,0',
      "20261202 05:13:30,vm,app,h,4,3,QUERY,shop,'SELECT 1' trailing,0",
      "20261202 05:13:30,vm,app,h,4,3,QUERY,shop,'SELECT 1',abc",
      '20261202 05:13:30,vm,app,h,4,3,AUDIT_ROTATE,shop,,0',
      "20261202 05:13:30,vm,app,h,4,6,QUERY,shop,'never closed",
      '20261202 05:13:31,vm,app,h,4,0,DISCONNECT,shop,,0',
    ]);
    assert.deepEqual(
      problems.map((p) => p.line),
      [1, 2, 3, 4, 5, 6],
    );
    assert.match(problems[0]!.message, /not a server_audit entry/);
    assert.match(problems[4]!.message, /unknown operation AUDIT_ROTATE/);
    assert.match(problems[5]!.message, /quoted statement is not closed/);
    assert.deepEqual(events.map((e) => e.command), ['DISCONNECT']);
    assert.equal(conv.counts.unreadable, 6);
  });
  it('a log ending inside a quoted statement reports that statement\'s line', () => {
    const { problems } = convert(["20261202 05:13:30,vm,app,h,4,6,QUERY,shop,'SELECT", 'more']);
    assert.deepEqual(problems, [{ line: 1, message: 'the log ends inside a quoted statement' }]);
  });
});

describe('dasguard import mariadb-audit', () => {
  function capture(): { io: Io; out: () => string; err: () => string } {
    let out = '';
    let err = '';
    const w = (f: (s: string) => void): Writable => new Writable({ write(c, _e, cb) { f(String(c)); cb(); } });
    const io = { stdout: w((s) => (out += s)), stderr: w((s) => (err += s)) } as unknown as Io;
    return { io, out: () => out, err: () => err };
  }
  it('writes 1.2 records of MAIN and AUX events; a bad line is file:line on stderr and exit 1', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dasguard-mariadb-'));
    const log = join(dir, 'server_audit.log');
    writeFileSync(log, ['20261202 05:13:30,vm,app,127.0.0.1,4,0,CONNECT,shop,,0', ...SELECT_CARDS, 'oops', ''].join('\n'));
    const c = capture();
    const code = await main(['import', 'mariadb-audit', log, '--output', join(dir, 'out.jsonl')], c.io);
    assert.equal(code, 1, c.err());
    assert.match(c.err(), new RegExp(`${log.replace(/[.\\/]/g, '\\$&')}:5: not a server_audit entry`));
    assert.match(c.err(), /import mariadb-audit: 4 events in 1 record .*version 1\.2.*; 1 unreadable line/);
    const lines = readFileSync(join(dir, 'out.jsonl'), 'utf8').trim().split('\n');
    assert.equal(lines.length, 1);
    const rec = JSON.parse(lines[0]!) as { version: string; databaseActivityEvents: { databaseActivityEventList: DasEvent[] } };
    assert.equal(rec.version, '1.2');
    assert.deepEqual(rec.databaseActivityEvents.databaseActivityEventList.map((e) => `${e.class} ${e.command}`), ['MAIN CONNECT', 'MAIN QUERY', 'AUX READ', 'AUX READ']);
  });
});
