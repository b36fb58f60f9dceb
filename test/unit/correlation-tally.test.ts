/**
 * A long window keeps a tally of its unused entries (windowState.ts) instead of counting them for every event: the
 * firings must be those of a fresh count. Engine A runs through thousands of events of one group (folding beyond
 * MAX_ENTRIES, firing, entries leaving the window, a record rolled back and seen again); engine B is restored from
 * A's snapshot every few events (a restored group has no tally: it counts afresh) and must fire exactly as A does.
 * Values include fractions and a huge number, which keep no tally (their firings agree; the rounding an incremental
 * float sum would bring is not observable here).
 */
import { test } from 'node:test';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { CorrelationEngine, loadRules } from '../../src/rules/index.js';
import type { CompiledRule } from '../../src/rules/types.js';

/**
 * Event `i`'s time: 4,000 events per 10 minutes first (bulk-read's window holds more than MAX_ENTRIES: folding), then
 * 400 (a list of hundreds, its oldest entries leaving the window one by one), brute-force's minute holding 40.
 */
function timeOf(i: number): number {
  return Date.UTC(2026, 0, 1) + Math.min(i, 4000) * 150 + Math.max(0, i - 4000) * 1500;
}

function event(i: number, rows: number, user: string): Record<string, unknown> {
  const t = timeOf(i);
  return { clusterId: 'cluster-A', instanceId: 'db-1', sessionId: `s${i % 7}`, statementId: i, substatementId: 1, logTime: new Date(t).toISOString(), logTimeMs: t, class: 'READ', engine: 'postgresql', dbUserName: user, rows };
}

test('correlations: a tallied long window fires exactly as one counted afresh, through folding, firing, rollback and odd values', async () => {
  // many-reads: an event_count whose groups hold more than 32 entries in their window without firing (bob's).
  const dir = await mkdtemp(join(tmpdir(), 'dasguard-tally-'));
  const file = join(dir, 'many-reads.yaml');
  await writeFile(file, ['rules:', '  - id: many-reads', '    description: 100 reads in 10 minutes', '    severity: low', "    message: 'many reads by {{dbUserName}}'", '    when: {all: [{rows: {gte: 0}}]}', '    correlation: {type: event_count, groupBy: [clusterId, dbUserName], window: 10m, gte: 100}', ''].join('\n'));
  const loaded = await loadRules(['rules', file]);
  await rm(dir, { recursive: true, force: true });
  assert.deepEqual(loaded.problems ?? [], []);
  const pack = loaded.ruleSet!;
  const ids = ['bulk-read', 'brute-force', 'privileged-off-hours', 'many-reads'];
  const rules = ids.map((id) => pack.correlations!.find((r) => r.info.id === id) as CompiledRule);
  assert.ok(rules.every((r) => r !== undefined));
  let seed = 7;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const a = new CorrelationEngine();
  let b = new CorrelationEngine();
  const firings: string[] = [];
  let fired = 0;
  for (let i = 0; i < 8_000; i++) {
    // alice reads much (bulk-read fires); bob less often, so that after the first 10 minutes neither bulk-read nor
    // many-reads fires for him (his entries leave the window unused); carol fractions
    // and a huge value (no exact tally in her group).
    const user = i % 10 === 5 ? 'carol' : i % 5 === 0 ? 'bob' : 'alice';
    const rows = user === 'carol' ? (i % 1000 === 5 ? 2 ** 60 : random() * 3000 + 0.5) : user === 'bob' ? Math.floor(random() * 10_000) : Math.floor(random() * (i < 4000 ? 600 : 10_000));
    const ev = event(i, rows, user);
    for (const rule of rules) {
      if (i % 997 === 0) {
        // A record rolled back (its hand-off failed), then processed again.
        a.begin();
        a.observe(rule, ev);
        a.rollback();
        b.begin();
        b.observe(rule, ev);
        b.rollback();
      }
      const fa = a.observe(rule, ev);
      const fb = b.observe(rule, ev);
      assert.deepEqual(fa, fb, `event ${i}, ${rule.info.id}`);
      if (fa !== undefined) {
        fired++;
        firings.push(`${rule.info.id}@${i}:${fa.value}`);
      }
    }
    if (i % 23 === 0) {
      b = new CorrelationEngine();
      b.restore(a.snapshot(), rules);
    }
  }
  assert.ok(fired > 20, `firings: ${firings.join(' ')}`);
  assert.ok(ids.every((id) => firings.some((f) => f.startsWith(`${id}@`))), firings.join(' '));
  assert.deepEqual(a.snapshot(), b.snapshot());
});
