/**
 * The correlation engine's state as a JSON snapshot (`snapshot`/`restore` of CorrelationEngine.ts, kept by the
 * CorrelationStore): the format, version 1 throughout (a snapshot without the first_seen parts, the last firings,
 * folded chunks or fingerprints, or with whole events in its entries, as written before, reads as it did), its
 * checks when read, and each rule's `fingerprint`, saved with its groups: a rule changed since starts afresh at
 * `restore`. A snapshot shows the committed state only (correlationJournal.ts).
 */
import { createHash } from 'node:crypto';
import { committed, committedLearning } from './correlationJournal.js';
import { entriesOf, groupOf, LEARNING_SEP, NO_ENTRIES, type CorrelationState, type Entry, type Fired, type Folded, type GroupState } from './correlationState.js';
import type { Seen } from './firstSeenState.js';
import { isLocalTimeField } from './localTime.js';
import type { CompiledRule } from './types.js';

const SNAPSHOT_VERSION = 1;

/** A group as saved: `group` (its groupBy values) and `quietUntil` (null: never fired) are written as they always were. */
interface SavedGroup {
  group: Record<string, unknown>;
  entries: Entry[];
  maxT: number;
  quietUntil: number | null;
  seen?: Seen;
  fired?: Fired;
  folded?: Folded[];
}

export interface CorrelationSnapshot {
  version: number;
  rules: Record<string, [string, SavedGroup][]>;
  /** first_seen rules: the event time of each one's first base event, when its learning period began. */
  learning?: Record<string, number>;
  /** first_seen rules grouped by clusterId: per rule, per cluster (its JSON), when that cluster's learning began. */
  clusterLearning?: Record<string, Record<string, number>>;
  /** Each saved rule's `fingerprint` (what its state means); absent in older snapshots (taken as unchanged). */
  fingerprints?: Record<string, string>;
}

const fingerprints = new WeakMap<object, string>();
/**
 * What a correlation's state means, as a digest: its type, groupBy, field(s), steps (their rules, when: and gte) and,
 * when it reads a time-of-day field, its time zone. Not its thresholds, window or realert: its groups stay
 * meaningful when those change. A restored rule whose fingerprint changed starts afresh (`restore`).
 */
export function fingerprint(rule: CompiledRule): string {
  const spec = rule.correlation;
  if (spec === undefined) throw new Error(`rule ${rule.info.id} is not a correlation`);
  let f = fingerprints.get(spec);
  if (f === undefined) {
    const fields = spec.type === 'first_seen' ? spec.fields : spec.type === 'sequence' ? [] : spec.field !== undefined ? [spec.field] : [];
    const steps = spec.type === 'sequence' ? spec.steps.map((st) => [st.rules.map((r) => r.id), st.when ?? null, st.gte]) : null;
    const zoned = [...spec.groupBy, ...fields].some(isLocalTimeField) || (spec.type === 'sequence' && spec.steps.some((st) => st.when !== undefined));
    const text = JSON.stringify([spec.type, spec.groupBy, fields, steps, zoned ? rule.timeZone : null], (k, v) => (k === 'pos' || k === 'keyPos' || typeof v === 'function' ? undefined : v));
    f = createHash('sha256').update(text).digest('hex').slice(0, 16);
    fingerprints.set(spec, f);
  }
  return f;
}

