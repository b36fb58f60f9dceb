import { test } from 'node:test';
import assert from 'node:assert/strict';
import { carriesOf, maskBinds, maskMessage, maskSql, redactAlert, redactEvent, redactField, renderMessage, withMessageParts, MESSAGE_PARTS, REMOVED } from '../../src/redaction/index.js';
import { ACTIVITY_FIELD_SPECS, NATIVE_AUDIT_CARRIES, NATIVE_AUDIT_FIELDS, type Carries } from '../../src/rules/fields.js';
import { jsonLine, terminalLines, terminalSafe } from '../../src/util/escape.js';

test('PostgreSQL: passwords in ALTER ROLE / CREATE USER never survive; identifiers do', () => {
  const cases = [
    ["ALTER ROLE alice WITH PASSWORD 'hunter2'", 'ALTER ROLE alice WITH PASSWORD ?'],
    ["CREATE USER bob PASSWORD 'p@ss''word' VALID UNTIL '2030-01-01'", 'CREATE USER bob PASSWORD ? VALID UNTIL ?'],
    ["ALTER USER \"Mixed Case\" PASSWORD E'sec\\'ret'", 'ALTER USER "Mixed Case" PASSWORD ?'],
    ["ALTER ROLE carol PASSWORD $$dollar$$", 'ALTER ROLE carol PASSWORD ?'],
    ["ALTER ROLE dave PASSWORD $pw$has ' quote$pw$", 'ALTER ROLE dave PASSWORD ?'],
  ] as const;
  for (const [sql, want] of cases) {
    const got = maskSql(sql, 'postgresql');
    assert.equal(got, want);
    for (const secret of ['hunter2', "p@ss", 'word', 'sec', 'dollar', 'has']) assert.ok(!got.includes(secret), `${got} leaks ${secret}`);
  }
});

test('MySQL: SET PASSWORD / CREATE USER / IDENTIFIED BY masked, with backslash escapes and "strings"; account names kept', () => {
  assert.equal(maskSql("SET PASSWORD = 'my-password'", 'mysql'), 'SET PASSWORD = ?');
  assert.equal(maskSql("SET PASSWORD FOR 'bob'@'%' = \"pa\\\"ss\"", 'mysql'), "SET PASSWORD FOR 'bob'@'%' = ?");
  assert.equal(
    maskSql("CREATE USER 'bob'@'10.0.%' IDENTIFIED BY 's3cr\\'et' PASSWORD EXPIRE", 'mysql'),
    "CREATE USER 'bob'@'10.0.%' IDENTIFIED BY ? PASSWORD EXPIRE",
  );
  assert.equal(maskSql("ALTER USER bob@localhost IDENTIFIED BY 'x'", 'mysql'), 'ALTER USER bob@localhost IDENTIFIED BY ?');
  // a backslash-escaped quote does not end the string early and leak its tail
  assert.equal(maskSql("SELECT 'a\\' OR 1=1 -- ' FROM t", 'mysql'), 'SELECT ? FROM t');
});

test('numbers, hex and bit literals are masked; identifiers that contain digits are kept', () => {
  assert.equal(
    maskSql('SELECT t1.col2, 3.14, .5, 1e-3, 0x1F, -7 FROM t1 WHERE a = 42', 'postgresql'),
    'SELECT t1.col2, ?, ?, ?, ?, -? FROM t1 WHERE a = ?',
  );
  assert.equal(maskSql("SELECT x'4142', b'0101', X'FF', _utf8mb4'zz' FROM `tbl1`", 'mysql'), 'SELECT ?, ?, ?, ? FROM `tbl1`');
  assert.equal(maskSql("SELECT B'0101', N'national', U&'d\\0061t'", 'postgresql'), 'SELECT ?, ?, ?');
});

test('PostgreSQL "quoted identifiers", $1 placeholders and casts are kept; comment text is masked', () => {
  assert.equal(
    maskSql(`SELECT "Weird ""Name""" FROM public."Orders" WHERE id = $1 AND ts > now()::date -- 'note'`, 'postgresql'),
    `SELECT "Weird ""Name""" FROM public."Orders" WHERE id = $1 AND ts > now()::date -- ?`,
  );
  // a standard string: a backslash is a plain character, '' the only escape
  assert.equal(maskSql("SELECT 'C:\\dir\\' AS p, 'it''s'", 'postgresql'), 'SELECT ? AS p, ?');
});

test('dollar-quoted function bodies are masked whole, nested quotes and all', () => {
  const sql = "CREATE FUNCTION f() RETURNS int AS $body$ BEGIN PERFORM 'secret'; RETURN 1; END $body$ LANGUAGE plpgsql";
  assert.equal(maskSql(sql, 'postgresql'), 'CREATE FUNCTION f() RETURNS int AS ? LANGUAGE plpgsql');
});

