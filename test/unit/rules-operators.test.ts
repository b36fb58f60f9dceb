import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatProblem, loadRuleTexts } from '../../src/rules/index.js';

/** Loads one rule with this `when` (YAML flow) and returns a function telling whether it fires on an event. */
function rule(when: string, preamble = ''): (event: Record<string, unknown>) => boolean {
  const text = `${preamble}\nrules:\n  - id: r\n    severity: low\n    when: ${when}\n`;
  const { ruleSet, problems } = loadRuleTexts([{ file: 'op.yaml', text }]);
  assert.ok(ruleSet !== undefined, problems.map(formatProblem).join('\n'));
  return (event) => ruleSet.evaluate(event).length === 1;
}

test('equal / eq / shorthand and notEqual / ne compare strings by value, case-sensitively', () => {
  const built = ['rds', 'admin'].join(''); // a string made at run time, not the literal
  for (const w of ['{dbUserName: rdsadmin}', '{dbUserName: {eq: rdsadmin}}', '{dbUserName: {equal: rdsadmin}}']) {
    const f = rule(w);
    assert.equal(f({ dbUserName: built }), true);
    assert.equal(f({ dbUserName: 'RDSADMIN' }), false);
    assert.equal(f({}), false);
  }
  const ne = rule('{dbUserName: {ne: rdsadmin}}');
  assert.equal(ne({ dbUserName: built }), false);
  assert.equal(ne({ dbUserName: 'alice' }), true);
  assert.equal(ne({}), true, 'a missing field is not equal (json-rules-engine semantics)');
});

test('ieq / ine / iin / notIin ignore case (RDSADMIN vs rdsadmin)', () => {
  const ieq = rule('{dbUserName: {ieq: RDSADMIN}}');
  assert.equal(ieq({ dbUserName: 'rdsadmin' }), true);
  assert.equal(ieq({ dbUserName: 'rdsadmin2' }), false);
  assert.equal(ieq({ dbUserName: null }), false);
  const ine = rule('{dbUserName: {ine: RDSADMIN}}');
  assert.equal(ine({ dbUserName: 'RdsAdmin' }), false);
  assert.equal(ine({ dbUserName: 'alice' }), true);
  assert.equal(ine({}), true);
  const lists = 'lists:\n  admins: [RDSADMIN, RdsProxyAdmin]';
  const iin = rule('{dbUserName: {iin: $admins}}', lists);
  assert.equal(iin({ dbUserName: 'rdsproxyadmin' }), true);
  assert.equal(iin({ dbUserName: 'postgres' }), false);
  const notIin = rule('{dbUserName: {notIin: {list: admins}}}', lists);
  assert.equal(notIin({ dbUserName: 'rdsadmin' }), false);
  assert.equal(notIin({ dbUserName: 'postgres' }), true);
});

test('in / notIn with YAML lists, $lists and lists mixing both', () => {
  const lists = 'lists:\n  ddl: [CREATE TABLE, DROP TABLE]';
  const f = rule('{sqlCommand: [GRANT, $ddl]}', lists);
  assert.equal(f({ sqlCommand: 'DROP TABLE' }), true);
  assert.equal(f({ sqlCommand: 'GRANT' }), true);
  assert.equal(f({ sqlCommand: 'grant' }), false);
  const g = rule('{sqlCommand: $ddl}', lists);
  assert.equal(g({ sqlCommand: 'CREATE TABLE' }), true);
  const n = rule('{sqlCommand: {notIn: $ddl}}', lists);
  assert.equal(n({ sqlCommand: 'CREATE TABLE' }), false);
  assert.equal(n({ sqlCommand: 'SELECT' }), true);
  const dollar = rule("{dbUserName: '$$weird'}");
  assert.equal(dollar({ dbUserName: '$weird' }), true, '$$ escapes a literal $');
});

test('gt / gte / lt / lte: numbers, and numeric strings as json-rules-engine compares them', () => {
  const gt = rule('{rowCount: {gt: 100}}');
  assert.equal(gt({ rowCount: 101 }), true);
  assert.equal(gt({ rowCount: 100 }), false);
  assert.equal(gt({ rowCount: '150' }), true);
  assert.equal(gt({ rowCount: 'abc' }), false);
  assert.equal(gt({ rowCount: null }), false);
  assert.equal(gt({}), false);
  assert.equal(rule('{rowCount: {gte: 100}}')({ rowCount: 100 }), true);
  assert.equal(rule('{rowCount: {lt: 100}}')({ rowCount: 99 }), true);
  assert.equal(rule('{rowCount: {lte: 100}}')({ rowCount: 101 }), false);
  const range = rule('{rows: {gte: 10, lt: 20}}');
  assert.deepEqual([9, 10, 19, 20].map((rows) => range({ rows })), [false, true, true, false]);
});