/** The whole committed state of `st` (without staged changes) as JSON-able data (a copy). */
export function snapshotOf(st: CorrelationState): CorrelationSnapshot {
  const rules: CorrelationSnapshot['rules'] = {};
  for (const [id, m] of committed(st)) {
    const names = st.groupBy.get(id) ?? [];
    rules[id] = [...m].map(([k, g]) => {
      const saved: SavedGroup = { group: groupOf(names, k), entries: entriesOf(g), maxT: g.maxT, quietUntil: g.quietUntil ?? null };
      if (g.seen !== undefined) saved.seen = g.seen;
      if (g.fired !== undefined) saved.fired = g.fired;
      if (g.folded !== undefined) saved.folded = g.folded;
      return [k, saved];
    });
  }
  const all = committedLearning(st);
  const learning = new Map([...all].filter(([k]) => !k.includes(LEARNING_SEP)));
  const clusterLearning: Record<string, Record<string, number>> = {};
  for (const [k, t] of all) {
    if (!k.includes(LEARNING_SEP)) continue;
    const [id, cluster] = k.split(LEARNING_SEP) as [string, string];
    (clusterLearning[id] ??= {})[cluster] = t;
  }
  // `learning` only when a first_seen rule has begun: a state without one is written as before.
  const out: CorrelationSnapshot = learning.size > 0 ? { version: SNAPSHOT_VERSION, rules, learning: Object.fromEntries(learning) } : { version: SNAPSHOT_VERSION, rules };
  if (Object.keys(clusterLearning).length > 0) out.clusterLearning = clusterLearning;
  const prints = [...new Set([...Object.keys(rules), ...learning.keys(), ...Object.keys(clusterLearning)])].flatMap((id) => {
    const f = st.fingerprints.get(id);
    return f !== undefined ? [[id, f] as const] : [];
  });
  if (prints.length > 0) out.fingerprints = Object.fromEntries(prints);
  return JSON.parse(JSON.stringify(out, (_k, v) => (v === -Infinity ? null : v))) as CorrelationSnapshot;
}

/**
 * Replaces the state of `st` with a snapshot's; the groups of rules not in `rules` are dropped (a removed rule). Given
 * the rules themselves (not only their ids), a rule whose fingerprint differs from the saved one (its type, groupBy,
 * field or steps changed) starts afresh: its groups and learning period are dropped. Returns those rules' ids.
 */
export function restore(st: CorrelationState, s: CorrelationSnapshot, rules: ReadonlySet<string> | readonly CompiledRule[], maxGroups: number): string[] {
  const ruleIds: ReadonlySet<string> = rules instanceof Set ? rules : new Set((rules as readonly CompiledRule[]).map((r) => r.info.id));
  const current = new Map<string, string>();
  if (!(rules instanceof Set)) for (const r of rules as readonly CompiledRule[]) if (r.correlation !== undefined) current.set(r.info.id, fingerprint(r));
  if (s !== null && typeof s === 'object' && s.fingerprints !== undefined && (s.fingerprints === null || typeof s.fingerprints !== 'object' || Object.values(s.fingerprints).some((f) => typeof f !== 'string'))) {
    throw new Error('correlation state: fingerprints is not a map of rule ids to fingerprints');
  }
  const saved = s?.fingerprints ?? {};
  const changed = [...ruleIds].filter((id) => saved[id] !== undefined && current.has(id) && saved[id] !== current.get(id) && (s.rules?.[id] !== undefined || s.learning?.[id] !== undefined || s.clusterLearning?.[id] !== undefined));
  const keep = new Set([...ruleIds].filter((id) => !changed.includes(id)));
  read(st, s, keep, maxGroups);
  st.fingerprints.clear();
  for (const [id, f] of Object.entries(saved)) if (keep.has(id)) st.fingerprints.set(id, f);
  for (const [id, f] of current) st.fingerprints.set(id, f);
  return changed;
}

