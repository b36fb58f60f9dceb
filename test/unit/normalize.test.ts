import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  engineOf,
  normalizeEvent,
  normalizeEvents,
  parseDasTime,
  rowsOf,
  type NormalizedEvents,
  type RecordContext,
} from '../../src/codec/normalize.js';
import type { ActivityEvent } from '../../src/types.js';
import { leadingCommand } from '../../src/sql/statement.js';

const ctx: RecordContext = { clusterId: 'cluster-C', instanceId: 'db-I', version: '1.2' };

function eventOf(raw: Record<string, unknown>, context: RecordContext = ctx): ActivityEvent {
  const n = normalizeEvent(raw, 0, context);
  assert.equal(n.kind, 'event');
  return (n as { event: ActivityEvent }).event;
}

function mysqlMain(commandText: string, command = 'QUERY'): Record<string, unknown> {
  return { type: 'record', serverType: 'MySQL', class: 'MAIN', command, commandText };
}

describe('parseDasTime', () => {
  const utc = Date.UTC(2019, 9, 30, 0, 39, 49, 940);
  const good: [string, number][] = [
    ['2019-10-30 00:39:49.940668+00', utc],
    ['2019-10-30T00:39:49.940668Z', utc],
    ['2019-10-30T00:39:49.940Z', utc],
    ['2019-10-30 00:39:49.940668+0000', utc],
    ['2019-10-30 00:39:49.940668+00:00', utc],
    ['2019-10-30 00:39:49.940668', utc],
    ['2019-10-30 02:39:49.94+02', utc],
    ['2019-10-29 19:09:49.940-05:30', utc],
    ['2019-10-30 00:39:49+00', Date.UTC(2019, 9, 30, 0, 39, 49)],
    ['2019-10-30T00:39', Date.UTC(2019, 9, 30, 0, 39)],
    ['2019-10-30 00:39:49.9+00', Date.UTC(2019, 9, 30, 0, 39, 49, 900)],
    ['2019-10-30 00:39:49.940668 +00', utc],
    ['2019-10-30 00:39:49,940668Z', utc],
    ['2020-02-29 12:00:00+00', Date.UTC(2020, 1, 29, 12)],
    ['2000-02-29 12:00:00+00', Date.UTC(2000, 1, 29, 12)],
  ];
  for (const [text, expected] of good) {
    it(`reads ${JSON.stringify(text)}`, () => assert.equal(parseDasTime(text), expected));
  }
  const bad: unknown[] = [
    null,
    undefined,
    '',
    'yesterday',
    '2019-02-30 00:00:00+00',
    '2019-02-29 00:00:00+00',
    '1900-02-29 00:00:00+00',
    '2019-04-31 00:00:00',
    '2019-10-30 00:39:49.+00',
    '2019-10-30 00:39:49.940668+0',
    '2019-10-30 00:39:49.940668+00junk',
    '2019-10-30 00:39:4x.940668+00',
    '2019-13-01 00:00:00',
    '2019-10-30 24:00:00',
    '2019-10-30 00:39:49 +99',
    '2019-10-30',
    1572395989940,
  ];
  for (const v of bad) {
    it(`gives null for ${JSON.stringify(v) ?? 'undefined'}`, () => assert.equal(parseDasTime(v), null));
  }
});

describe('rows', () => {
  it('keeps numbers, converts numeric strings, nulls the rest', () => {
    assert.equal(rowsOf(10), 10);
    assert.equal(rowsOf(0), 0);
    assert.equal(rowsOf('12'), 12);
    assert.equal(rowsOf(' 7 '), 7);
    assert.equal(rowsOf(null), null);
    assert.equal(rowsOf(undefined), null);
    assert.equal(rowsOf(''), null);
    assert.equal(rowsOf('many'), null);
    assert.equal(rowsOf(Number.NaN), null);
  });
});