test('unterminated literals are masked to the end; empty text stays empty', () => {
  assert.equal(maskSql("SELECT 'never closed secret", 'postgresql'), 'SELECT ?');
  assert.equal(maskSql('SELECT $$never closed', 'postgresql'), 'SELECT ?');
  assert.equal(maskSql('', 'mysql'), '');
});

test('double quotes: identifiers on PostgreSQL/Oracle/SQL Server, strings on MySQL and unknown engines', () => {
  assert.equal(maskSql('SELECT "x" FROM t', 'oracle'), 'SELECT "x" FROM t');
  assert.equal(maskSql('SELECT [col 1], "x" FROM t', 'sqlserver'), 'SELECT [col 1], "x" FROM t');
  assert.equal(maskSql('SELECT "x" FROM t', 'mysql'), 'SELECT ? FROM t');
  assert.equal(maskSql('SELECT "x" FROM t', 'unknown'), 'SELECT ? FROM t');
});

test('redactParams masks every bind value, keeps nulls, and copies', () => {
  const params = ['4111111111111111', 42, null, 'x'];
  assert.deepEqual(maskBinds(params), ['?', '?', null, '?']);
  assert.deepEqual(params, ['4111111111111111', 42, null, 'x']);
  assert.deepEqual(maskBinds({ a: 'secret', b: null }), { a: '?', b: null });
  assert.equal(maskBinds('card=4111'), '?');
  assert.equal(maskBinds(null), null);
  assert.equal(maskBinds(undefined), undefined);
  assert.deepEqual(maskBinds([]), []);
});

test('comment text is masked on every engine, delimiters kept; MySQL executable comments stay code', () => {
  const pan = '4111111111111111';
  const cases: [string, Parameters<typeof maskSql>[1], string][] = [
    [`SELECT 1 /* pan ${pan} password=hunter2 */ FROM t`, 'postgresql', 'SELECT ? /* ? */ FROM t'],
    [`SELECT 1 -- token abc\nFROM t`, 'postgresql', 'SELECT ? -- ?\nFROM t'],
    [`SELECT 1 # token abc`, 'mysql', 'SELECT ? # ?'],
    [`SELECT /*+ MAX_EXECUTION_TIME(1000) pan=${pan} */ a FROM t`, 'mysql', 'SELECT /* ? */ a FROM t'],
    [`/* outer /* nested ${pan} */ still comment */ SELECT 1`, 'postgresql', '/* ? */ SELECT ?'],
    [`/*!50000 SELECT 'x${pan}' */`, 'mysql', '/*!50000 SELECT ? */'],
    [`/*!99999 SELECT '${pan}' */ DROP TABLE orders`, 'mysql', '/*!99999 ? */ DROP TABLE orders'],
    [`SELECT 1 /* never closed ${pan}`, 'oracle', 'SELECT ? /* ?'],
  ];
  for (const [sql, engine, want] of cases) {
    const got = maskSql(sql, engine);
    assert.equal(got, want, sql);
    for (const secret of [pan, 'hunter2', 'abc']) assert.ok(!got.includes(secret), `${got} leaks ${secret}`);
  }
});

test('a statement masked again gives the same text; under another engine or server version, that one\'s masking', () => {
  const q = "/*!80000 SELECT 'a' */ SELECT 'b'";
  for (let i = 0; i < 2; i++) {
    assert.equal(maskSql(q, 'mysql', { serverVersion: 'MySQL 5.7.12' }), "/*!80000 ? */ SELECT ?");
    assert.equal(maskSql(q, 'mysql', { serverVersion: '8.0.mysql_aurora.3.04.0' }), "/*!80000 SELECT ? */ SELECT ?");
    assert.equal(maskSql(q, 'postgresql'), '/* ? */ SELECT ?');
    assert.equal(maskSql("/*M!100100 SELECT 'x' */", 'mysql', { serverVersion: '10.6.12-MariaDB-log' }), '/*M!100100 SELECT ? */');
    assert.equal(maskSql("/*M!100100 SELECT 'x' */", 'mysql', { serverVersion: 10.6 }), '/*M!100100 ? */');
  }
  // A server version that holds the separator cannot pass for another version and text.
  assert.equal(maskSql("SELECT 'x'", 'mysql', { serverVersion: '5:5.7' }), 'SELECT ?');
  assert.equal(maskSql("5.7:SELECT 'x'", 'mysql', { serverVersion: '5' }), '?:SELECT ?');
  // Long statements and many different ones are masked the same way (beyond what is remembered).
  const long = `SELECT '${'x'.repeat(5000)}'`;
  assert.equal(maskSql(long, 'postgresql'), 'SELECT ?');
  for (let i = 0; i < 600; i++) assert.equal(maskSql(`SELECT ${i}, 'v${i}' FROM t${i}`, 'postgresql'), `SELECT ?, ? FROM t${i}`);
  // More server versions than are remembered at once, each still its own masking, the first again after the rest.
  for (const round of [0, 1]) {
    for (let v = 0; v < 40; v++) {
      const version = v % 2 === 0 ? `MySQL 5.7.${v}` : `8.0.mysql_aurora.3.0${v}.0`;
      assert.equal(maskSql(q, 'mysql', { serverVersion: version }), v % 2 === 0 ? '/*!80000 ? */ SELECT ?' : '/*!80000 SELECT ? */ SELECT ?', `${version}, round ${round}`);
    }
  }
});

