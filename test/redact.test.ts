import { test } from 'node:test';
import assert from 'node:assert/strict';
import { redactParams, redactSql } from '../src/redact.js';

test('PostgreSQL: passwords in ALTER ROLE / CREATE USER never survive; identifiers do', () => {
  const cases = [
    ["ALTER ROLE alice WITH PASSWORD 'hunter2'", 'ALTER ROLE alice WITH PASSWORD ?'],
    ["CREATE USER bob PASSWORD 'p@ss''word' VALID UNTIL '2030-01-01'", 'CREATE USER bob PASSWORD ? VALID UNTIL ?'],
    ["ALTER USER \"Mixed Case\" PASSWORD E'sec\\'ret'", 'ALTER USER "Mixed Case" PASSWORD ?'],
    ["ALTER ROLE carol PASSWORD $$dollar$$", 'ALTER ROLE carol PASSWORD ?'],
    ["ALTER ROLE dave PASSWORD $pw$has ' quote$pw$", 'ALTER ROLE dave PASSWORD ?'],
  ] as const;
  for (const [sql, want] of cases) {
    const got = redactSql(sql, 'postgresql');
    assert.equal(got, want);
    for (const secret of ['hunter2', "p@ss", 'word', 'sec', 'dollar', 'has']) assert.ok(!got.includes(secret), `${got} leaks ${secret}`);
  }
});

test('MySQL: SET PASSWORD / CREATE USER / IDENTIFIED BY masked, with backslash escapes and "strings"; account names kept', () => {
  assert.equal(redactSql("SET PASSWORD = 'my-password'", 'mysql'), 'SET PASSWORD = ?');
  assert.equal(redactSql("SET PASSWORD FOR 'bob'@'%' = \"pa\\\"ss\"", 'mysql'), "SET PASSWORD FOR 'bob'@'%' = ?");
  assert.equal(
    redactSql("CREATE USER 'bob'@'10.0.%' IDENTIFIED BY 's3cr\\'et' PASSWORD EXPIRE", 'mysql'),
    "CREATE USER 'bob'@'10.0.%' IDENTIFIED BY ? PASSWORD EXPIRE",
  );
  assert.equal(redactSql("ALTER USER bob@localhost IDENTIFIED BY 'x'", 'mysql'), 'ALTER USER bob@localhost IDENTIFIED BY ?');
  // a backslash-escaped quote does not end the string early and leak its tail
  assert.equal(redactSql("SELECT 'a\\' OR 1=1 -- ' FROM t", 'mysql'), 'SELECT ? FROM t');
});

test('numbers, hex and bit literals are masked; identifiers that contain digits are kept', () => {
  assert.equal(
    redactSql('SELECT t1.col2, 3.14, .5, 1e-3, 0x1F, -7 FROM t1 WHERE a = 42', 'postgresql'),
    'SELECT t1.col2, ?, ?, ?, ?, -? FROM t1 WHERE a = ?',
  );
  assert.equal(redactSql("SELECT x'4142', b'0101', X'FF', _utf8mb4'zz' FROM `tbl1`", 'mysql'), 'SELECT ?, ?, ?, ? FROM `tbl1`');
  assert.equal(redactSql("SELECT B'0101', N'national', U&'d\\0061t'", 'postgresql'), 'SELECT ?, ?, ?');
});

test('PostgreSQL "quoted identifiers", $1 placeholders, casts and comments are kept', () => {
  assert.equal(
    redactSql(`SELECT "Weird ""Name""" FROM public."Orders" WHERE id = $1 AND ts > now()::date -- 'note'`, 'postgresql'),
    `SELECT "Weird ""Name""" FROM public."Orders" WHERE id = $1 AND ts > now()::date -- 'note'`,
  );
  // a standard string: a backslash is a plain character, '' the only escape
  assert.equal(redactSql("SELECT 'C:\\dir\\' AS p, 'it''s'", 'postgresql'), 'SELECT ? AS p, ?');
});

test('dollar-quoted function bodies are masked whole, nested quotes and all', () => {
  const sql = "CREATE FUNCTION f() RETURNS int AS $body$ BEGIN PERFORM 'secret'; RETURN 1; END $body$ LANGUAGE plpgsql";
  assert.equal(redactSql(sql, 'postgresql'), 'CREATE FUNCTION f() RETURNS int AS ? LANGUAGE plpgsql');
});

test('unterminated literals are masked to the end; empty text stays empty', () => {
  assert.equal(redactSql("SELECT 'never closed secret", 'postgresql'), 'SELECT ?');
  assert.equal(redactSql('SELECT $$never closed', 'postgresql'), 'SELECT ?');
  assert.equal(redactSql('', 'mysql'), '');
});

test('double quotes: identifiers on PostgreSQL/Oracle/SQL Server, strings on MySQL and unknown engines', () => {
  assert.equal(redactSql('SELECT "x" FROM t', 'oracle'), 'SELECT "x" FROM t');
  assert.equal(redactSql('SELECT [col 1], "x" FROM t', 'sqlserver'), 'SELECT [col 1], "x" FROM t');
  assert.equal(redactSql('SELECT "x" FROM t', 'mysql'), 'SELECT ? FROM t');
  assert.equal(redactSql('SELECT "x" FROM t', 'unknown'), 'SELECT ? FROM t');
});

test('redactParams masks every bind value, keeps nulls, and copies', () => {
  const params = ['4111111111111111', 42, null, 'x'];
  assert.deepEqual(redactParams(params), ['?', '?', null, '?']);
  assert.deepEqual(params, ['4111111111111111', 42, null, 'x']);
  assert.deepEqual(redactParams({ a: 'secret', b: null }), { a: '?', b: null });
  assert.equal(redactParams('card=4111'), '?');
  assert.equal(redactParams(null), null);
  assert.equal(redactParams(undefined), undefined);
  assert.deepEqual(redactParams([]), []);
});