test('contains / doesNotContain test list membership (paramList)', () => {
  const f = rule('{paramList: {contains: secret}}');
  assert.equal(f({ paramList: ['a', 'secret'] }), true);
  assert.equal(f({ paramList: ['a'] }), false);
  assert.equal(f({ paramList: 'secret' }), false, 'a string is not a list');
  const g = rule('{paramList: {doesNotContain: secret}}');
  assert.equal(g({ paramList: ['a'] }), true);
  assert.equal(g({ paramList: null }), false);
});

test('matches: compiled once, with flags; numbers are matched as text', () => {
  const f = rule("{commandText: {matches: {pattern: '^\\s*drop\\s', flags: i}}}");
  assert.equal(f({ commandText: '  DROP TABLE t' }), true);
  assert.equal(f({ commandText: 'select 1' }), false);
  assert.equal(f({ commandText: null }), false);
  const code = rule("{exitCode: {matches: '^28'}}");
  assert.equal(code({ exitCode: '28P01' }), true);
  assert.equal(code({ exitCode: 2800 }), true);
  // many evaluations give the same answer (no stateful g/y flags are allowed)
  for (let i = 0; i < 5; i++) assert.equal(f({ commandText: 'drop x' }), true);
});

test('startsWith / endsWith are case-sensitive; containsText / icontains are not', () => {
  assert.equal(rule('{sqlCommand: {startsWith: CREATE}}')({ sqlCommand: 'CREATE TABLE' }), true);
  assert.equal(rule('{sqlCommand: {startsWith: CREATE}}')({ sqlCommand: 'create table' }), false);
  assert.equal(rule('{objectName: {endsWith: _backup}}')({ objectName: 'orders_backup' }), true);
  assert.equal(rule('{commandText: {containsText: Password}}')({ commandText: "ALTER ROLE x PASSWORD 'y'" }), true);
  assert.equal(rule('{commandText: {icontains: INTO OUTFILE}}')({ commandText: "select * into outfile '/tmp/x'" }), true);
  assert.equal(rule('{commandText: {icontains: outfile}}')({ commandText: 42 }), false);
});

test('inCidr / notInCidr: IPv4, IPv6, bare addresses, IPv4-mapped IPv6, hostnames', () => {
  const lists = 'lists:\n  office: [10.0.0.0/8, 2001:db8::/32, 192.0.2.7]';
  const f = rule('{remoteHost: {inCidr: $office}}', lists);
  assert.equal(f({ remoteHost: '10.20.30.40' }), true);
  assert.equal(f({ remoteHost: '11.0.0.1' }), false);
  assert.equal(f({ remoteHost: '2001:db8:1::5' }), true);
  assert.equal(f({ remoteHost: '2001:db9::5' }), false);
  assert.equal(f({ remoteHost: '192.0.2.7' }), true);
  assert.equal(f({ remoteHost: '::ffff:10.1.1.1' }), true);
  assert.equal(f({ remoteHost: 'localhost' }), false);
  assert.equal(f({ remoteHost: null }), false);
  const single = rule('{remoteHost: {inCidr: 172.16.0.0/12}}');
  assert.equal(single({ remoteHost: '172.31.3.195' }), true);
  const out = rule('{remoteHost: {notInCidr: $office}}', lists);
  assert.equal(out({ remoteHost: '203.0.113.9' }), true);
  assert.equal(out({ remoteHost: '10.0.0.1' }), false);
  assert.equal(out({ remoteHost: 'localhost' }), true);
});

test('exists / absent: null, missing and "" are absent; 0, false and [] exist', () => {
  const ex = rule('{errorMessage: {exists: true}}');
  assert.deepEqual(
    [undefined, null, '', 'boom', 0, false].map((v) => ex(v === undefined ? {} : { errorMessage: v })),
    [false, false, false, true, true, true],
  );
  const ab = rule('{paramList: {absent: true}}');
  assert.deepEqual([[], null, ['x']].map((v) => ab({ paramList: v })), [false, true, false]);
  assert.equal(rule('{errorMessage: {exists: false}}')({ errorMessage: '' }), true);
});

test('all / any / not / macros and several keys in one mapping', () => {
  const macros = 'macros:\n  pg: {engine: postgresql}\n  pg_ddl: {all: [{macro: pg}, {class: DDL}]}';
  const f = rule('{any: [{macro: pg_ddl}, {all: [{engine: mysql}, {not: {class: AUX}}]}]}', macros);
  assert.equal(f({ engine: 'postgresql', class: 'DDL' }), true);
  assert.equal(f({ engine: 'postgresql', class: 'READ' }), false);
  assert.equal(f({ engine: 'mysql', class: 'MAIN' }), true);
  assert.equal(f({ engine: 'mysql', class: 'AUX' }), false);
  const both = rule('{engine: mysql, class: MAIN}');
  assert.equal(both({ engine: 'mysql', class: 'MAIN' }), true);
  assert.equal(both({ engine: 'mysql', class: 'AUX' }), false);
});