describe('engine', () => {
  it('comes from serverType, then serviceName, then the version', () => {
    assert.equal(engineOf({ serverType: 'PostgreSQL' }, '1.2'), 'postgresql');
    assert.equal(engineOf({ serverType: 'MySQL' }, '1.1'), 'mysql');
    assert.equal(engineOf({ serverType: 'Oracle' }, null), 'oracle');
    assert.equal(engineOf({ serverType: 'SQL Server' }, null), 'sqlserver');
    assert.equal(engineOf({ serverType: 'SQLSERVER' }, null), 'sqlserver');
    assert.equal(engineOf({ serviceName: 'Amazon Aurora PostgreSQL-Compatible edition' }, null), 'postgresql');
    assert.equal(engineOf({ serviceName: 'Amazon Aurora MySQL' }, null), 'mysql');
    assert.equal(engineOf({}, '1.0'), 'postgresql');
    assert.equal(engineOf({}, '1.1'), 'postgresql');
    assert.equal(engineOf({}, '1.2'), 'mysql');
    assert.equal(engineOf({}, '1.3'), 'oracle');
    assert.equal(engineOf({}, '1.4'), 'sqlserver');
    assert.equal(engineOf({}, '9.9'), 'unknown');
    assert.equal(engineOf({ serverType: 'DB2' }, null), 'unknown');
  });
});

describe('sqlCommand', () => {
  const cases: [string, string | null][] = [
    ['SELECT * FROM test1 WHERE id < 28', 'SELECT'],
    ['  \n\tselect 1', 'SELECT'],
    ['/* app=checkout */ SELECT 1', 'SELECT'],
    ['-- note\nUPDATE t SET a = 1', 'UPDATE'],
    ['# note\nDELETE FROM t', 'DELETE'],
    ['((SELECT 1) UNION (SELECT 2))', 'SELECT'],
    ['/*!40101 SET NAMES utf8 */', 'SET'],
    ['CREATE TABLE test1 (id INT)', 'CREATE TABLE'],
    ['create temporary table t (a int)', 'CREATE TABLE'],
    ['CREATE OR REPLACE VIEW v AS SELECT 1', 'CREATE VIEW'],
    ['CREATE UNIQUE INDEX i ON t (a)', 'CREATE INDEX'],
    ["CREATE DEFINER='admin'@'%' PROCEDURE p() BEGIN END", 'CREATE PROCEDURE'],
    ['CREATE DEFINER=`root`@`localhost` TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET @a = 1', 'CREATE TRIGGER'],
    ['CREATE DEFINER=CURRENT_USER() FUNCTION f() RETURNS INT RETURN 1', 'CREATE FUNCTION'],
    ['CREATE ALGORITHM=MERGE DEFINER=admin@localhost SQL SECURITY INVOKER VIEW v AS SELECT 1', 'CREATE VIEW'],
    ["CREATE USER 'bob'@'%' IDENTIFIED BY '***'", 'CREATE USER'],
    ['ALTER TABLE t ADD COLUMN b INT', 'ALTER TABLE'],
    ["ALTER USER 'bob'@'%' IDENTIFIED BY 'x'", 'ALTER USER'],
    ['DROP TABLE IF EXISTS t', 'DROP TABLE'],
    ['DROP DATABASE prod', 'DROP DATABASE'],
    ['CREATE LOGFILE GROUP lg ADD UNDOFILE "u"', 'CREATE LOGFILE GROUP'],
    ["GRANT ALL ON *.* TO 'bob'@'%'", 'GRANT'],
    ['REVOKE SELECT ON db.* FROM bob', 'REVOKE'],
    ['TRUNCATE t', 'TRUNCATE TABLE'],
    ['TRUNCATE TABLE t', 'TRUNCATE TABLE'],
    ['RENAME TABLE a TO b', 'RENAME TABLE'],
    ["SET PASSWORD FOR bob = 'x'", 'SET PASSWORD'],
    ['SET autocommit = 0', 'SET'],
    ['START TRANSACTION', 'START TRANSACTION'],
    ["LOAD DATA INFILE 'f' INTO TABLE t", 'LOAD DATA'],
    ['WITH x AS (SELECT 1 AS a) SELECT * FROM x', 'SELECT'],
    ['WITH RECURSIVE x (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM x) DELETE FROM t', 'DELETE'],
    ['', null],
    ['   ', null],
    ['/* only a comment */', null],
    ['42', null],
  ];
  for (const [text, expected] of cases) {
    it(`MySQL MAIN ${JSON.stringify(text)} -> ${expected}`, () => {
      assert.equal(leadingCommand(text, 'mysql'), expected);
      assert.equal(eventOf(mysqlMain(text)).sqlCommand, expected);
    });
  }

  it('uses `command` for MySQL MAIN events that are not queries', () => {
    assert.equal(eventOf(mysqlMain('', 'CONNECT')).sqlCommand, 'CONNECT');
    assert.equal(eventOf(mysqlMain('', 'FAILED_CONNECT')).sqlCommand, 'FAILED_CONNECT');
    assert.equal(eventOf(mysqlMain('', 'DISCONNECT')).sqlCommand, 'DISCONNECT');
  });

  it('is null for MySQL AUX events (they describe objects)', () => {
    assert.equal(eventOf({ ...mysqlMain('test1', 'CREATE'), class: 'AUX' }).sqlCommand, null);
  });

  it('is the PostgreSQL `command`, upper case', () => {
    const pg = { type: 'record', serverType: 'PostgreSQL', command: 'create table', commandText: 'x' };
    assert.equal(eventOf(pg).sqlCommand, 'CREATE TABLE');
    assert.equal(eventOf({ ...pg, command: null }).sqlCommand, null);
  });
});

