/** Time of day and calendar: the local-time fields in a rule's IANA zone, the `between` operator, zone and range checks. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { formatProblem, loadRuleTexts } from '../../src/rules/index.js';
import { CompiledRuleSet } from '../../src/rules/RuleSet.js';
import { completeTestEvent } from '../../src/rules/ruleTests.js';
import { inTimeRange, localTimeOf, parseTimeRange, type TimeRange } from '../../src/rules/localTime.js';

function load(text: string, file = 'rules.yaml'): { ruleSet: CompiledRuleSet | undefined; lines: string[] } {
  const { ruleSet, problems } = loadRuleTexts([{ file, text }]);
  return { ruleSet: ruleSet as CompiledRuleSet | undefined, lines: problems.map(formatProblem) };
}

const at = (iso: string): Record<string, unknown> => ({ logTimeMs: Date.parse(iso) });

test('the fields in a zone with daylight saving: Europe/Paris around the spring and autumn changes', () => {
  // Spring: 00:59Z is 01:59 CET, 01:00Z is 03:00 CEST (02:00-02:59 local does not exist that day).
  assert.deepEqual(localTimeOf(Date.parse('2024-03-31T00:59:00Z'), 'Europe/Paris'), { hour: 1, minute: 59, weekday: 'sun', date: '2024-03-31', timeOfDay: '01:59' });
  assert.deepEqual(localTimeOf(Date.parse('2024-03-31T01:00:00Z'), 'Europe/Paris'), { hour: 3, minute: 0, weekday: 'sun', date: '2024-03-31', timeOfDay: '03:00' });
  // Autumn: 02:30 local happens twice (00:30Z in CEST, 01:30Z in CET).
  assert.equal(localTimeOf(Date.parse('2024-10-27T00:30:00Z'), 'Europe/Paris')?.timeOfDay, '02:30');
  assert.equal(localTimeOf(Date.parse('2024-10-27T01:30:00Z'), 'Europe/Paris')?.timeOfDay, '02:30');
  assert.equal(localTimeOf(Date.parse('2024-10-27T02:30:00Z'), 'Europe/Paris')?.timeOfDay, '03:30');
  // The day and weekday follow the zone: Monday 03:00Z is Sunday evening in New York.
  assert.deepEqual(localTimeOf(Date.parse('2024-05-06T03:00:00Z'), 'America/New_York'), { hour: 23, minute: 0, weekday: 'sun', date: '2024-05-05', timeOfDay: '23:00' });
  assert.deepEqual(localTimeOf(Date.parse('2024-05-06T03:00:00Z'), 'UTC'), { hour: 3, minute: 0, weekday: 'mon', date: '2024-05-06', timeOfDay: '03:00' });
  assert.equal(localTimeOf(undefined, 'UTC'), undefined);
  assert.equal(localTimeOf(null, 'UTC'), undefined);
});

test('a range wrapping midnight: start included, end excluded', () => {
  const r = parseTimeRange('22:00-06:00') as TimeRange;
  const inside = (t: string): boolean => inTimeRange(t, r);
  assert.deepEqual(['21:59', '22:00', '23:59', '00:00', '05:59', '06:00', '12:00'].map(inside), [false, true, true, true, true, false, false]);
  const day = parseTimeRange('09:00-17:30') as TimeRange;
  assert.deepEqual(['08:59', '09:00', '17:29', '17:30'].map((t) => inTimeRange(t, day)), [false, true, true, false]);
  assert.match(parseTimeRange('25:00-06:00') as string, /HH:MM-HH:MM/);
  assert.match(parseTimeRange('22-6') as string, /HH:MM-HH:MM/);
  assert.match(parseTimeRange('06:00-06:00') as string, /empty/);
});

const NIGHT = `timeZone: Europe/Paris
rules:
  - id: night
    severity: high
    when:
      timeOfDay: {between: "22:00-06:00"}
    message: "{{weekday}} {{date}} {{hour}}:{{minute}}"
  - id: night-ny
    severity: high
    timeZone: America/New_York
    when:
      timeOfDay: {between: "22:00-06:00"}
`;

test("a rule reads the files' timeZone; a rule's own timeZone overrides it; compiled rules agree with json-rules-engine", async () => {
  const { ruleSet, lines } = load(NIGHT);
  assert.deepEqual(lines, []);
  assert.ok(ruleSet);
  const fired = (e: Record<string, unknown>): string[] => ruleSet.evaluate(e).map((m) => m.rule.id);
  // Paris is UTC+2 in May: 19:59Z is 21:59, 20:00Z is 22:00, 03:59Z is 05:59, 04:00Z is 06:00. New York is UTC-4.
  assert.deepEqual(fired(at('2024-05-01T19:59:00Z')), []);
  assert.deepEqual(fired(at('2024-05-01T20:00:00Z')), ['night']);
  assert.deepEqual(fired(at('2024-05-02T03:59:00Z')), ['night', 'night-ny']);
  assert.deepEqual(fired(at('2024-05-02T04:00:00Z')), ['night-ny']);
  assert.deepEqual(fired(at('2024-05-02T02:00:00Z')), ['night', 'night-ny']);
  assert.deepEqual(fired(at('2024-05-02T10:00:00Z')), []);
  assert.deepEqual(fired({}), [], 'no event time: no local time, the rule does not fire');
  assert.equal(ruleSet.evaluate(at('2024-05-01T20:05:00Z'))[0]?.message, 'wed 2024-05-01 22:5');
  // The reference engine computes the same fields as dynamic facts with the rule's zone as params.
  const engine = ruleSet.referenceEngine();
  for (const iso of ['2024-05-01T19:59:00Z', '2024-05-01T20:00:00Z', '2024-05-02T03:59:00Z', '2024-05-02T04:00:00Z']) {
    const { events } = await engine.run(at(iso));
    assert.deepEqual(events.map((e) => e.type).sort(), fired(at(iso)).sort(), iso);
  }
});

test('without a timeZone anywhere the zone is UTC', () => {
  const { ruleSet } = load('rules:\n  - id: h\n    severity: low\n    when: {hour: 22, weekday: [sat, sun]}\n');
  assert.ok(ruleSet);
  assert.equal(ruleSet.evaluate(at('2024-05-04T22:10:00Z')).length, 1);
  assert.equal(ruleSet.evaluate(at('2024-05-04T21:10:00Z')).length, 0);
  assert.equal(ruleSet.evaluate(at('2024-05-06T22:10:00Z')).length, 0, 'a Monday');
});

test('bad zones, ranges and weekdays: every one with file:line and rule id, all at once', () => {
  const text = [
    'timeZone: Europe/Pari', //                              1
    'rules:', //                                             2
    '  - id: a', //                                          3
    '    severity: low', //                                  4
    '    timeZone: CET', //                                  5
    '    when: {timeOfDay: {between: "25:00-06:00"}}', //    6
    '  - id: b', //                                          7
    '    severity: low', //                                  8
    '    when:', //                                          9
    '      timeOfDay: {between: "22-6"}', //                 10
    '      weekday: monday', //                              11
    '  - id: c', //                                          12
    '    severity: low', //                                  13
    '    timeZone: +01:00', //                               14
    '    when: {hour: 1}', //                                15
    '    tests:', //                                         16
    '      fires:', //                                       17
    '        - hour: 1', //                                  18
  ].join('\n');
  const { ruleSet, lines } = load(text);
  assert.equal(ruleSet, undefined);
  const expect: [string, RegExp][] = [
    ['rules.yaml:1', /IANA time zone .*"Europe\/Pari".*did you mean 'Europe\/Paris'/],
    ['rules.yaml:5 a', /IANA time zone .*"CET"/],
    ['rules.yaml:6 a', /HH:MM-HH:MM .*"25:00-06:00"/],
    ['rules.yaml:10 b', /HH:MM-HH:MM .*"22-6"/],
    ['rules.yaml:11 b', /weekday is one of mon, .*"monday".*did you mean 'mon'/],
    ['rules.yaml:14 c', /IANA time zone/],
    ['rules.yaml:18 c', /hour is computed from the event's time: set logTime/],
  ];
  for (const [where, re] of expect) {
    const [file, id] = where.split(' ');
    assert.ok(lines.some((l) => l.startsWith(file + ' ') && (id === undefined || l.includes(id)) && re.test(l)), `no ${where} ${re} in:\n${lines.join('\n')}`);
  }
});

test('the rule files have one timeZone: two files that disagree are a problem', () => {
  const { ruleSet, problems } = loadRuleTexts([
    { file: 'a.yaml', text: 'timeZone: Europe/Paris\nrules: []\n' },
    { file: 'b.yaml', text: 'timeZone: Europe/Berlin\nrules: []\n' },
    { file: 'c.yaml', text: 'timeZone: Europe/Paris\nrules: []\n' },
  ]);
  assert.equal(ruleSet, undefined);
  const lines = problems.map(formatProblem);
  assert.equal(lines.length, 1, lines.join('\n'));
  assert.match(lines[0] as string, /^b\.yaml:1\b.*timeZone Europe\/Berlin here and Europe\/Paris at a\.yaml:1/);
});

test('rule tests give the event time as logTime; the fields do not depend on the process TZ', () => {
  const e = completeTestEvent({ logTime: '2024-05-01 21:30:00.000000+00' });
  assert.equal(localTimeOf(e.logTimeMs, 'Europe/Paris')?.timeOfDay, '23:30');
  const script = `import { localTimeOf } from './src/rules/localTime.ts';
    const ms = Date.parse('2024-03-31T01:00:00Z');
    console.log(JSON.stringify([localTimeOf(ms, 'UTC'), localTimeOf(ms, 'Europe/Paris'), new Date(ms).getHours()]));`;
  const out = (tz: string): unknown[] =>
    JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { env: { ...process.env, TZ: tz }, encoding: 'utf8' })) as unknown[];
  const ny = out('America/New_York');
  const tokyo = out('Asia/Tokyo');
  assert.notEqual(ny[2], tokyo[2], 'the processes do run in different zones');
  assert.deepEqual(ny.slice(0, 2), tokyo.slice(0, 2));
  assert.deepEqual(ny[0], { hour: 1, minute: 0, weekday: 'sun', date: '2024-03-31', timeOfDay: '01:00' });
});

test('the per-hour offset arithmetic gives what Intl formats, minute by minute across daylight saving changes', () => {
  const cases: [string, string[]][] = [
    ['Europe/Paris', ['2024-03-31', '2024-10-27']],
    ['America/New_York', ['2024-03-10', '2024-11-03']],
    ['Australia/Lord_Howe', ['2024-04-07', '2024-10-06']], // a 30-minute change
    ['Asia/Kathmandu', ['2024-06-01']], // +05:45
    ['UTC', ['2024-02-29']],
  ];
  for (const [zone, days] of cases) {
    const f = new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', weekday: 'short' });
    const ref = (ms: number): string => {
      const p = Object.fromEntries(f.formatToParts(ms).map((x) => [x.type, x.value]));
      return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute} ${String(p.weekday).toLowerCase()}`;
    };
    const mine = (ms: number): string => {
      const t = localTimeOf(ms, zone);
      assert.ok(t);
      assert.equal(t.timeOfDay, `${String(t.hour).padStart(2, '0')}:${String(t.minute).padStart(2, '0')}`);
      return `${t.date} ${t.timeOfDay} ${t.weekday}`;
    };
    const instants: number[] = [];
    for (const day of days) {
      const start = Date.parse(`${day}T00:00:00Z`) - 86_400_000;
      for (let m = 0; m < 3 * 1440; m++) instants.push(start + m * 60_000 + 59_999);
    }
    for (let ms = Date.parse('2024-01-01T00:00:00Z'); ms < Date.parse('2025-01-01T00:00:00Z'); ms += 97 * 60_000 + 1234) instants.push(ms);
    for (const ms of instants) assert.equal(mine(ms), ref(ms), `${zone} at ${new Date(ms).toISOString()}`);
  }
});

test('an instant outside years 0002-9998 has no local time (never an exception)', () => {
  for (const ms of [8.64e15, -8.64e15, 1e300, Number.NaN, Infinity, '1714600000000']) assert.equal(localTimeOf(ms, 'Europe/Paris'), undefined, String(ms));
  assert.equal(localTimeOf(Date.parse('0002-01-01T00:00:00Z'), 'UTC')?.date, '0002-01-01');
  assert.equal(localTimeOf(Date.parse('9998-12-30T23:59:00Z'), 'Pacific/Kiritimati')?.date, '9998-12-31');
});

test("a rule's exceptions keep its time zone (the rule compiled again with them reads local time in its zone)", () => {
  const { ruleSet, lines } = load(
    [
      'rules:',
      '  - id: tokyo-morning',
      '    description: d',
      '    severity: low',
      '    timeZone: Asia/Tokyo',
      '    when: {hour: 9}',
      '    exceptions: [{name: batch, fields: [dbUserName], values: [[bob]]}]',
      '    message: x',
      '',
    ].join('\n'),
  );
  assert.deepEqual(lines, []);
  const ids = (e: Record<string, unknown>) => ruleSet!.evaluate(e).map((m) => m.rule.id);
  // 00:30Z is 09:30 in Tokyo (and 00:30 in UTC, where the rule would not fire).
  assert.deepEqual(ids({ ...at('2024-05-06T00:30:00Z'), dbUserName: 'alice' }), ['tokyo-morning']);
  assert.deepEqual(ids({ ...at('2024-05-06T00:30:00Z'), dbUserName: 'bob' }), [], 'the exception silences its tuple');
  assert.deepEqual(ids({ ...at('2024-05-06T09:30:00Z'), dbUserName: 'alice' }), [], '09:30Z is 18:30 in Tokyo');
});
