/**
 * The staged changes of the correlation engine (CorrelationEngine.ts): between `begin()` and `commit()` every group
 * an event touches (or evicts) is journaled as it was, with its place in the least-recently-updated order, and a
 * learning period begun is noted; `rollback()` puts the state back exactly as at `begin()`, and `snapshot()`
 * meanwhile shows the committed state only (`committed`, `committedLearning`). The pipeline stages each record's
 * events so the state never holds the effects of a record whose alerts were not handed off (src/pipeline/Correlator.ts).
 */
import type { CorrelationCounters, CorrelationState, GroupState } from './correlationState.js';

/** Stages the changes of the events observed from now on (a record's); throws when a change is staged already. */
export function begin(s: CorrelationState, counters: CorrelationCounters): void {
  if (s.pending !== undefined) throw new Error('correlation state: a change is staged already (commit or roll it back first)');
  s.pending = { counters: { ...counters }, rules: new Map(), learning: new Map() };
}

/** Keeps the staged changes. */
export function commit(s: CorrelationState): void {
  s.pending = undefined;
}

/** Undoes the staged changes (none: nothing): the state and `counters` are again exactly as at `begin()`. */
export function rollback(s: CorrelationState, counters: CorrelationCounters): void {
  if (s.pending === undefined) return;
  s.rules = committed(s);
  s.learning = committedLearning(s);
  Object.assign(counters, s.pending.counters);
  s.pending = undefined;
}

/** Records how group `gk` of `ruleId` was before its first change since `begin()`. */
export function journal(s: CorrelationState, ruleId: string, groups: Map<string, GroupState>, gk: string): void {
  if (s.pending === undefined) return;
  let j = s.pending.rules.get(ruleId);
  if (j === undefined) {
    j = { created: false, groups: new Map() };
    s.pending.rules.set(ruleId, j);
  }
  if (j.groups.has(gk)) return;
  const g = groups.get(gk);
  if (g === undefined) j.groups.set(gk, { g: undefined, seq: 0 });
  else j.groups.set(gk, { g: copyGroup(g), seq: g.seq });
}

/** The learning starts without the staged changes. */
export function committedLearning(s: CorrelationState): Map<string, number> {
  if (s.pending === undefined || s.pending.learning.size === 0) return s.learning;
  const out = new Map(s.learning);
  for (const [id, was] of s.pending.learning) if (was === undefined) out.delete(id);
  return out;
}

/** The state without the staged changes (the untouched rules' maps shared, the touched ones rebuilt in order). */
export function committed(s: CorrelationState): Map<string, Map<string, GroupState>> {
  if (s.pending === undefined) return s.rules;
  const out = new Map<string, Map<string, GroupState>>();
  for (const [id, groups] of s.rules) {
    const j = s.pending.rules.get(id);
    if (j === undefined) out.set(id, groups);
    else if (!j.created) {
      const all: [string, GroupState, number][] = [];
      for (const [k, g] of groups) if (!j.groups.has(k)) all.push([k, g, g.seq]);
      for (const [k, { g, seq }] of j.groups) if (g !== undefined) all.push([k, g, seq]);
      all.sort((a, b) => a[2] - b[2]);
      for (const [, g, seq] of all) g.seq = seq;
      out.set(id, new Map(all.map(([k, g]) => [k, g])));
    }
  }
  return out;
}

/**
 * A group's copy that shares nothing changed in place with it: its list of entries and its known combinations are
 * copied (shallow: entries, combinations' tuples, folded lists and firings are replaced, never changed), so a
 * record's first event in a group of MAX_ENTRIES entries copies MAX_ENTRIES references, not the entries.
 */
function copyGroup(g: GroupState): GroupState {
  // Without its tally: that is changed in place, and counts the group's own list only (windowState.ts).
  const { tally: _tally, ...rest } = g;
  const c: GroupState = { ...rest, entries: Array.isArray(g.entries) ? g.entries.slice() : g.entries };
  if (g.seen !== undefined) c.seen = { ...g.seen };
  return c;
}