test('passwords written as identifiers: the token after IDENTIFIED ... BY / AS and REPLACE is masked', () => {
  assert.equal(maskSql('CREATE USER bob IDENTIFIED BY "Tr0ub4dor&3"', 'oracle'), 'CREATE USER bob IDENTIFIED BY ?');
  assert.equal(maskSql('ALTER USER bob IDENTIFIED BY hunter2 REPLACE oldpass1', 'oracle'), 'ALTER USER bob IDENTIFIED BY ? REPLACE ?');
  assert.equal(maskSql("ALTER USER 'bob'@'%' IDENTIFIED WITH caching_sha2_password BY 'x'", 'mysql'), "ALTER USER 'bob'@'%' IDENTIFIED WITH caching_sha2_password BY ?");
  assert.equal(
    maskSql("CREATE USER 'bob'@'%' IDENTIFIED WITH mysql_native_password AS '*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19'", 'mysql'),
    "CREATE USER 'bob'@'%' IDENTIFIED WITH mysql_native_password AS ?",
  );
  assert.equal(maskSql('CREATE USER u IDENTIFIED BY p; SELECT a FROM t ORDER BY b', 'oracle'), 'CREATE USER u IDENTIFIED BY ?; SELECT a FROM t ORDER BY b');
  assert.equal(maskSql("SELECT q'[it's secret]' FROM dual", 'oracle'), 'SELECT ? FROM dual');
});

test('masking is idempotent: a stricter pass over redacted text changes nothing', () => {
  const samples = [
    "ALTER ROLE alice WITH PASSWORD 'hunter2' -- note",
    "SELECT /*!40101 'a' */ x FROM `t` WHERE b = 0x1F # c",
    "CREATE FUNCTION f() AS $body$ 'x' $body$",
    'ALTER USER bob IDENTIFIED BY hunter2',
  ];
  for (const engine of ['postgresql', 'mysql', 'oracle', 'sqlserver', 'unknown'] as const) {
    for (const s of samples) {
      const once = maskSql(s, engine);
      assert.equal(maskSql(once, engine), once, `${engine}: ${s}`);
    }
  }
  for (const m of ['invalid input syntax for type integer: "4111"', "Duplicate entry '4111' for key 'PRIMARY'", 'Key (a)=(b) x']) {
    assert.equal(maskMessage(maskMessage(m)), maskMessage(m));
  }
});

test('server messages: quoted values, numbers and Key (...)=(...) values are masked; the words stay', () => {
  const cases: [string, string][] = [
    ['invalid input syntax for type integer: "4111111111111111"', 'invalid input syntax for type integer: "?"'],
    [`syntax error at or near "'Tr0ub4dor&3'"`, 'syntax error at or near "?"'],
    ["Duplicate entry '4111111111111111' for key 'cards.PRIMARY'", "Duplicate entry '?' for key '?'"],
    ['value 4111111111111111 is out of range for type integer', 'value ? is out of range for type integer'],
    ['Key (email)=(bob@example.com) already exists.', 'Key (email)=(?) already exists.'],
    ["Table 'shop.orders' doesn't exist", "Table '?' doesn't exist"],
    ['password authentication failed for user "hunter2"', 'password authentication failed for user "?"'],
    ['relation cards_2024 does not exist', 'relation cards_2024 does not exist'],
  ];
  for (const [m, want] of cases) assert.equal(maskMessage(m), want);
});