test("json-rules-engine's own {fact, operator, value} form, with path and with a fact as value", () => {
  const f = rule("{fact: engineNativeAuditFields, path: '$.OS_USERNAME', operator: equal, value: oracle}");
  assert.equal(f({ engineNativeAuditFields: { OS_USERNAME: 'oracle' } }), true);
  assert.equal(f({ engineNativeAuditFields: {} }), false);
  const g = rule('{all: [{fact: rowCount, operator: greaterThan, value: 5}, {fact: dbUserName, operator: equal, value: {fact: databaseName}}]}');
  assert.equal(g({ rowCount: 6, dbUserName: 'x', databaseName: 'x' }), true);
  assert.equal(g({ rowCount: 6, dbUserName: 'x', databaseName: 'y' }), false);
});

test('dot paths into engineNativeAuditFields (Oracle and SQL Server)', () => {
  const f = rule('{engineNativeAuditFields.server_principal_name: {ieq: SA}}');
  assert.equal(f({ engine: 'sqlserver', engineNativeAuditFields: { server_principal_name: 'sa' } }), true);
  assert.equal(f({ engine: 'sqlserver', engineNativeAuditFields: null }), false);
  assert.equal(f({ engine: 'sqlserver' }), false);
  const g = rule('{engineNativeAuditFields.UNIFIED_AUDIT_POLICIES: {containsText: ORA_LOGON}}');
  assert.equal(g({ engineNativeAuditFields: { UNIFIED_AUDIT_POLICIES: 'ORA_LOGON_FAILURES' } }), true);
});

test('a field is read the same with or without generated readers: own fields only as e[fact] does, odd names too', async () => {
  const { fieldReader } = await import('../../src/util/fieldReader.js');
  const event = JSON.parse('{"dbUserName": "alice", "__proto__": "own", "class": "DDL", "a-b": 1, "rowCount": 0}') as Record<string, unknown>;
  for (const fact of ['dbUserName', '__proto__', 'class', 'a-b', 'rowCount', 'missing', 'toString', 'constructor']) {
    assert.equal(fieldReader(fact)(event), event[fact], fact);
  }
  assert.equal(fieldReader('dbUserName'), fieldReader('dbUserName'), 'one reader per field name');
  // A process that forbids code generation gets the shared closure, with the same results (and no crash).
  const { execFileSync } = await import('node:child_process');
  const script = `import('${new URL('../../src/rules/index.js', import.meta.url).href}').then(({ loadRuleTexts }) => {
    const { ruleSet } = loadRuleTexts([{ file: 'r.yaml', text: 'rules:\\n  - id: r\\n    severity: low\\n    when: {dbUserName: alice}\\n' }]);
    process.stdout.write(JSON.stringify([ruleSet.evaluate({ dbUserName: 'alice' }).length, ruleSet.evaluate({ dbUserName: 'bob' }).length]));
  });`;
  const out = execFileSync(process.execPath, ['--disallow-code-generation-from-strings', '--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(out, '[1,0]');
});

test('matches remembers the answers for short texts it saw (few distinct values) and still answers each text right, remembering or not', () => {
  // Repeated command names (remembered), then ever new texts (past the trial it stops remembering), then old ones.
  const f = rule(`{command: {matches: {pattern: '^(auth|login)[ _-]?fail', flags: i}}}`);
  const re = /^(auth|login)[ _-]?fail/i;
  const texts = [...Array.from({ length: 600 }, (_, i) => ['AUTH FAILURE', 'SELECT', 'login_fail', 'Authfail'][i % 4]!), ...Array.from({ length: 3000 }, (_, i) => (i % 3 === 0 ? `auth fail ${i}` : `SELECT ${i}`)), 'x'.repeat(200), 'auth-fail' + 'x'.repeat(200)];
  for (const t of [...texts, ...texts.slice(0, 700)]) assert.equal(f({ command: t }), re.test(t), t);
  const n = rule(`{exitCode: {matches: '^4260'}}`);
  assert.equal(n({ exitCode: 42601 }), true, 'a number is matched as its text');
  assert.equal(n({ exitCode: 42601 }), true, 'and remembered as such');
  assert.equal(n({ exitCode: '42601' }), true);
  assert.equal(n({ exitCode: null }), false);
});
