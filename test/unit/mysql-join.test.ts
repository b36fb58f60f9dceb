/**
 * MySQL statements across two records (src/pipeline/StatementJoiner.ts through the record driver, runRecords): a
 * statement whose MAIN and AUX events fall into records N and N+1 (either order) is evaluated joined, with the alert
 * id of a statement within one record; halves further apart, or at the end of the input, are evaluated unjoined and
 * counted; record N's commit waits until N+1's hand-off, which carries N's alerts; a failed hand-off of N+1 leaves N
 * uncommitted, and reading again from N gives the joined alert once; the correlation step sees the events in order.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeEvent, type RecordContext } from '../../src/codec/normalize.js';
import { TransientError } from '../../src/errors.js';
import type { Alert } from '../../src/pipeline/alert.js';
import type { AlertHandoff } from '../../src/pipeline/AlertHandoff.js';
import { PipelineStats } from '../../src/pipeline/PipelineStats.js';
import { evaluateBatch, type CorrelationStep } from '../../src/pipeline/processRecord.js';
import { fromArray, runRecords } from '../../src/pipeline/runRecords.js';
import { loadRules, loadRuleTexts, formatProblem, type RuleSet } from '../../src/rules/index.js';
import type { SourceItem } from '../../src/sources/types.js';
import type { ActivityEvent, DecodedBatch, RecordPosition } from '../../src/types.js';

const ctx: RecordContext = { clusterId: 'cluster-C', instanceId: 'db-I', version: '1.2' };
/** An event; its time is made of its statement and substatement ids (the same event whichever record holds it). */
function ev(raw: Record<string, unknown>): ActivityEvent {
  const t = `2026-10-14 09:30:00.${String(Number(raw.statementId) * 10 + Number(raw.substatementId)).padStart(6, '0')}+00`;
  const r = normalizeEvent({ type: 'record', serverType: 'MySQL', databaseName: 'shop', dbUserName: 'app', sessionId: '725118', remoteHost: '10.0.8.14', logTime: t, ...raw }, 0, ctx);
  assert.equal(r.kind, 'event');
  return (r as { event: ActivityEvent }).event;
}
const main = (statementId: number, sql: string, objectName = ''): ActivityEvent =>
  ev({ class: 'MAIN', command: 'QUERY', commandText: sql, objectName, objectType: 'TABLE', statementId, substatementId: 1 });
const aux = (statementId: number, name: string, command = 'READ'): ActivityEvent =>
  ev({ class: 'AUX', command, commandText: name, objectName: name, objectType: 'TABLE', statementId, substatementId: 2 });

const pos = (r: number): RecordPosition => ({ source: 'test', shardId: 'shardId-000000000000', sequenceNumber: String(1000 + r) });
const batchOf = (events: ActivityEvent[]): DecodedBatch => ({
  clusterId: ctx.clusterId, instanceId: ctx.instanceId, version: '1.2', events, heartbeats: [], rejected: [], warnings: [], encrypted: false,
});

/** A statement's events, made again for every feed (the join adds `objects` to them). */
type Records = () => ActivityEvent[][];

interface Fed {
  handedOff: Alert[][];
  committed: number[];
  /** hand-offs and commits, in order: `handoff <ruleIds>` and `commit <record>`. */
  trace: string[];
  stats: PipelineStats;
}

const newFed = (): Fed => ({ handedOff: [], committed: [], trace: [], stats: new PipelineStats() });

async function feed(
  rules: RuleSet,
  records: ActivityEvent[][],
  o: { from?: number; failOn?: (alerts: readonly Alert[]) => boolean; correlator?: CorrelationStep } = {},
  fed = newFed(),
): Promise<Fed> {
  const handoff = {
    handOff: async (alerts: readonly Alert[]) => {
      if (o.failOn?.(alerts)) throw new TransientError('outbox full');
      fed.handedOff.push([...alerts]);
      fed.trace.push(`handoff ${alerts.map((a) => a.ruleId).join(',')}`);
    },
  } as AlertHandoff;
  const indexes = records.map((_, r) => r).slice(o.from ?? 0);
  await runRecords<number>(fromArray(indexes), {
    toItem: (r): SourceItem => ({ kind: 'record', record: { data: {}, position: pos(r) } }),
    // Later records finish first: the join follows the source order, not the order processing ends.
    process: async (_record, r) => {
      await new Promise((resolve) => setImmediate(resolve));
      return evaluateBatch(batchOf(records[r]!), pos(r), { rules });
    },
    stats: fed.stats,
    handoff,
    ...(o.correlator ? { correlator: o.correlator } : {}),
    commit: (r) => {
      fed.committed.push(r);
      fed.trace.push(`commit ${r}`);
    },
    drive: { concurrency: 4 },
  });
  return fed;
}
const all = (f: Fed) => f.handedOff.flat();
const reads = (f: Fed) => all(f).filter((a) => a.ruleId === 'sensitive-table-read');

