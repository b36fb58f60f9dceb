/**
 * The correlation engine's state cut into ITEMS, for a state shared between processes (src/pipeline/SharedRuleState.ts:
 * one item per rule and group key in a table): an event of a rule reads and changes its group's item (`g` and the
 * group key, its groupBy values as JSON) and, for first_seen, its learning period's (`l`, with the cluster's JSON when
 * the rule groups by cluster). An item's value is plain JSON: a group as held (entries, newest time, quiet period,
 * known combinations, last firing, folded chunks), or a learning period's start. `itemOf` reads one from the state,
 * `putItem` replaces one in it (outside a staged change: what the table holds is put in before the record is
 * applied), so the engine runs on exactly what every process wrote.
 */
import { groupKey, LEARNING_SEP, NO_ENTRIES, type CorrelationState, type Entry, type GroupState } from './correlationState.js';
import { learningId } from './firstSeenEvent.js';
import type { CompiledRule } from './types.js';

/** The items an event of correlation `rule` reads and changes; none for an event without a time (the engine drops it). */
export function itemKeysOf(rule: CompiledRule, event: Record<string, unknown>): string[] {
  const spec = rule.correlation;
  if (spec === undefined || typeof event.logTimeMs !== 'number' || !Number.isFinite(event.logTimeMs)) return [];
  const keys = [`g${groupKey(rule, event)}`];
  if (spec.type === 'first_seen') keys.push(`l${learningId(rule.info.id, spec, event).slice(rule.info.id.length)}`);
  return keys;
}

/** A group as an item holds it. */
interface GroupItem {
  entries: Entry[];
  maxT: number;
  quietUntil?: number;
  seen?: GroupState['seen'];
  fired?: GroupState['fired'];
  folded?: GroupState['folded'];
}

/** The item `key` of rule `ruleId` as the state holds it now (staged changes included), as JSON; undefined: none. */
export function itemOf(st: CorrelationState, ruleId: string, key: string): unknown {
  if (key.startsWith('l')) {
    const t = st.learning.get(`${ruleId}${key.slice(1)}`);
    return t === undefined ? undefined : { start: t };
  }
  const g = st.rules.get(ruleId)?.get(key.slice(1));
  if (g === undefined) return undefined;
  const item: GroupItem = { entries: Array.isArray(g.entries) ? g.entries : [g.entries], maxT: g.maxT };
  if (g.quietUntil !== undefined) item.quietUntil = g.quietUntil;
  if (g.seen !== undefined) item.seen = g.seen;
  if (g.fired !== undefined) item.fired = g.fired;
  if (g.folded !== undefined) item.folded = g.folded;
  return JSON.parse(JSON.stringify(item)) as unknown;
}

/**
 * Replaces the item `key` of rule `ruleId` in the state with `value` (undefined: there is none: the state forgets
 * it); a group put in becomes the most recently updated, and the state changes it in place from then on. Throws on a value that is not such an item (a table
 * another version wrote, or edited by hand). Never while a change is staged.
 */
export function putItem(st: CorrelationState, ruleId: string, key: string, value: unknown): void {
  if (st.pending !== undefined) throw new Error('correlation state: an item is put in while a change is staged');
  if (key.startsWith('l')) {
    const id = `${ruleId}${key.slice(1)}`;
    if (value === undefined) st.learning.delete(id);
    else {
      const start = (value as { start?: unknown } | null)?.start;
      if (typeof start !== 'number') throw new Error(`correlation state: rule ${ruleId}: a malformed learning period`);
      st.learning.set(id, start);
    }
    return;
  }
  if (!key.startsWith('g') || key.includes(LEARNING_SEP)) throw new Error(`correlation state: rule ${ruleId}: an unknown item ${JSON.stringify(key)}`);
  const gk = key.slice(1);
  let groups = st.rules.get(ruleId);
  if (value === undefined) {
    groups?.delete(gk);
    return;
  }
  const v = value as Partial<GroupItem> | null;
  if (v === null || typeof v !== 'object' || !Array.isArray(v.entries) || typeof v.maxT !== 'number') throw new Error(`correlation state: rule ${ruleId}: a malformed group`);
  const g: GroupState = { entries: v.entries.length === 0 ? NO_ENTRIES : v.entries.length === 1 ? (v.entries[0] as Entry) : v.entries, maxT: v.maxT, quietUntil: v.quietUntil, seq: ++st.tick };
  if (v.seen !== undefined) g.seen = v.seen;
  if (v.fired !== undefined) g.fired = v.fired;
  if (v.folded !== undefined) g.folded = v.folded;
  if (groups === undefined) {
    groups = new Map();
    st.rules.set(ruleId, groups);
  }
  groups.delete(gk);
  groups.set(gk, g);
}
