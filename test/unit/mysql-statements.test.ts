/**
 * MySQL statements as one (src/codec/mysqlStatements.ts): the MAIN and AUX events of a statement joined within a
 * record into the MAIN event's `objects`, the `hasObject` operator that tests them, and the pack's
 * sensitive-table-read rule through the record path (evaluateBatch, and the record driver for halves that never
 * meet): one alert per statement, showing its SQL. Statements across two records: mysql-join.test.ts.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { joinMysqlStatements } from '../../src/codec/mysqlStatements.js';
import { normalizeEvent, type RecordContext } from '../../src/codec/normalize.js';
import { formatSummary } from '../../src/pipeline/output.js';
import { PipelineStats } from '../../src/pipeline/PipelineStats.js';
import type { Alert } from '../../src/pipeline/alert.js';
import type { AlertHandoff } from '../../src/pipeline/AlertHandoff.js';
import { evaluateBatch } from '../../src/pipeline/processRecord.js';
import { fromArray, runRecords } from '../../src/pipeline/runRecords.js';
import { redactEvent } from '../../src/redaction/index.js';
import { formatProblem, loadRules, loadRuleTexts } from '../../src/rules/index.js';
import type { ActivityEvent, DecodedBatch, RecordPosition } from '../../src/types.js';

const ctx: RecordContext = { clusterId: 'cluster-C', instanceId: 'db-I', version: '1.2' };

function ev(raw: Record<string, unknown>, context: RecordContext = ctx): ActivityEvent {
  const n = normalizeEvent({ type: 'record', serverType: 'MySQL', databaseName: 'shop', dbUserName: 'app', sessionId: '725118', ...raw }, 0, context);
  assert.equal(n.kind, 'event');
  return (n as { event: ActivityEvent }).event;
}

const main = (statementId: number, sql: string, extra: Record<string, unknown> = {}): ActivityEvent =>
  ev({ class: 'MAIN', command: 'QUERY', commandText: sql, statementId, substatementId: 1, ...extra });
const aux = (statementId: number, name: string, command: string, extra: Record<string, unknown> = {}, context = ctx): ActivityEvent =>
  ev({ class: 'AUX', command, commandText: name, objectName: name, objectType: 'TABLE', statementId, substatementId: 2, ...extra }, context);

describe('joinMysqlStatements', () => {
  it('gives the MAIN event the objects of its AUX events in the same record; the AUX events are left as they are', () => {
    const m = main(7, 'SELECT * FROM cards', { objectName: 'cards' });
    const a = aux(7, 'cards', 'READ');
    const before = { ...a };
    assert.deepEqual(joinMysqlStatements([m, a]), { unjoined: 0 });
    assert.deepEqual(m.objects, [{ name: 'cards', command: 'READ', type: 'TABLE', database: 'shop' }]);
    assert.deepEqual(a, before);
  });

  it('joins AUX events that come before their MAIN, several of them, in record order', () => {
    const a1 = aux(8, 'orders', 'READ');
    const a2 = aux(8, 'cards', 'READ', { databaseName: 'pay' });
    const m = main(8, 'SELECT * FROM orders JOIN pay.cards USING (id)');
    const a3 = aux(8, 'audit_log', 'INSERT');
    joinMysqlStatements([a1, a2, m, a3]);
    assert.deepEqual(
      (m.objects as { name: string; command: string; database: string }[]).map((o) => [o.name, o.command, o.database]),
      [['orders', 'READ', 'shop'], ['cards', 'READ', 'pay'], ['audit_log', 'INSERT', 'shop']],
    );
    for (const a of [a1, a2, a3]) assert.equal('objects' in a, false);
  });

  it('splits a comma-separated objectName, and reads commandText when objectName is empty', () => {
    const m = main(9, 'SELECT 1');
    const a1 = aux(9, 'cards', 'READ', { objectName: 'cards, customers,,' });
    const a2 = aux(9, 'orders', 'UPDATE', { objectName: '' });
    joinMysqlStatements([m, a1, a2]);
    assert.deepEqual((m.objects as { name: string }[]).map((o) => o.name), ['cards', 'customers', 'orders']);
  });

  it('AUX events without their MAIN in the record: the first carries the objects of all of them, and they are counted', () => {
    const a1 = aux(10, 'cards', 'READ');
    const a2 = aux(10, 'orders', 'READ');
    const other = main(11, 'SELECT 2');
    assert.deepEqual(joinMysqlStatements([a1, other, a2]), { unjoined: 1 });
    assert.deepEqual((a1.objects as { name: string }[]).map((o) => o.name), ['cards', 'orders']);
    assert.equal('objects' in a2, false);
    assert.deepEqual(other.objects, []);
  });

  it('a MAIN naming objects with no AUX event in its record is counted as unjoined; one naming none is not', () => {
    const named = main(12, 'SELECT * FROM cards', { objectName: 'cards' });
    const connect = ev({ class: 'MAIN', command: 'CONNECT', commandText: '', objectName: '', statementId: 0, substatementId: 1 });
    assert.deepEqual(joinMysqlStatements([named, connect]), { unjoined: 1 });
    assert.deepEqual(named.objects, []);
    assert.deepEqual(connect.objects, []);
  });

  it('keeps two sessions apart when they interleave with the same statementId, and instances too', () => {
    const m1 = main(5, 'SELECT * FROM cards', { sessionId: '1' });
    const m2 = main(5, 'SELECT * FROM orders', { sessionId: '2' });
    const a2 = aux(5, 'orders', 'READ', { sessionId: '2' });
    const a1 = aux(5, 'cards', 'READ', { sessionId: '1' });
    const elsewhere = aux(5, 'secret', 'READ', { sessionId: '1' }, { ...ctx, instanceId: 'db-OTHER' });
    assert.deepEqual(joinMysqlStatements([m1, m2, a2, a1, elsewhere]), { unjoined: 1 });
    assert.deepEqual((m1.objects as { name: string }[]).map((o) => o.name), ['cards']);
    assert.deepEqual((m2.objects as { name: string }[]).map((o) => o.name), ['orders']);
    assert.deepEqual((elsewhere.objects as { name: string }[]).map((o) => o.name), ['secret']);
  });

  it('a second MAIN of the same key starts a new statement: AUX events join the latest', () => {
    const m1 = main(0, 'SELECT 1');
    const m2 = main(0, 'SELECT * FROM t');
    const a = aux(0, 't', 'READ');
    joinMysqlStatements([m1, m2, a]);
    assert.deepEqual(m1.objects, []);
    assert.deepEqual((m2.objects as { name: string }[]).map((o) => o.name), ['t']);
  });

  it('leaves PostgreSQL events untouched', () => {
    const pg = ev({ serverType: 'PostgreSQL', class: 'READ', command: 'SELECT', commandText: 'select 1', objectName: 'public.cards', statementId: 7, substatementId: 1 }, { ...ctx, version: '1.1' });
    const copy = structuredClone(pg);
    assert.deepEqual(joinMysqlStatements([pg, aux(7, 'cards', 'READ')]), { unjoined: 1 });
    assert.deepEqual(pg, copy);
  });

  it('objects are shown like objectName under every redaction mode (object names are not secrets)', () => {
    const m = main(3, "SELECT * FROM cards WHERE number = '4111111111111111'");
    joinMysqlStatements([m, aux(3, 'cards', 'READ')]);
    const full = redactEvent(m, 'full');
    assert.equal('commandText' in full, false);
    assert.deepEqual(full.objects, m.objects);
  });
});

describe('hasObject', () => {
  function rule(when: string, preamble = ''): (event: Record<string, unknown>) => boolean {
    const text = `${preamble}\nrules:\n  - id: r\n    severity: low\n    when: ${when}\n`;
    const { ruleSet, problems } = loadRuleTexts([{ file: 'op.yaml', text }]);
    assert.ok(ruleSet !== undefined, problems.map(formatProblem).join('\n'));
    return (event) => ruleSet.evaluate(event).length > 0;
  }

  it('holds when ONE object has every given key among its values, ignoring case', () => {
    const r = rule('{objects: {hasObject: {name: $sensitive, command: READ}}}', 'lists:\n  sensitive: [cards, Vault]');
    assert.equal(r({ objects: [{ name: 'CARDS', command: 'read' }] }), true);
    assert.equal(r({ objects: [{ name: 'orders', command: 'READ' }, { name: 'vault', command: 'READ' }] }), true);
    // cards is written, orders read: no single object is a read of a sensitive table
    assert.equal(r({ objects: [{ name: 'cards', command: 'UPDATE' }, { name: 'orders', command: 'READ' }] }), false);
    assert.equal(r({ objects: [] }), false);
    assert.equal(r({}), false);
    assert.equal(r({ objects: 'cards' }), false);
    assert.equal(r({ objects: [null, 'cards', { name: 5, command: 'READ' }] }), false);
  });

  it('takes one text, a YAML list or {list: name} per key', () => {
    const r = rule('{objects: {hasObject: {name: [a, b], database: {list: dbs}, type: TABLE}}}', 'lists:\n  dbs: [shop]');
    assert.equal(r({ objects: [{ name: 'b', database: 'SHOP', type: 'table' }] }), true);
    assert.equal(r({ objects: [{ name: 'b', database: 'other', type: 'TABLE' }] }), false);
  });

  it('reports every mistake with file:line and rule id', () => {
    const text = [
      'rules:',
      '  - id: r1',
      '    severity: low',
      '    when: {objects: {hasObject: {name: cards, table: x, command: 5}}}',
      '  - id: r2',
      '    severity: low',
      '    when: {objectName: {hasObject: {name: cards}}}',
      '  - id: r3',
      '    severity: low',
      '    when: {objects: {hasObject: cards}}',
      '  - id: r4',
      '    severity: low',
      '    when: {objects: {hasObject: {name: $nope}}}',
      '  - id: r5',
      '    severity: low',
      '    when: {objects: {contains: cards}}',
    ].join('\n');
    const { ruleSet, problems } = loadRuleTexts([{ file: 'bad.yaml', text }]);
    assert.equal(ruleSet, undefined);
    const got = problems.map(formatProblem);
    assert.equal(got.length, 6, got.join('\n'));
    assert.match(got[0] as string, /^bad\.yaml:4 r1: 'hasObject': unknown object key 'table' \(name, command, type, database\)/);
    assert.match(got[1] as string, /^bad\.yaml:4 r1: 'hasObject': command takes text values, got number 5: write it in quotes/);
    assert.match(got[2] as string, /^bad\.yaml:7 r2: operator 'hasObject' cannot test objectName \(string\)/);
    assert.match(got[3] as string, /^bad\.yaml:10 r3: 'hasObject' takes a mapping of name, command, type, database/);
    assert.match(got[4] as string, /^bad\.yaml:13 r4: unknown list 'nope'/);
    assert.match(got[5] as string, /^bad\.yaml:16 r5: operator 'contains' cannot test objects: its entries are \{name, command, type, database\}, not names; use hasObject/);
  });
});

describe('the record path with the pack', () => {
  const pos: RecordPosition = { source: 'mysql.jsonl', line: 1 };
  const batchOf = (events: ActivityEvent[]): DecodedBatch => ({
    clusterId: ctx.clusterId, instanceId: ctx.instanceId, version: '1.2', events, heartbeats: [], rejected: [], warnings: [], encrypted: false,
  });

  it('a SELECT reading cards is one sensitive-table-read alert on the MAIN event, with its SQL and objects', async () => {
    const { ruleSet } = await loadRules(['rules']);
    assert.ok(ruleSet !== undefined);
    const events = [aux(20, 'cards', 'READ'), main(20, 'SELECT holder FROM cards WHERE id = 12', { objectName: 'cards' }), aux(21, 'orders', 'READ'), main(21, 'SELECT * FROM orders')];
    const outcome = evaluateBatch(batchOf(events), pos, { rules: ruleSet });
    const alerts = outcome.alerts.filter((a) => a.ruleId === 'sensitive-table-read');
    assert.equal(alerts.length, 1);
    const a = alerts[0]!;
    assert.equal(a.event.class, 'MAIN');
    assert.equal(a.message, 'app read cards on shop from : SELECT holder FROM cards WHERE id = ?');
    assert.deepEqual(a.event.objects, [{ name: 'cards', command: 'READ', type: 'TABLE', database: 'shop' }]);
    assert.equal(outcome.mysqlUnjoined, undefined);
  });

  it('AUX events whose MAIN is two records away still alert once, without SQL, and are counted in mysqlUnjoined', async () => {
    const { ruleSet } = await loadRules(['rules']);
    assert.ok(ruleSet !== undefined);
    // The MAIN waits for the next record only (src/pipeline/StatementJoiner.ts): record 3's AUX events are too late.
    const records = [[main(30, 'SELECT * FROM cards JOIN orders USING (id)', { objectName: 'cards,orders' })], [main(31, 'SELECT 1')], [aux(30, 'cards', 'READ'), aux(30, 'orders', 'READ')]];
    const at = (r: number): RecordPosition => ({ source: 'mysql.jsonl', line: r + 1 });
    const alerts: Alert[] = [];
    const stats = new PipelineStats();
    await runRecords(fromArray([0, 1, 2]), {
      toItem: (r) => ({ kind: 'record', record: { data: {}, position: at(r) } }),
      process: async (_record, r) => evaluateBatch(batchOf(records[r]!), at(r), { rules: ruleSet }),
      stats,
      handoff: { handOff: async (a: readonly Alert[]) => void alerts.push(...a) } as AlertHandoff,
    });
    assert.deepEqual(alerts.map((a) => [a.ruleId, a.event.class, a.message, a.source]), [['sensitive-table-read', 'AUX', 'app read cards on shop from : cards', 'mysql.jsonl:3']]);
    assert.equal(stats.snapshot().mysqlUnjoined, 2);
    assert.match(formatSummary('replay', stats), /\n {2}MySQL statements: 2 MAIN or AUX parts evaluated without their other part \(not in the same or the next record\)/);
    assert.doesNotMatch(formatSummary('replay', new PipelineStats()), /MySQL statements/);
  });

  it('decoding without rules adds nothing', () => {
    const m = main(40, 'SELECT 1');
    evaluateBatch(batchOf([m, aux(40, 'cards', 'READ')]), pos, {});
    assert.equal('objects' in m, false);
  });
});