let pack: RuleSet;
before(async () => {
  pack = (await loadRules(['rules'])).ruleSet as RuleSet;
  assert.ok(pack);
});

describe('a statement split over two records', () => {
  const SQL = 'SELECT holder FROM cards WHERE id = 12';
  const within: Records = () => [[main(20, SQL, 'cards'), aux(20, 'cards')]];

  it('MAIN in record N, AUX in N+1: one alert on the MAIN, with its SQL and objects, the id of a statement within one record', async () => {
    const one = reads(await feed(pack, within()));
    assert.equal(one.length, 1);
    const split = await feed(pack, [[aux(1, 'orders'), main(1, 'SELECT * FROM orders', 'orders'), main(20, SQL, 'cards')], [aux(20, 'cards'), main(2, 'SELECT 2')]]);
    const got = reads(split);
    assert.equal(got.length, 1);
    const a = got[0]!;
    assert.equal(a.id, one[0]!.id, 'the alert id does not depend on where the halves were');
    assert.equal(a.event.class, 'MAIN');
    assert.equal(a.message, 'app read cards on shop from 10.0.8.14: SELECT holder FROM cards WHERE id = ?');
    assert.deepEqual(a.event.objects, [{ name: 'cards', command: 'READ', type: 'TABLE', database: 'shop' }]);
    assert.equal(a.source, 'test shard shardId-000000000000 sequence 1000', 'the alert carries the position of the record its event came from');
    assert.equal(split.stats.snapshot().mysqlUnjoined, 0);
    assert.equal(split.stats.snapshot().records, 2);
  });

  it('AUX in record N, MAIN in N+1: joined the same way; the AUX events carry no objects of their own', async () => {
    const one = reads(await feed(pack, within()));
    const split = await feed(pack, [[main(3, 'SELECT 3'), aux(20, 'cards')], [main(20, SQL, 'cards')]]);
    const got = reads(split);
    assert.equal(got.length, 1);
    assert.equal(got[0]!.id, one[0]!.id);
    assert.equal(got[0]!.event.class, 'MAIN');
    assert.equal(got[0]!.source, 'test shard shardId-000000000000 sequence 1001');
    assert.equal(split.stats.snapshot().mysqlUnjoined, 0);
  });

  it('halves more than one record apart are evaluated unjoined (the AUX part alone, without SQL) and counted', async () => {
    const f = await feed(pack, [[main(30, 'SELECT * FROM cards JOIN orders USING (id)', 'cards,orders')], [main(4, 'SELECT 4')], [aux(30, 'cards'), aux(30, 'orders')]]);
    assert.deepEqual(reads(f).map((a) => [a.event.class, a.message]), [['AUX', 'app read cards on shop from 10.0.8.14: cards']]);
    assert.equal(f.stats.snapshot().mysqlUnjoined, 2);
    assert.deepEqual(f.committed, [0, 1, 2]);
  });

  it('the end of the input evaluates the waiting half unjoined, counts it, and commits its record', async () => {
    const f = await feed(pack, [[main(5, 'SELECT 5')], [aux(40, 'cards')]]);
    assert.deepEqual(reads(f).map((a) => a.event.class), ['AUX']);
    assert.equal(f.stats.snapshot().mysqlUnjoined, 1);
    assert.deepEqual(f.trace, ['commit 0', 'handoff sensitive-table-read', 'commit 1']);
  });
});

