import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normalizeEvent } from '../../src/codec/normalize.js';
import { mysqlVersionOf } from '../../src/sql/lexer.js';
import { leadingCommand, statementShape } from '../../src/sql/statement.js';
import type { ActivityEvent } from '../../src/types.js';

function mysqlEvent(commandText: string, serverVersion?: string): ActivityEvent {
  const raw: Record<string, unknown> = { type: 'record', class: 'MAIN', command: 'QUERY', commandText, serverType: 'MySQL' };
  if (serverVersion !== undefined) raw.serverVersion = serverVersion;
  const n = normalizeEvent(raw, 0, { clusterId: 'cluster-C', instanceId: 'db-I', version: '1.2' });
  assert.equal(n.kind, 'event');
  return (n as { event: ActivityEvent }).event;
}

describe('MySQL executable comments are read as the server reads them', () => {
  it('a version above the server is a comment; at or below it, code', () => {
    assert.equal(mysqlEvent('/*!99999 SELECT 1 */ DROP TABLE orders').sqlCommand, 'DROP TABLE');
    assert.equal(mysqlEvent('/*!50000 DROP TABLE orders */').sqlCommand, 'DROP TABLE');
    assert.equal(mysqlEvent('/*! DELETE FROM orders */').sqlCommand, 'DELETE');
    // the event's own serverVersion decides
    assert.equal(mysqlEvent('/*!80000 SELECT 1 */ GRANT ALL ON *.* TO x', 'MySQL 5.7.12').sqlCommand, 'GRANT');
    assert.equal(mysqlEvent('/*!80000 SELECT 1 */ GRANT ALL ON *.* TO x', '8.0.mysql_aurora.3.04.0').sqlCommand, 'SELECT');
    // fewer than five digits are code, not a version
    assert.equal(statementShape('/*!1234 SELECT 1 */', 'mysql').comments, 0);
    // a sixth digit counts when whitespace follows (MySQL 8.4, MariaDB)
    assert.equal(leadingCommand('/*!100000 SELECT 1 */ DROP TABLE t', 'mysql'), 'DROP TABLE');
    // MariaDB-only comments run on MariaDB only
    assert.equal(mysqlEvent('/*M!100100 DROP TABLE t */ SELECT 1').sqlCommand, 'SELECT');
    assert.equal(mysqlEvent('/*M!100100 DROP TABLE t */ SELECT 1', '10.6.12-MariaDB-log').sqlCommand, 'DROP TABLE');
    // optimizer hints are comments
    assert.equal(leadingCommand('/*+ SET_VAR(x=1) */ UPDATE t SET a = 1', 'mysql'), 'UPDATE');
  });

  it('server versions: MySQL, Aurora and MariaDB spellings', () => {
    assert.equal(mysqlVersionOf('MySQL 5.7.12'), 50712);
    assert.equal(mysqlVersionOf('8.0.mysql_aurora.3.04.0'), 80000);
    assert.equal(mysqlVersionOf('10.6.12-MariaDB'), 100612);
    assert.equal(mysqlVersionOf(undefined), undefined);
    assert.equal(mysqlVersionOf('unknown'), undefined);
  });
});

describe('sqlHasWhere: WHERE outside comments and literals, at the statement level, testing something', () => {
  const cases: [string, boolean][] = [
    ['DELETE FROM orders', false],
    ['DELETE FROM orders WHERE id = 7', true],
    ['DELETE FROM orders -- where id = 7', false],
    ['DELETE FROM orders /* WHERE id = 7 */', false],
    ["UPDATE accounts SET note = 'where'", false],
    ['UPDATE accounts SET "where" = 1', false],
    ['UPDATE t SET a = (SELECT b FROM u WHERE u.id = t.id)', false],
    ['WITH x AS (SELECT id FROM t WHERE id > 5) DELETE FROM orders', false],
    ['WITH x AS (SELECT 1) DELETE FROM orders WHERE id IN (SELECT id FROM x)', true],
    ['DELETE FROM orders WHERE 1=1', false],
    ["DELETE FROM orders WHERE 'a' = 'a' OR TRUE", false],
    ['DELETE FROM orders WHERE NOT FALSE ORDER BY id LIMIT 10', false],
    ['DELETE FROM orders WHERE id = $1', true],
    ['DELETE FROM orders WHERE CURRENT OF c', true],
    ['DELETE FROM orders; SELECT * FROM t WHERE a = 1', false],
    ['update accounts set balance = 0\nwhere id = 3', true],
  ];
  for (const [sql, want] of cases) {
    it(`${JSON.stringify(sql)} -> ${want}`, () => {
      assert.equal(statementShape(sql, 'postgresql').hasWhere, want);
      assert.equal(statementShape(sql, 'mysql').hasWhere, want);
    });
  }

  it('MySQL code in an executable comment counts; a skipped one does not', () => {
    assert.equal(statementShape('DELETE FROM t /*!50000 WHERE id = 1 */', 'mysql').hasWhere, true);
    assert.equal(statementShape('DELETE FROM t /*!99999 WHERE id = 1 */', 'mysql').hasWhere, false);
    assert.equal(statementShape('DELETE FROM t # WHERE id = 1', 'mysql').hasWhere, false);
  });

  it('is a field only for DELETE and UPDATE; null for other statements and for events without text', () => {
    assert.equal(mysqlEvent('DELETE FROM t').sqlHasWhere, false);
    assert.equal(mysqlEvent('UPDATE t SET a = 1 WHERE b = 2').sqlHasWhere, true);
    assert.equal(mysqlEvent('SELECT * FROM t').sqlHasWhere, null);
    const aux = normalizeEvent({ type: 'record', class: 'AUX', command: 'DELETE', commandText: 'orders', serverType: 'MySQL' }, 0, { clusterId: null, instanceId: null, version: '1.2' });
    assert.equal(aux.kind === 'event' && aux.event.sqlHasWhere, null);
    const pg = normalizeEvent({ type: 'record', class: 'WRITE', command: 'DELETE', commandText: 'delete from t -- where x', serverType: 'PostgreSQL' }, 0, { clusterId: null, instanceId: null, version: '1.1' });
    assert.equal(pg.kind === 'event' && pg.event.sqlHasWhere, false);
  });
});

describe('sqlComments counts comments; MySQL code comments are not comments', () => {
  it('counts every kind', () => {
    assert.equal(mysqlEvent("SELECT 1 -- a\n# b\n/* c */ /*+ hint */ /*!99999 skipped */").sqlComments, 5);
    assert.equal(mysqlEvent('/*!40101 SET NAMES utf8 */').sqlComments, 0);
    assert.equal(mysqlEvent("SELECT '-- not a comment', '/* nor this */'").sqlComments, 0);
    assert.equal(statementShape('/* a /* nested */ b */ SELECT 1', 'postgresql').comments, 1);
    assert.equal(statementShape("SELECT $$ -- no $$, 'x' -- yes", 'postgresql').comments, 1);
  });
});