describe('normalizeEvent', () => {
  it('keeps every original field verbatim, odd types included, and adds dasguard fields', () => {
    const raw = {
      type: 'record',
      serverType: 'PostgreSQL',
      sessionId: '5ce5f7f0.474b',
      remotePort: '49804',
      statementId: 1,
      paramList: ['a', null],
      logTime: '2019-10-30 00:39:49.990579+00',
      startTime: '2019-10-30 00:39:49.940668+00',
      rowCount: '3',
      command: 'SELECT',
      someFutureField: { nested: [1, 2] },
    };
    const ev = eventOf(raw, { clusterId: 'cluster-X', instanceId: 'db-Y', version: '1.1' });
    for (const [k, v] of Object.entries(raw)) assert.deepEqual(ev[k], v, `field ${k} kept`);
    assert.equal(ev.engine, 'postgresql');
    assert.equal(ev.clusterId, 'cluster-X');
    assert.equal(ev.instanceId, 'db-Y');
    assert.equal(ev.recordVersion, '1.1');
    assert.equal(ev.logTimeMs, Date.UTC(2019, 9, 30, 0, 39, 49, 990));
    assert.equal(ev.startTimeMs, Date.UTC(2019, 9, 30, 0, 39, 49, 940));
    assert.equal(ev.endTimeMs, null);
    assert.equal(ev.rows, 3);
    assert.equal(ev.sqlCommand, 'SELECT');
  });

  it('keeps a SQL Server hex statementId verbatim', () => {
    const ev = eventOf({ type: 'record', statementId: '0x4F2A00', command: 'SELECT' }, { ...ctx, version: '1.4' });
    assert.equal(ev.statementId, '0x4F2A00');
    assert.equal(ev.engine, 'sqlserver');
  });

  it('does not modify the raw event', () => {
    const raw = { type: 'record', command: 'SELECT' };
    eventOf(raw);
    assert.deepEqual(raw, { type: 'record', command: 'SELECT' });
  });

  it('sets heartbeats apart', () => {
    const n = normalizeEvent({ type: 'heartbeat', logTime: '2020-05-22 18:07:13.267214+00' }, 3, ctx);
    assert.equal(n.kind, 'heartbeat');
    if (n.kind !== 'heartbeat') return;
    assert.equal(n.heartbeat.clusterId, 'cluster-C');
    assert.equal(n.heartbeat.instanceId, 'db-I');
    assert.equal(n.heartbeat.logTimeMs, Date.UTC(2020, 4, 22, 18, 7, 13, 267));
    assert.equal(n.heartbeat.raw.type, 'heartbeat');
  });

  const rejects: [string, unknown, RegExp][] = [
    ['a number', 42, /event 5 is not a JSON object \(got a number\)/],
    ['null', null, /not a JSON object \(got null\)/],
    ['an array', [1], /not a JSON object \(got an array\)/],
    ['a string', 'record', /not a JSON object \(got a string\)/],
    ['no type', { command: 'SELECT' }, /event 5 has no "type"/],
    ['an unknown type', { type: 'audit' }, /event 5 has unknown type "audit"/],
    ['type in the wrong case', { type: 'RECORD' }, /unknown type "RECORD"/],
  ];
  for (const [name, raw, reason] of rejects) {
    it(`rejects ${name}, saying why`, () => {
      const n = normalizeEvent(raw, 5, ctx);
      assert.equal(n.kind, 'rejected');
      if (n.kind !== 'rejected') return;
      assert.equal(n.rejected.index, 5);
      assert.match(n.rejected.reason, reason);
      assert.equal(n.rejected.raw, raw);
    });
  }

  it('sorts a mixed list, keeping the good events', () => {
    const out: NormalizedEvents = { events: [], heartbeats: [], rejected: [] };
    normalizeEvents([{ type: 'record' }, 7, { type: 'heartbeat' }, { type: 'x' }, { type: 'record' }], ctx, out);
    assert.equal(out.events.length, 2);
    assert.equal(out.heartbeats.length, 1);
    assert.deepEqual(
      out.rejected.map((r) => r.index),
      [1, 3],
    );
  });
  it('gives a list\'s own objects as its events, the same fields in the same order as normalizeEvent\'s copies', () => {
    const text = JSON.stringify([
      { type: 'record', serverType: 'MySQL', class: 'MAIN', command: 'QUERY', commandText: 'DELETE FROM t', logTime: '2020-05-22 18:07:13.267214+00', rowCount: '3' },
      // raw fields named like added ones are replaced in their place, on either path
      { engine: 'x', type: 'record', rows: 99, command: 'SELECT', sqlCommand: 'nope', logTimeMs: 1 },
    ]);
    const copies = (JSON.parse(text) as unknown[]).map((raw) => (normalizeEvent(raw, 0, ctx) as { event: ActivityEvent }).event);
    const list = JSON.parse(text) as unknown[];
    const out: NormalizedEvents = { events: [], heartbeats: [], rejected: [] };
    normalizeEvents(list, ctx, out, true);
    assert.deepEqual(out.events, copies);
    assert.deepEqual(out.events.map((e) => Object.keys(e)), copies.map((e) => Object.keys(e)));
    assert.equal(out.events[0], list[0]);
    // A list that is not given away (a caller's parsed record) is left as it is: its events are copies.
    const theirs = JSON.parse(text) as unknown[];
    const copied: NormalizedEvents = { events: [], heartbeats: [], rejected: [] };
    normalizeEvents(theirs, ctx, copied);
    assert.deepEqual(copied.events, copies);
    assert.deepEqual(theirs, JSON.parse(text));
    assert.equal(out.events[1]?.rows, null);
    assert.equal(out.events[1]?.engine, 'mysql');
  });
});

describe('hostile field names', () => {
  it('keeps a "__proto__" field as data, not as the prototype', () => {
    const raw = JSON.parse('{"type":"record","command":"SELECT","__proto__":{"isAdmin":true}}') as Record<string, unknown>;
    const ev = eventOf(raw);
    assert.equal(Object.getPrototypeOf(ev), Object.prototype);
    assert.equal((ev as Record<string, unknown>).isAdmin, undefined);
    assert.deepEqual(Object.getOwnPropertyDescriptor(ev, '__proto__')?.value, { isAdmin: true });
  });

  it('keeps it as data in a list\'s own objects too', () => {
    const out: NormalizedEvents = { events: [], heartbeats: [], rejected: [] };
    normalizeEvents(JSON.parse('[{"type":"record","command":"SELECT","__proto__":{"isAdmin":true}}]') as unknown[], ctx, out, true);
    const ev = out.events[0] as ActivityEvent;
    assert.equal(Object.getPrototypeOf(ev), Object.prototype);
    assert.equal((ev as Record<string, unknown>).isAdmin, undefined);
    assert.deepEqual(Object.getOwnPropertyDescriptor(ev, '__proto__')?.value, { isAdmin: true });
    assert.equal(ev.sqlCommand, 'SELECT');
  });
});