/** The snapshot `s` (checked as read) into `st`: the groups and learning periods of the rules `ruleIds`. */
function read(st: CorrelationState, s: CorrelationSnapshot, ruleIds: ReadonlySet<string>, maxGroups: number): void {
  if (s === null || typeof s !== 'object' || s.version !== SNAPSHOT_VERSION || typeof s.rules !== 'object' || s.rules === null) {
    throw new Error(`not a correlation state snapshot of version ${SNAPSHOT_VERSION}`);
  }
  if (s.learning !== undefined && (s.learning === null || typeof s.learning !== 'object' || Object.values(s.learning).some((t) => typeof t !== 'number'))) {
    throw new Error('correlation state: learning is not a map of rule ids to event times');
  }
  st.rules.clear();
  const cl = s.clusterLearning;
  if (cl !== undefined && (cl === null || typeof cl !== 'object' || Object.values(cl).some((m) => m === null || typeof m !== 'object' || Object.values(m).some((t) => typeof t !== 'number')))) {
    throw new Error('correlation state: clusterLearning is not a map of rule ids to clusters to event times');
  }
  st.learning = new Map(Object.entries(s.learning ?? {}).filter(([id]) => ruleIds.has(id)));
  for (const [id, m] of Object.entries(cl ?? {})) if (ruleIds.has(id)) for (const [c, t] of Object.entries(m)) st.learning.set(`${id}${LEARNING_SEP}${c}`, t);
  st.pending = undefined;
  for (const [id, groups] of Object.entries(s.rules)) {
    if (!ruleIds.has(id)) continue;
    if (!Array.isArray(groups)) throw new Error(`correlation state: rule ${id}: groups are not a list`);
    const m = new Map<string, GroupState>();
    for (const [k, g] of groups.slice(-maxGroups)) {
      if (typeof k !== 'string' || !Array.isArray(g?.entries) || typeof g.maxT !== 'number' || (g.seen !== undefined && !isSeen(g.seen)) || (g.fired !== undefined && !isFired(g.fired)) || (g.folded !== undefined && !isFoldedList(g.folded)) || !g.entries.every(isEntry)) {
        throw new Error(`correlation state: rule ${id}: a malformed group`);
      }
      if (g.group === null || typeof g.group !== 'object' || Array.isArray(g.group)) throw new Error(`correlation state: rule ${id}: a malformed group`);
      const restored: GroupState = { entries: g.entries.length === 0 ? NO_ENTRIES : g.entries.length === 1 ? (g.entries[0] as Entry) : g.entries, maxT: g.maxT, quietUntil: typeof g.quietUntil === 'number' ? g.quietUntil : undefined, seq: ++st.tick };
      if (g.seen !== undefined) restored.seen = g.seen;
      if (g.fired !== undefined) restored.fired = g.fired;
      if (g.folded !== undefined && g.folded.length > 0) restored.folded = g.folded;
      m.set(k, restored);
      // The groupBy names as saved, until the rule's first event says them (the same, unless the rule changed).
      if (!st.groupBy.has(id)) st.groupBy.set(id, Object.keys(g.group));
    }
    st.rules.set(id, m);
  }
}

function isFoldedList(x: unknown): x is Folded[] {
  return Array.isArray(x) && x.every((c) => Array.isArray(c) && c.length === 5 && [0, 1, 2, 3].every((i) => typeof c[i] === 'number') && c[4] !== null && typeof c[4] === 'object');
}

/** An entry as saved: a time, and the event's identity (a key, or the shown event it is in). */
function isEntry(x: unknown): boolean {
  if (x === null || typeof x !== 'object') return false;
  const e = x as Record<string, unknown>;
  return typeof e.t === 'number' && (typeof e.key === 'string' || (e.ev !== null && typeof e.ev === 'object'));
}

function isFired(x: unknown): x is Fired {
  if (x === null || typeof x !== 'object' || Array.isArray(x)) return false;
  const f = x as Record<string, unknown>;
  const isObject = (v: unknown) => v !== null && typeof v === 'object' && !Array.isArray(v);
  return (
    typeof f.trigger === 'string' && typeof f.firstKey === 'string' && ['value', 'events', 'firstTimeMs', 'lastTimeMs'].every((k) => typeof f[k] === 'number') &&
    isObject(f.first) && isObject(f.last) && (f.steps === undefined || (Array.isArray(f.steps) && f.steps.every((n) => typeof n === 'number'))) && (f.values === undefined || isObject(f.values))
  );
}

function isSeen(x: unknown): x is Seen {
  return x !== null && typeof x === 'object' && !Array.isArray(x) && Object.values(x).every((v) => Array.isArray(v) && typeof v[0] === 'number' && typeof v[1] === 'string');
}
