/**
 * Exceptions at scale (src/rules/overrides.ts exceptionTest): the compiled rule looks an event's values up in a Set
 * of tuple keys instead of trying the tuples one by one, so a list of 100k tuples appended by a user's file costs
 * O(1) per event; and it answers exactly as json-rules-engine runs the folded `equal` conditions, on odd values too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadRuleTexts } from '../../src/rules/index.js';
import { CompiledRuleSet } from '../../src/rules/RuleSet.js';

function load(text: string): CompiledRuleSet {
  const { ruleSet, problems } = loadRuleTexts([{ file: 'x.yaml', text }]);
  assert.deepEqual(problems.map((p) => `${p.line} ${p.message}`), []);
  assert.ok(ruleSet instanceof CompiledRuleSet);
  return ruleSet;
}

const ODD = `
rules:
  - id: odd
    severity: low
    when: {class: DDL}
    exceptions:
      - name: user_rows
        fields: [dbUserName, rowCount]
        values:
          - [alice, 5]
          - ['a,b', 0]
          - ['a', 'b,0']
          - [null, 7]
          - ['5', 5]
          - [bob, .nan]
      - name: code
        fields: [exitCode]
        values: [[0], ['28P01'], [null], [true], [.nan]]
      - name: audit_user
        fields: [engineNativeAuditFields.OS_USERNAME, sqlHasWhere]
        values: [[oracle, false]]
      - name: night
        fields: [hour, weekday]
        values: [[3, wed]]
`;

test('the Set lookup gives the answers of the folded equal conditions (json-rules-engine), odd values included', async () => {
  const rs = load(ODD);
  const engine = rs.referenceEngine();
  const users = ['alice', 'a,b', 'a', 'bob', '5', 5, null, undefined, ['alice'], { a: 1 }, ''];
  const rows = [5, '5', 0, -0, 7, Number.NaN, null, undefined, 'b,0', [5]];
  const codes = [0, -0, '0', '28P01', null, undefined, true, 'true', Number.NaN, [0]];
  const audits = [{ OS_USERNAME: 'oracle' }, { OS_USERNAME: 'ORACLE' }, {}, null, 'oracle', undefined];
  const wheres = [false, true, 'false', undefined];
  // 2024-05-01 is a Wednesday: 03:xx UTC is the excepted hour.
  const times = [Date.parse('2024-05-01T03:30:00Z'), Date.parse('2024-05-01T04:30:00Z'), Date.parse('2024-05-02T03:30:00Z'), undefined];
  let n = 0;
  let silenced = 0;
  for (let i = 0; i < 1200; i++) {
    const pick = <T>(xs: readonly T[], k: number): T => xs[(i * k + (i >> 3)) % xs.length] as T;
    const event: Record<string, unknown> = { class: 'DDL' };
    const set = (f: string, v: unknown): void => void (v !== undefined && (event[f] = v));
    set('dbUserName', pick(users, 7));
    set('rowCount', pick(rows, 3));
    set('exitCode', pick(codes, 11));
    set('engineNativeAuditFields', pick(audits, 5));
    set('sqlHasWhere', pick(wheres, 13));
    set('logTimeMs', pick(times, 17));
    const got = rs.evaluate(event).length > 0;
    const want = (await engine.run(structuredClone(event))).events.length > 0;
    assert.equal(got, want, `on ${JSON.stringify(event)} (NaN shows as null)`);
    n++;
    if (!got) silenced++;
  }
  // Not vacuous: both answers occur often.
  assert.ok(silenced > 100 && n - silenced > 100, `${silenced} of ${n} silenced`);
  // The cases the encoding must get right, one by one.
  const fires = (e: Record<string, unknown>): boolean => rs.evaluate({ class: 'DDL', ...e }).length > 0;
  assert.equal(fires({ dbUserName: 'alice', rowCount: 5 }), false);
  assert.equal(fires({ dbUserName: 'alice', rowCount: '5' }), true, 'text is not a number');
  assert.equal(fires({ dbUserName: 'a,b', rowCount: -0 }), false, '-0 === 0');
  assert.equal(fires({ dbUserName: 'a', rowCount: 'b,0' }), false);
  assert.equal(fires({ dbUserName: 'a', rowCount: 0 }), true, 'a comma in a value does not shift the fields');
  assert.equal(fires({ rowCount: 7 }), true, 'a missing field is not null');
  assert.equal(fires({ dbUserName: null, rowCount: 7 }), false);
  assert.equal(fires({ dbUserName: 'bob', rowCount: Number.NaN }), true, 'NaN equals nothing');
  assert.equal(fires({ exitCode: Number.NaN }), true);
  assert.equal(fires({ exitCode: [0] }), true, 'an array is not its element');
  assert.equal(fires({ exitCode: true }), false);
  assert.equal(fires({ exitCode: 'true' }), true);
});

test('100,000 tuples appended by an override: each event reads the excepted fields once, not once per tuple', () => {
  const n = 100_000;
  const text = [
    'rules:',
    '  - id: ddl',
    '    severity: high',
    '    when: {class: DDL}',
    'overrides:',
    '  - rule: ddl',
    '    exceptions:',
    '      append:',
    '        - name: allowed',
    '          fields: [dbUserName, clientApplication]',
    '          values:',
    ...Array.from({ length: n }, (_, i) => `            - [user${i}, app${i % 7}]`),
    '',
  ].join('\n');
  const rs = load(text);
  let reads = 0;
  const counted = (e: Record<string, unknown>): Record<string, unknown> =>
    new Proxy(e, { get: (t, k) => (k === 'dbUserName' && reads++, t[k as string]) });
  const fired = (e: Record<string, unknown>): boolean => rs.evaluate(counted({ class: 'DDL', ...e })).length > 0;
  assert.equal(fired({ dbUserName: 'user99999', clientApplication: `app${99_999 % 7}` }), false);
  assert.equal(fired({ dbUserName: 'user99999', clientApplication: 'psql' }), true);
  assert.equal(fired({ dbUserName: 'nobody', clientApplication: 'app0' }), true);
  // One read of the field per event for the lookup (the alert's message may read it once more).
  assert.ok(reads <= 6, `dbUserName read ${reads} times for 3 events`);
});
