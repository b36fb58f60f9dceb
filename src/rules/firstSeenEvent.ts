/**
 * One base event of a `first_seen` correlation in its group, as the engine (CorrelationEngine.ts) hands it over
 * once the group is found: the rule's learning period (per rule, or per rule and cluster when groupBy has
 * clusterId), the group's knowledge (firstSeenState.ts) recording the event's combination, and the firing of a new
 * one after the learning period. No window: no event is late, unless `forget` says so.
 */
import { again, eventKey, fieldOf, LEARNING_SEP, type CorrelationCounters, type CorrelationState, type GroupState } from './correlationState.js';
import { forgetBefore, recordCombination } from './firstSeenState.js';
import { present, shown } from './shownEvent.js';
import type { CompiledRule, CorrelationFiring, FirstSeenCorrelation } from './types.js';

/** The learning period's key: the rule's id, with the cluster when the rule groups by cluster (`LEARNING_SEP`). */
export function learningId(ruleId: string, spec: FirstSeenCorrelation, event: Record<string, unknown>): string {
  return spec.groupBy.includes('clusterId') ? `${ruleId}${LEARNING_SEP}${JSON.stringify(event.clusterId ?? null)}` : ruleId;
}

/**
 * first_seen: the group's knowledge (firstSeenState.ts) records the event's combination; a new one fires once the
 * rule's learning period (from its first base event, in event time) is over and the group is not quiet. No window:
 * no event is late (with forget:, one older than the group's newest by that is), an old event's combination is
 * compared with what is known.
 */
export function observeFirstSeen(st: CorrelationState, rule: CompiledRule, spec: FirstSeenCorrelation, gk: string, g: GroupState, t: number, event: Record<string, unknown>, stored: Record<string, unknown>, counters: CorrelationCounters): CorrelationFiring | undefined {
  const id = learningId(rule.info.id, spec, event);
  let start = st.learning.get(id);
  if (start === undefined) {
    if (st.pending !== undefined && !st.pending.learning.has(id)) st.pending.learning.set(id, undefined);
    start = t;
    st.learning.set(id, t);
  }
  const seen = (g.seen ??= {});
  const values: Record<string, unknown> = {};
  for (const f of spec.fields) values[f] = fieldOf(rule, event, f) ?? null;
  const combo = JSON.stringify(spec.fields.map((f) => values[f]));
  const key = eventKey(event);
  if (g.fired?.trigger === key) {
    counters.duplicates++;
    return again(rule, gk, g.fired);
  }
  // With forget:, what the group knows covers the last `forget` before its newest event: an event older than that
  // cannot be judged (its combination may have been known then, and forgotten since): late, like a window's.
  if (spec.forgetMs !== undefined && t <= g.maxT - spec.forgetMs) {
    counters.late++;
    return undefined;
  }
  if (t > g.maxT) g.maxT = t;
  if (spec.forgetMs !== undefined) forgetBefore(seen, g.maxT - spec.forgetMs);
  const outcome = recordCombination(seen, combo, t, key, (n) => (counters.evictions += n));
  if (outcome === 'duplicate') counters.duplicates++;
  if (outcome !== 'new' || t < start + spec.learningMs || (g.quietUntil !== undefined && g.maxT < g.quietUntil)) return undefined;
  g.quietUntil = g.maxT + spec.realertMs;
  const ev = present(shown(spec, event, stored));
  g.fired = { trigger: key, value: 1, values, events: 1, firstTimeMs: t, lastTimeMs: t, firstKey: key, first: ev, last: ev };
  return again(rule, gk, g.fired);
}
