/**
 * The compiled evaluator against a real json-rules-engine Engine built from the same compiled rule JSON and
 * the same Operator objects: on many generated events (every engine, nulls, missing fields, numeric strings,
 * odd types) both must fire exactly the same rules.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { completeTestEvent, loadRules, loadRuleTexts } from '../../src/rules/index.js';
import { CompiledRuleSet } from '../../src/rules/RuleSet.js';
import { EXTRA_RULES, prng, realisticEvents } from '../../bench/rules.js';

const COVERAGE_RULES = `
lists:
  diff_users: [Alice, bob, RDSADMIN, '100']
  diff_nets: [10.0.0.0/8, 2001:db8::/32, 192.0.2.1]
rules:
  - {id: d-eq, severity: low, when: {dbUserName: alice}}
  - {id: d-eq-null, severity: low, when: {errorMessage: null}}
  - {id: d-ne, severity: low, when: {dbUserName: {ne: alice}}}
  - {id: d-in, severity: low, when: {dbUserName: $diff_users}}
  - {id: d-notin, severity: low, when: {dbUserName: {notIn: [alice, bob]}}}
  - {id: d-any-type-in, severity: low, when: {exitCode: {in: [0, '0', '', null, 28P01]}}}
  - {id: d-rows-gt, severity: low, when: {rowCount: {gt: 100}}}
  - {id: d-rows-gte, severity: low, when: {rowCount: {gte: 100}}}
  - {id: d-rows-lt, severity: low, when: {rowCount: {lt: 10}}}
  - {id: d-rows-lte, severity: low, when: {rows: {lte: 10}}}
  - {id: d-any-gt, severity: low, when: {exitCode: {gt: 0}}}
  - {id: d-contains, severity: low, when: {paramList: {contains: secret}}}
  - {id: d-not-contains, severity: low, when: {paramList: {doesNotContain: secret}}}
  - {id: d-matches, severity: low, when: {commandText: {matches: {pattern: '^\\s*(drop|truncate)', flags: i}}}}
  - {id: d-matches-num, severity: low, when: {exitCode: {matches: '^28'}}}
  - {id: d-starts, severity: low, when: {commandText: {startsWith: SELECT}}}
  - {id: d-ends, severity: low, when: {objectName: {endsWith: _x}}}
  - {id: d-icontains, severity: low, when: {commandText: {icontains: PASSWORD}}}
  - {id: d-ieq, severity: low, when: {dbUserName: {ieq: RdsAdmin}}}
  - {id: d-ine, severity: low, when: {dbUserName: {ine: rdsadmin}}}
  - {id: d-iin, severity: low, when: {dbUserName: {iin: $diff_users}}}
  - {id: d-notiin, severity: low, when: {dbUserName: {notIin: $diff_users}}}
  - {id: d-cidr, severity: low, when: {remoteHost: {inCidr: $diff_nets}}}
  - {id: d-not-cidr, severity: low, when: {remoteHost: {notInCidr: 10.0.0.0/8}}}
  - {id: d-exists, severity: low, when: {errorMessage: {exists: true}}}
  - {id: d-exists-false, severity: low, when: {errorMessage: {exists: false}}}
  - {id: d-absent, severity: low, when: {objectName: {absent: true}}}
  - {id: d-path, severity: low, when: {engineNativeAuditFields.OS_USERNAME: {ieq: oracle}}}
  - {id: d-path-ne, severity: low, when: {engineNativeAuditFields.OS_USERNAME: {ne: oracle}}}
  - {id: d-path-exists, severity: low, when: {engineNativeAuditFields.succeeded: {exists: true}}}
  - {id: d-time-between, severity: low, when: {timeOfDay: {between: '22:00-06:00'}}}
  - {id: d-has-object, severity: low, when: {objects: {hasObject: {name: [cards, Orders], command: READ}}}}
  - {id: d-has-object-db, severity: low, when: {not: {objects: {hasObject: {database: $diff_users}}}}}
  - {id: d-time-zone, severity: low, timeZone: Asia/Kathmandu, when: {hour: {gte: 20}, weekday: [sat, sun], date: {startsWith: '2024-'}}}
  - {id: d-time-minute, severity: low, timeZone: America/New_York, when: {minute: {lt: 30}, timeOfDay: {timeBetween: '09:00-17:00'}}}
  - id: d-time-fact-value
    severity: low
    timeZone: Europe/Paris
    when: {fact: hour, operator: greaterThan, value: {fact: minute}}
  - id: d-raw
    severity: low
    when: {fact: engineNativeAuditFields, path: $.succeeded, operator: equal, value: false}
  - id: d-raw-fact-value
    severity: low
    when: {fact: dbUserName, operator: equal, value: {fact: databaseName}}
  - id: d-nested
    severity: low
    when:
      any:
        - all:
            - class: [READ, MAIN]
            - not: {rows: {lt: 50}}
        - not:
            any:
              - engine: postgresql
              - remoteHost: {inCidr: 10.0.0.0/8}
        - all:
            - sqlCommand: {in: [GRANT, REVOKE]}
            - dbUserName: {exists: true}
            - dbUserName: {notIin: [rdsadmin]}
  - id: d-several-ops
    severity: low
    when:
      rowCount: {gte: 1, lte: 1000, ne: 7}
      class: {ne: AUX}
`;

const POOLS: Record<string, unknown[]> = {
  engine: ['postgresql', 'mysql', 'oracle', 'sqlserver', 'unknown'],
  class: ['READ', 'WRITE', 'DDL', 'ROLE', 'MISC', 'MAIN', 'AUX', 'read', null, ''],
  command: ['SELECT', 'QUERY', 'CONNECT', 'FAILED_CONNECT', 'AUTH FAILURE', 'GRANT', 'DROP TABLE', null],
  sqlCommand: ['SELECT', 'GRANT', 'REVOKE', 'DROP TABLE', 'TRUNCATE TABLE', 'DELETE', 'UPDATE', 'CREATE USER', 'FAILED_CONNECT', 'CONNECT', null],
  dbUserName: ['alice', 'Alice', 'ALICE', 'bob', 'rdsadmin', 'RDSADMIN', 'RdsAdmin', 'rdsproxyadmin', 'postgres', 'admin', 'appdb', '', null, 100, '100'],
  databaseName: ['appdb', 'alice', 'prod_db', '', null],
  commandText: ['SELECT 1', '  drop table t', 'TRUNCATE t', "ALTER ROLE x PASSWORD 'p'", 'delete from t', 'update t set a=1 where b=2', 'select password from users', '', null, 42],
  objectName: ['orders', 'orders_x', 'public.customers', '', null, 'x_x'],
  remoteHost: ['10.1.2.3', '10.0.0.1', '11.0.0.1', '192.0.2.1', '192.0.2.2', '2001:db8::5', '2001:db9::1', '::ffff:10.9.9.9', 'localhost', '', null, 'fe80::1%eth0', '[::1]'],
  rowCount: [0, 1, 7, 9, 10, 50, 100, 101, 5000, 20000, '100', '101', '1e3', ' 12', '12abc', 'abc', '', null, -1, 10.5, true],
  rows: [0, 5, 10, 11, 10000, null, '10'],
  errorMessage: [null, '', 'ERROR: x', 'password authentication failed for user "a"', 'Deadlock found', 0],
  exitCode: [null, '', '0', 0, 1, '28P01', '42501', 28, '28'],
  // every hour and weekday over two weeks, and what is not a usable time
  logTimeMs: [
    ...Array.from({ length: 200 }, (_, i) => Date.UTC(2024, 2, 25) + i * 6_433_000),
    null, '1714600000000', Number.NaN, -1, 0, 8.64e15, -8.64e15, 1e300,
  ],
  objects: [
    [], [{ name: 'cards', command: 'READ' }], [{ name: 'CARDS', command: 'read', database: 'alice' }], [{ name: 'orders', command: 'UPDATE' }],
    [null, 'cards', { name: 'orders', command: 'READ', database: 'bob' }], [{ name: 5, command: 'READ' }], [{}], null, 'cards',
    { name: 'cards', command: 'READ' },
  ],
  paramList: [[], ['secret'], ['a', 'secret'], null, 'secret', ['SECRET'], [1, 2]],
  engineNativeAuditFields: [
    { OS_USERNAME: 'oracle', SYSTEM_PRIVILEGE_USED: 'CREATE SESSION' },
    { OS_USERNAME: 'ORACLE' },
    { succeeded: false },
    { succeeded: 'false' },
    { succeeded: true },
    {},
    null,
    'oracle',
    false,
    ['oracle'],
  ],
};

function adversarialEvent(rnd: () => number): Record<string, unknown> {
  const e: Record<string, unknown> = {};
  for (const [field, pool] of Object.entries(POOLS)) {
    if (rnd() < 0.15) continue; // missing field
    e[field] = pool[Math.floor(rnd() * pool.length)];
  }
  return e;
}

async function allRuleTexts(): Promise<{ file: string; text: string }[]> {
  const pack = await loadRules(['rules']);
  assert.equal(pack.ruleSet !== undefined, true, 'the baseline pack loads');
  const texts = await Promise.all(pack.files.map(async (file) => ({ file, text: await readFile(file, 'utf8') })));
  // The pack's correlations are disabled here, so that the base rules they list (which only feed them, generate:
  // false) alert on their own and are compared too.
  const correlations = (pack.ruleSet?.correlations ?? []).map((c) => c.info.id);
  const off = { file: 'no-correlations.yaml', text: `overrides:\n${correlations.map((id) => `  - {rule: ${id}, enabled: false}\n`).join('')}` };
  return [...texts, ...(correlations.length > 0 ? [off] : []), { file: 'extra.yaml', text: EXTRA_RULES }, { file: 'coverage.yaml', text: COVERAGE_RULES }];
}

test('compiled evaluator fires exactly the rules a json-rules-engine Engine fires', async () => {
  const { ruleSet, problems } = loadRuleTexts(await allRuleTexts());
  assert.deepEqual(problems.filter((p) => p.severity !== 'warning'), []);
  assert.ok(ruleSet instanceof CompiledRuleSet);
  const engine = ruleSet.referenceEngine('activity');
  const rnd = prng(20240501);
  // the pack's own test events too: the statements its text-matching rules look for (COPY ... PROGRAM,
  // SET pgaudit.log, ...) are not among the generated ones
  const packTests = ruleSet.compiledRules().flatMap((c) => [...(c.tests?.fires ?? []), ...(c.tests?.doesNotFire ?? [])].map((t) => completeTestEvent(t.event, c.info.target)));
  const events = [...realisticEvents(800, 7), ...Array.from({ length: 2200 }, () => adversarialEvent(rnd)), ...packTests];
  const firedAtLeastOnce = new Set<string>();
  const missedAtLeastOnce = new Set<string>();
  for (const event of events) {
    const expected = (await engine.run(structuredClone(event))).events.map((e) => e.type as string).sort();
    const got = ruleSet.evaluate(event).map((m) => m.rule.id).sort();
    assert.deepEqual(got, expected, `event ${JSON.stringify(event)}`);
    for (const id of got) firedAtLeastOnce.add(id);
    for (const r of ruleSet.rules) if (!got.includes(r.id)) missedAtLeastOnce.add(r.id);
  }
  // The generated events are varied enough that every rule of the pack and of the operator coverage file
  // both fires and does not fire somewhere (so the comparison is not vacuous).
  // (activity rules: the RDS-event rules of the pack are compared in test/unit/health-monitor.test.ts)
  // Correlation rules are never matched event by event (their base rules are, here); rules-correlation.test.ts tests them.
  const stateful = new Set(ruleSet.compiledRules().filter((c) => c.correlation !== undefined).map((c) => c.info.id));
  const all = ruleSet.rules.filter((r) => r.file !== 'extra.yaml' && r.target === 'activity' && !stateful.has(r.id)).map((r) => r.id);
  assert.deepEqual(all.filter((id) => !firedAtLeastOnce.has(id)), []);
  assert.deepEqual(all.filter((id) => !missedAtLeastOnce.has(id)), []);
});

test('the rule index agrees with trying every rule', async () => {
  const { ruleSet } = loadRuleTexts(await allRuleTexts());
  assert.ok(ruleSet instanceof CompiledRuleSet);
  assert.ok(ruleSet.indexStats().indexed > 5, 'most rules are indexed');
  const rnd = prng(99);
  for (let i = 0; i < 3000; i++) {
    const event = adversarialEvent(rnd);
    const viaIndex: string[] = ruleSet.evaluate(event).map((m) => m.rule.id);
    // evaluateRule of a correlation rule is undefined: it is never matched event by event.
    const direct: string[] = ruleSet.rules.filter((r) => r.enabled && r.target === 'activity' && ruleSet.evaluateRule(r.id, event) != null).map((r) => r.id);
    assert.deepEqual(viaIndex, direct); // same rules, and in load order
  }
});