test('the redaction table comes from the field table: every field redacts as its mark says, and only the marked ones', () => {
  // Derived, not listed: a field newly marked in ACTIVITY_FIELD_SPECS needs no edit here (or anywhere else).
  for (const [k, spec] of Object.entries(ACTIVITY_FIELD_SPECS)) {
    assert.equal(carriesOf(k), k === 'engineNativeAuditFields' ? 'nested' : spec.carries, k);
  }
  // The fields DAS fills with statement text, bind values and server messages keep their marks.
  assert.equal(ACTIVITY_FIELD_SPECS.commandText?.carries, 'sql');
  assert.equal(ACTIVITY_FIELD_SPECS.paramList?.carries, 'binds');
  assert.equal(ACTIVITY_FIELD_SPECS.errorMessage?.carries, 'message');
  for (const k of Object.keys(NATIVE_AUDIT_CARRIES)) {
    assert.ok(NATIVE_AUDIT_FIELDS.includes(k), `${k} is a documented native audit key`);
    assert.notEqual(carriesOf(`engineNativeAuditFields.${k}`), undefined);
  }
  assert.equal(carriesOf('dbUserName'), undefined);
  assert.equal(carriesOf('engineNativeAuditFields.OS_USERNAME'), undefined);
});

test('a field marked in the field table is redacted in events by its mark alone: masked under literals, gone under full', () => {
  const secret = '4111111111111111';
  const sample: Record<Carries, unknown> = {
    sql: `SELECT * FROM t WHERE pan = '${secret}'`,
    binds: [secret],
    message: `invalid input syntax for type integer: "${secret}"`,
    value: secret,
  };
  const marked = Object.entries(ACTIVITY_FIELD_SPECS).filter(([, s]) => s.carries !== undefined);
  assert.ok(marked.length >= 3);
  for (const [k, spec] of marked) {
    const event = { engine: 'postgresql', dbUserName: 'alice', [k]: sample[spec.carries as Carries] };
    const literals = redactEvent(event, 'literals');
    assert.ok(k in literals, `${k} kept under literals`);
    assert.ok(!JSON.stringify(literals).includes(secret), `${k} masked under literals`);
    assert.equal(k in redactEvent(event, 'full'), false, `${k} removed under full`);
    assert.equal(redactField(k, event[k], 'postgresql', 'full'), REMOVED, `${k} shows ${REMOVED} in a message under full`);
    assert.equal(redactEvent(event, 'none')[k], event[k]);
  }
});

const SECRET = '4111111111111111';
const oracleEvent = {
  engine: 'oracle',
  dbUserName: 'SCOTT',
  commandText: `UPDATE cards SET pan = '${SECRET}' /* ${SECRET} */`,
  paramList: [SECRET, null],
  errorMessage: `ORA-01722: invalid number "${SECRET}"`,
  engineNativeAuditFields: {
    SQL_TEXT: `ALTER USER scott IDENTIFIED BY ${SECRET}x`,
    SQL_BINDS: ` #1(16):${SECRET}`,
    ADDITIONAL_INFO: `value '${SECRET}'`,
    XS_COOKIE: `cookie-${SECRET}`,
    OS_USERNAME: 'oracle',
  },
};

test('redactEvent: literals masks every sensitive field (native ones too); full removes them; none keeps them', () => {
  const lit = redactEvent(oracleEvent, 'literals');
  assert.ok(!JSON.stringify(lit).includes(SECRET), JSON.stringify(lit));
  assert.equal(lit.dbUserName, 'SCOTT');
  const native = lit.engineNativeAuditFields as Record<string, unknown>;
  assert.equal(native.OS_USERNAME, 'oracle');
  assert.equal(native.SQL_TEXT, 'ALTER USER scott IDENTIFIED BY ?');
  const full = redactEvent(oracleEvent, 'full');
  assert.deepEqual(Object.keys(full).sort(), ['dbUserName', 'engine', 'engineNativeAuditFields']);
  assert.deepEqual(full.engineNativeAuditFields, { OS_USERNAME: 'oracle' });
  assert.deepEqual(redactEvent(oracleEvent, 'none'), oracleEvent);
  assert.ok(JSON.stringify(oracleEvent).includes(SECRET), 'the original is not modified');
});

