/**
 * Two record drivers sharing one Correlator, as `run`'s shard readers do: while one shard's record is staged (its
 * hand-off waiting, as on the outbox's fsync), the other shard's record waits its turn in `apply` instead of
 * failing ("a change is staged already") and rolling back the first one's changes; both shards' events end in the
 * one state, and the threshold they reach together fires once.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Alert } from '../../src/pipeline/alert.js';
import type { AlertHandoff } from '../../src/pipeline/AlertHandoff.js';
import { Correlator } from '../../src/pipeline/Correlator.js';
import { PipelineStats } from '../../src/pipeline/PipelineStats.js';
import { evaluateBatch, type CorrelationStep } from '../../src/pipeline/processRecord.js';
import { fromArray, runRecords } from '../../src/pipeline/runRecords.js';
import { loadRules, type RuleSet } from '../../src/rules/index.js';
import type { DecodedBatch, RecordPosition } from '../../src/types.js';

const RULES = `
rules:
  - id: failed-login
    severity: medium
    when: {command: AUTH FAILURE}
  - id: brute-force
    severity: high
    correlation: {type: event_count, rules: [failed-login], groupBy: [remoteHost], window: 1m, gte: 5, generate: true}
`;
const T0 = Date.parse('2026-10-14T09:00:00.000Z');

let dir: string;
let rules: RuleSet;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dasguard-corrshards-'));
  await writeFile(join(dir, 'rules.yaml'), RULES);
  rules = (await loadRules([join(dir, 'rules.yaml')])).ruleSet as RuleSet;
});
after(() => rm(dir, { recursive: true, force: true }));

const pos = (shard: number, r: number): RecordPosition => ({ source: 'test', shardId: `shardId-00000000000${shard}`, sequenceNumber: String(1000 + r) });
function event(i: number): DecodedBatch['events'][number] {
  const logTimeMs = T0 + i * 2_000;
  return {
    engine: 'postgres', clusterId: 'cluster-X', instanceId: 'db-X', type: 'record', class: 'MISC', command: 'AUTH FAILURE',
    logTime: new Date(logTimeMs).toISOString(), logTimeMs, statementId: i + 1, substatementId: 1, sessionId: `s${i}`, remoteHost: '203.0.113.9',
  } as unknown as DecodedBatch['events'][number];
}
const batchOf = (events: number[]): DecodedBatch => ({
  clusterId: 'cluster-X', instanceId: 'db-X', version: '1.1', events: events.map(event), heartbeats: [], rejected: [], warnings: [], encrypted: true,
});

test("two shards' drivers on one Correlator: a record staged on one makes the other's wait its turn, then both count", async () => {
  const shared = (await Correlator.open(rules)) as Correlator;
  const order: string[] = [];
  let shardBApplies!: () => void;
  const shardBApplied = new Promise<void>((resolve) => (shardBApplies = resolve));
  // Shard B's step: the shared correlator, saying when B's first record asks for its turn.
  const stepB: CorrelationStep = {
    apply: (o, s) => {
      shardBApplies();
      return shared.apply(o, s as PipelineStats);
    },
    commit: () => shared.commit(),
    rollback: () => shared.rollback(),
  };
  const delivered: Alert[] = [];
  const handoff = (shard: string, hold?: Promise<void>): AlertHandoff =>
    ({
      handOff: async (alerts: readonly Alert[]) => {
        // Shard A's first hand-off lasts until shard B's record is in `apply` (an fsync that takes its time).
        if (hold !== undefined && !order.includes(`${shard} handed off`)) await hold;
        order.push(`${shard} handed off`);
        delivered.push(...alerts);
      },
    }) as AlertHandoff;
  const drive = (shard: 'A' | 'B', records: number[][], step: CorrelationStep, hold?: Promise<void>) =>
    runRecords(fromArray(records.map((events, r) => ({ r, events }))), {
      toItem: ({ r }) => ({ kind: 'record', record: { data: {}, position: pos(shard === 'A' ? 0 : 1, r) } }),
      process: async (_record, { r, events }) => evaluateBatch(batchOf(events), pos(shard === 'A' ? 0 : 1, r), { rules }),
      correlator: step,
      stats: new PipelineStats(),
      handoff: handoff(shard, hold),
      commit: () => void order.push(`${shard} committed`),
    });
  // Shard A: failed logins 0-1 and 2; shard B: 3 and 4. The fifth completes the brute force, whichever shard has it.
  await Promise.all([drive('A', [[0, 1], [2]], shared, shardBApplied), drive('B', [[3], [4]], stepB)]);

  assert.equal(order.indexOf('A handed off') < order.indexOf('B handed off'), true, order.join(', '));
  assert.equal(order.filter((o) => o.endsWith('committed')).length, 4, order.join(', '));
  const fired = delivered.filter((a) => a.ruleId === 'brute-force');
  assert.equal(fired.length, 1, 'the five failures of both shards fire once');
  assert.equal((fired[0]!.event as { correlation: { events: number } }).correlation.events, 5);
  assert.equal(delivered.filter((a) => a.ruleId === 'failed-login').length, 5);
  assert.deepEqual(shared.engine.groupCounts(), { 'brute-force': 1 });
});