describe('commits wait for the hand-off of the other half', () => {
  // A rule on every MySQL MAIN event (class MAIN), so each record's own alerts show in the trace.
  let rules: RuleSet;
  before(() => {
    const text = [
      'rules:',
      '  - id: main',
      '    severity: low',
      '    when: {engine: mysql, class: MAIN}',
      '  - id: reads-cards',
      '    severity: medium',
      '    when: {objects: {hasObject: {name: cards}}}',
    ].join('\n');
    const r = loadRuleTexts([{ file: 'r.yaml', text }]);
    assert.ok(r.ruleSet, r.problems.map(formatProblem).join('\n'));
    rules = r.ruleSet;
  });
  const split = (): ActivityEvent[][] => [[main(1, 'SELECT 1')], [main(2, 'SELECT 2'), main(20, 'SELECT * FROM cards', 'cards')], [aux(20, 'cards'), main(3, 'SELECT 3')], [main(4, 'SELECT 4')]];

  it("record N is committed only after N+1's hand-off, which carries N's alerts; every hand-off is followed by a commit", async () => {
    const f = await feed(rules, split());
    assert.deepEqual(f.trace, ['handoff main', 'commit 0', 'handoff main,main,reads-cards,main', 'commit 1', 'commit 2', 'handoff main', 'commit 3']);
  });

  it('a chain of records each waiting for the next: each commit follows the next hand-off, nothing waits longer', async () => {
    const f = await feed(rules, [[main(20, 'SELECT * FROM cards', 'cards')], [aux(20, 'cards'), aux(21, 'cards')], [main(21, 'SELECT * FROM cards c2', 'cards'), main(22, 'SELECT * FROM t', 't')], [aux(22, 't')]]);
    assert.deepEqual(f.trace, ['handoff main,reads-cards', 'commit 0', 'handoff main,reads-cards', 'commit 1', 'handoff main', 'commit 2', 'commit 3']);
    assert.equal(f.stats.snapshot().mysqlUnjoined, 0);
  });

  it("a failed hand-off of N+1 leaves N uncommitted; read again from N, the joined alert comes once, with the same id", async () => {
    const want = (await feed(rules, split())).handedOff.flat().filter((a) => a.ruleId === 'reads-cards');
    assert.equal(want.length, 1);
    const failed = newFed();
    await assert.rejects(feed(rules, split(), { failOn: (alerts) => alerts.some((a) => a.ruleId === 'reads-cards') }, failed), /outbox full/);
    // Record 0 only: record 1 waited for record 2's hand-off, which failed (with record 1's own alerts in it).
    assert.deepEqual(failed.trace, ['handoff main', 'commit 0']);
    assert.equal(failed.stats.snapshot().records, 1, 'the Lambda reports the first record not committed (index 1) for retry');
    // The retry reads again from the first record not committed.
    const again = await feed(rules, split(), { from: 1 });
    assert.deepEqual(again.handedOff.flat().filter((a) => a.ruleId === 'reads-cards').map((a) => a.id), want.map((a) => a.id));
    assert.deepEqual(again.committed, [1, 2, 3]);
  });

  it('the correlation step sees the events in source order, the waiting half right after its record, in one turn per hand-off', async () => {
    const text = [
      'rules:',
      '  - id: any-mysql',
      '    severity: low',
      '    when: {engine: mysql}',
      '  - id: many',
      '    severity: high',
      '    correlation: {type: event_count, rules: [any-mysql], groupBy: [clusterId], window: 1h, gte: 1000}',
    ].join('\n');
    const r = loadRuleTexts([{ file: 'c.yaml', text }]);
    assert.ok(r.ruleSet, r.problems.map(formatProblem).join('\n'));
    const turns: string[] = [];
    const step: CorrelationStep = {
      apply: async (outcome) => {
        turns.push(`${outcome.position.sequenceNumber}: ${(outcome.correlating ?? []).map((b) => `${b.event.statementId}${String(b.event.class).slice(0, 1)}`).join(' ')}`);
        return [];
      },
      commit: () => void turns.push('commit'),
      rollback: () => void turns.push('rollback'),
    };
    await feed(r.ruleSet, [[main(1, 'SELECT 1'), main(20, 'SELECT * FROM cards', 'cards'), main(2, 'SELECT 2')], [main(3, 'SELECT 3'), aux(20, 'cards')], [main(4, 'SELECT 4')]], { correlator: step });
    assert.deepEqual(turns, ['1001: 1M 2M 20M 3M 20A', 'commit', '1002: 4M', 'commit']);
  });
});