test('messages are rendered from parts: a stricter mode renders them again; none cannot undo what the pipeline masked', () => {
  const ctx = { engine: 'oracle' as const };
  const parts = [
    'ran ',
    { field: 'commandText', value: oracleEvent.commandText },
    ' with ',
    { field: 'engineNativeAuditFields', value: oracleEvent.engineNativeAuditFields },
    ' as ',
    { field: 'dbUserName', value: 'SCOTT' },
  ];
  assert.ok(!renderMessage(parts, ctx, 'literals').includes(SECRET));
  const full = renderMessage(parts, ctx, 'full');
  assert.ok(full.startsWith(`ran ${REMOVED} with {`), full);
  assert.ok(!full.includes('UPDATE') && !full.includes('IDENTIFIED') && full.endsWith(' as SCOTT'), full);
  assert.equal(redactField('dbUserName', 'SCOTT', 'oracle', 'full'), 'SCOTT');

  const literalParts = parts.map((p) => (typeof p === 'string' ? p : { ...p, value: redactField(p.field, p.value, ctx, 'literals') }));
  const alert = withMessageParts({ message: renderMessage(literalParts, ctx, 'literals'), event: redactEvent(oracleEvent, 'literals') }, literalParts);
  assert.equal(alert[MESSAGE_PARTS as never], literalParts);
  assert.equal(({ ...alert } as Record<symbol, unknown>)[MESSAGE_PARTS], undefined, 'a copy does not carry the parts');
  assert.equal(redactAlert(alert, 'none').message, alert.message);
  assert.ok(redactAlert(alert, 'full').message.includes(REMOVED));
  assert.ok(!('commandText' in redactAlert(alert, 'full').event));
  assert.equal(JSON.stringify(alert), JSON.stringify({ message: alert.message, event: alert.event }), 'parts are never serialised');
});

test('terminalSafe makes control, separator and bidi characters visible; jsonLine keeps the value and escapes them', () => {
  const hostile = 'a\x1b]8;;https://evil.example\x07click\x1b]8;;\x07\r\nFAKE ALERT\u202eevil\u009b31m\u2028x';
  const safe = terminalSafe(hostile);
  assert.ok(!/[\u0000-\u001f\u007f-\u009f\u2028\u202e]/.test(safe), safe);
  assert.equal(safe, 'a\\x1b]8;;https://evil.example\\x07click\\x1b]8;;\\x07\\r\\nFAKE ALERT\\u202eevil\\x9b31m\\u2028x');
  assert.equal(terminalSafe('plain text with \\ backslash'), 'plain text with \\ backslash');
  assert.equal(terminalLines('one\ntwo\x1b'), 'one\ntwo\\x1b');
  const line = jsonLine({ m: hostile });
  assert.ok(!/[\u0000-\u001f\u007f-\u009f\u2028\u202e]/.test(line), line);
  assert.deepEqual(JSON.parse(line), { m: hostile });
});

test("a correlation alert's first and last contributing events are redacted by a stricter route too", async () => {
  const { buildCorrelationAlert } = await import('../../src/pipeline/alert.js');
  const secret = "4111-1111-1111-1111";
  const ev = (t: number) => ({
    type: 'record', class: 'READ', command: 'SELECT', dbUserName: 'mallory', remoteHost: '203.0.113.9', logTimeMs: t,
    commandText: `SELECT * FROM cards WHERE pan = '${secret}'`, errorMessage: `value "${secret}" rejected`, paramList: [secret],
    clusterId: 'cluster-A', instanceId: 'db-A',
  });
  const rule = { id: 'bulk', description: 'd', severity: 'high' as const, tags: [], target: 'activity' as const, file: 'r.yaml', line: 1, enabled: true };
  const spec = { type: 'event_count' as const, rules: [], groupBy: ['dbUserName'], windowMs: 60_000, window: '1m', gte: 2, realertMs: 60_000 };
  const firing = { rule, spec, group: { dbUserName: 'mallory' }, value: 2, events: 2, firstTimeMs: 1, lastTimeMs: 2, firstKey: 'k', first: ev(1), last: ev(2) };
  // As the pipeline builds it under `none` (the stored events as the database wrote them), then a `full` route.
  const alert = buildCorrelationAlert(firing, ev(2) as never, ['reads by ', { field: 'dbUserName', value: 'mallory' }], { source: 'f', shardId: 's', sequenceNumber: '1' }, 'none');
  assert.ok(jsonLine(alert).includes(secret), 'the alert carries the contributing events');
  const full = redactAlert(alert, 'full');
  assert.ok(!jsonLine(full).includes(secret), jsonLine(full));
  const nested = full.event as { first: Record<string, unknown>; last: Record<string, unknown> };
  for (const e of [nested.first, nested.last]) {
    assert.equal(e.commandText, undefined);
    assert.equal(e.errorMessage, undefined);
    assert.equal(e.dbUserName, 'mallory', 'what is not secret stays');
  }
  const literals = redactAlert(alert, 'literals');
  assert.ok(!jsonLine(literals).includes(secret), jsonLine(literals));
  assert.match(String((literals.event as { first: Record<string, unknown> }).first.commandText), /^SELECT \* FROM cards WHERE pan = /);
});
