/**
 * The state machine of correlation rules (src/rules/correlation.ts parses them): fed base events IN RECORD ORDER
 * (the record driver's in-order step, src/pipeline/Correlator.ts; the rule tests), it keeps per rule and group a
 * sliding window on EVENT time (`logTimeMs`, never the wall clock) and says when a rule fires. Deterministic: the
 * same events in the same order give the same firings, whatever the source.
 *
 * Per group: the contributing events of the last `window` (entries sorted by event time; at most MAX_ENTRIES, the
 * oldest dropped beyond), the newest event time seen (maxT), the end of the quiet period after a firing, and its
 * last firing. Kept small (a million groups is a few hundred MiB): an entry holds its time, value, whether it was
 * used, and what an alert shows of the event (shownEvent.ts: identity and who/where, the statement cut to 512
 * characters), not the event; once used, only the event's identity (`key`).
 * - Lateness: an event at or before maxT - window (older than the group's window) is LATE: dropped and counted
 *   (`late`). Any later event, even out of order, takes its place in the window.
 * - An event seen already (same identity: cluster, instance, session, statement, substatement, logTime, class) is
 *   a duplicate (a record processed again after a restart, a replay with the same state file): ignored, counted.
 *   When it is the event that completed the group's last firing (its trigger), that firing is returned again, the
 *   same (the pipeline builds the same alert, same id): a record processed again gives its correlation alert again
 *   (at least once, like its other alerts) instead of losing it when the first copy was lost. One per group: an
 *   earlier firing's trigger, or one of an evicted group, is only a duplicate (or late).
 * - An event without logTimeMs cannot be placed in time: dropped and counted (`untimed`).
 * - A groupBy or field field that is a local-time one (hour, weekday, date...) is read in the rule's time zone.
 * - A missing or null groupBy field groups under null, shown as null: the "missing" group, never merged with a
 *   real value.
 * - Firing: when the entries not used by an earlier firing reach `gte` (count, distinct values of `field`, or sum of
 *   `field`), or for a `sequence` complete its steps in order (sequenceState.ts: each entry records the steps it is
 *   an event of), and maxT is past the quiet period. The contributing entries become used (they never count again),
 *   and the group is quiet for `realert`.
 * - `first_seen` keeps no window (no event is late; with `forget`, one older than its group's newest by that is):
 *   per group the combinations of `field` values seen
 *   (firstSeenState.ts, bounded, `forget`), and the start of its learning period (its first base event's time):
 *   per rule, or per rule and cluster when groupBy has clusterId (a cluster's learning is its own, whatever other
 *   clusters were replayed before it); a new combination fires after the learning period.
 * - Bounded: at most `maxGroups` groups per rule; a new group evicts the least recently updated one (`evictions`);
 *   at most MAX_ENTRIES entries per group, beyond which counts and sums stay exact (`bound`: folded chunks).
 * The whole state is a JSON snapshot (`snapshot`/`restore`) that the CorrelationStore keeps; version 1 throughout
 * (a snapshot without the first_seen parts, the last firings, folded chunks or fingerprints, or with whole events
 * in its entries, as written before, reads as it did). Each rule's `fingerprint` is saved: a rule changed since
 * starts afresh at `restore`. About 630 lines, well over 400 lines: one state machine whose staging (journal, rollback,
 * snapshot) must see every field a group holds, so the fields and their staging stay in one file.
 *
 * Staged changes: between `begin()` and `commit()` every group an event touches (or evicts) is journaled as it was,
 * with its place in the least-recently-updated order, and a learning period begun is noted; `rollback()` puts the
 * state back exactly as at `begin()`, and
 * `snapshot()` meanwhile shows the committed state only. The pipeline stages each record's events so the state never
 * holds the effects of a record whose alerts were not handed off (src/pipeline/Correlator.ts).
 */
import { createHash } from 'node:crypto';
import { forgetBefore, recordCombination, type Seen } from './firstSeenState.js';
import { isLocalTimeField, localTimeField } from './localTime.js';
import { irrelevant, matchSequence } from './sequenceState.js';
import { isShownEvent, present, shown } from './shownEvent.js';
import type { CompiledRule, CorrelationFiring, CorrelationType, FirstSeenCorrelation } from './types.js';

/**
 * Contributing events kept one by one per group. Beyond, event_count and value_sum fold the oldest unused ones into
 * `folded` chunks (counted and summed exactly while in the window); value_count drops an unused entry whose value a
 * newer one has (the distinct count stays exact up to MAX_ENTRIES values, its highest `gte`); a sequence drops the
 * oldest (its steps' gte add up to at most MAX_ENTRIES).
 */
export const MAX_ENTRIES = 1000;
/** Events folded into one chunk, and the chunks kept per group (beyond, the two oldest merge). */
export const FOLD_CHUNK = 100;
export const MAX_FOLDED = 100;
/** Groups kept per rule by default. */
export const DEFAULT_MAX_GROUPS = 100_000;
const SNAPSHOT_VERSION = 1;
/** Between a rule id and a cluster's JSON in the key of a learning period kept per cluster (no rule id holds it). */
const LEARNING_SEP = '\u0000';
/** A rule's groups as they were at `begin()`: the touched ones (undefined: absent) with their order stamps. */
interface RuleJournal {
  created: boolean;
  groups: Map<string, { g: GroupState | undefined; seq: number }>;
}

interface Entry {
  t: number;
  /** The event's identity (eventKey): set once used (or as saved by an earlier version); until then `ev` holds it. */
  key?: string;
  /** value_count: the value as JSON; value_sum: the number; event_count: null. */
  v: string | number | null;
  used: boolean;
  /** What is shown of the event (`shown`), until used (a used entry is never shown: its firing keeps it). */
  ev?: Record<string, unknown> | undefined;
  /** sequence: the steps (0-based) this event is one of. */
  s?: number[];
}

/**
 * Unused events of an event_count or value_sum folded together (beyond MAX_ENTRIES): [the oldest one's time, the
 * newest one's time, how many, the sum of their values, the oldest one's shown event (the first contributing event
 * of a firing that counts them: the alert id's)]. The chunk leaves the window whole when its oldest event does.
 */
type Folded = [number, number, number, number, Record<string, unknown>];

/** A group's last firing, given again (same alert) when the event that completed it, `trigger`, is seen again. */
type Fired = Omit<CorrelationFiring, 'rule' | 'spec' | 'group'> & { trigger: string };

/**
 * A group as held (kept small: a million of them is a million of these). Its groupBy values are its key's (the map's
 * key is their JSON); its place in the least-recently-updated order is `seq` (a map's order is ascending stamps: what
 * lets `rollback` restore the order).
 */
interface GroupState {
  /** The entries in event-time order (`entriesOf`); one is held alone, without an array (most groups hold one). */
  entries: Entry | Entry[];
  maxT: number;
  /** The end of the quiet period after the last firing; undefined: never fired (a number would be boxed per group). */
  quietUntil: number | undefined;
  seq: number;
  /** first_seen: the combinations known (firstSeenState.ts); its `entries` stay empty. */
  seen?: Seen;
  /** The last firing (one per group), replaced by the next; never changed in place (a journal's copy shares it). */
  fired?: Fired;
  /** event_count, value_sum: the unused events folded beyond MAX_ENTRIES, oldest first; tuples never changed in place. */
  folded?: Folded[];
}

export interface CorrelationCounters {
  /** Groups evicted because a rule reached maxGroups. */
  evictions: number;
  /** Events older than their group's window, dropped. */
  late: number;
  duplicates: number;
  untimed: number;
}

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

/** The identity of an event (the fields an alert id is made of, without the rule). */
export function eventKey(e: Record<string, unknown>): string {
  const k = JSON.stringify([e.clusterId ?? null, e.instanceId ?? null, e.sessionId ?? null, e.statementId ?? null, e.substatementId ?? null, e.logTime ?? null, e.class ?? null]);
  // 24 hex digits made as such (a slice of the 64 would keep all 64 alive: it is kept per event).
  return createHash('sha256').update(k).digest().toString('hex', 0, 12);
}

export class CorrelationEngine {
  readonly counters: CorrelationCounters = { evictions: 0, late: 0, duplicates: 0, untimed: 0 };
  readonly #maxGroups: number;
  #rules = new Map<string, Map<string, GroupState>>();
  /** Each rule's groupBy field names: a group's values are its key's, named by these (`groupOf`). */
  readonly #groupBy = new Map<string, readonly string[]>();
  #tick = 0;
  /** first_seen rules: when each one's learning period began (its first base event's time). */
  #learning = new Map<string, number>();
  /** Each rule's fingerprint, as its events or `restore` said it (saved with its groups). */
  readonly #fingerprints = new Map<string, string>();
  #pending: { counters: CorrelationCounters; rules: Map<string, RuleJournal>; learning: Map<string, number | undefined> } | undefined;

  constructor(options: { maxGroups?: number } = {}) {
    this.#maxGroups = options.maxGroups ?? DEFAULT_MAX_GROUPS;
    if (!(Number.isInteger(this.#maxGroups) && this.#maxGroups > 0)) throw new RangeError(`maxGroups must be a positive integer, got ${this.#maxGroups}`);
  }

  /**
   * One base event of correlation rule `rule` (its basePredicate matched). `stored` is the event as an alert may
   * show it (the pipeline passes it redacted); what is kept of it is `shown`. Returns the firing, if this event made
   * the rule fire; or, when it is the event that completed the group's last firing seen again (a record processed
   * again), that firing again (the same alert), the state unchanged.
   */
  observe(rule: CompiledRule, event: Record<string, unknown>, stored: Record<string, unknown> = event): CorrelationFiring | undefined {
    const spec = rule.correlation;
    if (spec === undefined) throw new Error(`rule ${rule.info.id} is not a correlation`);
    const t = event.logTimeMs;
    if (typeof t !== 'number' || !Number.isFinite(t)) {
      this.counters.untimed++;
      return undefined;
    }
    const gk = JSON.stringify(spec.groupBy.map((f) => fieldOf(rule, event, f) ?? null));
    this.#groupBy.set(rule.info.id, spec.groupBy);
    if (!this.#fingerprints.has(rule.info.id)) this.#fingerprints.set(rule.info.id, fingerprint(rule));
    let groups = this.#rules.get(rule.info.id);
    if (groups === undefined) {
      groups = new Map();
      this.#rules.set(rule.info.id, groups);
      this.#pending?.rules.set(rule.info.id, { created: true, groups: new Map() });
    }
    this.#journal(rule.info.id, groups, gk);
    let g = groups.get(gk);
    if (g === undefined) {
      if (groups.size >= this.#maxGroups) {
        const evicted = groups.keys().next().value as string;
        this.#journal(rule.info.id, groups, evicted);
        groups.delete(evicted);
        this.counters.evictions++;
      }
      g = { entries: NO_ENTRIES, maxT: t, quietUntil: undefined, seq: 0 };
    } else groups.delete(gk); // re-inserted below: the map's order is least recently updated first
    groups.set(gk, g);
    g.seq = ++this.#tick;
    if (spec.type === 'first_seen') return this.#firstSeen(rule, spec, gk, g, t, event, stored);

    const key = eventKey(event);
    if (g.fired?.trigger === key) {
      this.counters.duplicates++;
      return again(rule, gk, g.fired);
    }
    if (t <= g.maxT - spec.windowMs) {
      this.counters.late++;
      return undefined;
    }
    const entries = entriesOf(g);
    if (entries.some((e) => (e.key !== undefined ? e.key === key : isShownEvent(e.ev as Record<string, unknown>, event)))) {
      this.counters.duplicates++;
      return undefined;
    }
    let v: string | number | null = null;
    if (spec.type === 'value_count') v = JSON.stringify(fieldOf(rule, event, spec.field as string) ?? null);
    else if (spec.type === 'value_sum') {
      const n = fieldOf(rule, event, spec.field as string);
      v = typeof n === 'number' && Number.isFinite(n) ? n : 0;
    }
    const entry: Entry = { t, v, used: false, ev: shown(spec, event, stored) };
    if (spec.type === 'sequence') entry.s = spec.steps.flatMap((st, i) => (st.predicate?.(event) === true ? [i] : []));
    let i = entries.length;
    while (i > 0 && (entries[i - 1] as Entry).t > t) i--;
    entries.splice(i, 0, entry);
    if (t > g.maxT) g.maxT = t;
    const from = g.maxT - spec.windowMs;
    let drop = 0;
    while (drop < entries.length && (entries[drop] as Entry).t <= from) drop++;
    if (drop > 0) entries.splice(0, drop);
    if (g.folded !== undefined) {
      const kept = g.folded.filter((c) => c[0] > from);
      if (kept.length > 0) g.folded = kept;
      else delete g.folded;
    }
    if (spec.type === 'sequence') {
      const gone = irrelevant(entries, spec.steps.map((st) => st.gte));
      for (let k = gone.length - 1; k >= 0; k--) entries.splice(gone[k] as number, 1);
    }
    if (entries.length > MAX_ENTRIES) bound(spec.type, g, entries);
    g.entries = entries.length === 1 ? (entries[0] as Entry) : entries;

    if (g.quietUntil !== undefined && g.maxT < g.quietUntil) return undefined;
    let live: Entry[];
    let value: number;
    let steps: number[] | undefined;
    if (spec.type === 'sequence') {
      const m = matchSequence(entries, spec.steps.map((st) => st.gte));
      if (m === undefined) return undefined;
      live = m.contributing.map((k) => entries[k] as Entry);
      value = spec.steps.length;
      steps = m.counts;
    } else {
      live = entries.filter((e) => !e.used);
      const folded = g.folded ?? [];
      if (spec.type === 'event_count') value = live.length + folded.reduce((n, c) => n + c[2], 0);
      else if (spec.type === 'value_count') value = new Set(live.map((e) => e.v)).size;
      else value = live.reduce((s, e) => s + (e.v as number), 0) + folded.reduce((n, c) => n + c[3], 0);
      if (value < spec.gte || live.length === 0) return undefined;
    }
    g.quietUntil = g.maxT + spec.realertMs;
    const last = live[live.length - 1] as Entry;
    // The first contributing event: the oldest unused entry, or the oldest folded one when older (a late event can be).
    const oldest = g.folded?.[0];
    const entry0 = live[0] as Entry;
    const first = oldest !== undefined && oldest[0] <= entry0.t ? { t: oldest[0], ev: oldest[4] } : { t: entry0.t, ev: entry0.ev, key: entry0.key };
    const events = live.length + (g.folded ?? []).reduce((n, c) => n + c[2], 0);
    const fired: Fired = { trigger: key, value, events, firstTimeMs: first.t, lastTimeMs: last.t, firstKey: first.key ?? eventKey(first.ev ?? {}), first: present(first.ev), last: present(last.ev) };
    if (steps !== undefined) fired.steps = steps;
    g.fired = fired;
    delete g.folded; // folded events are unused ones: they contributed
    // Used entries never count again, nor are shown (the firing keeps its first and last events): their identity only.
    for (const e of live) {
      e.used = true;
      e.key ??= eventKey(e.ev ?? {});
      e.ev = undefined;
    }
    return again(rule, gk, fired);
  }

  /**
   * first_seen: the group's knowledge (firstSeenState.ts) records the event's combination; a new one fires once the
   * rule's learning period (from its first base event, in event time) is over and the group is not quiet. No window:
   * no event is late (with forget:, one older than the group's newest by that is), an old event's combination is
   * compared with what is known.
   */
  #firstSeen(rule: CompiledRule, spec: FirstSeenCorrelation, gk: string, g: GroupState, t: number, event: Record<string, unknown>, stored: Record<string, unknown>): CorrelationFiring | undefined {
    // The learning period's key: the rule's id, with the cluster when the rule groups by cluster (`LEARNING_SEP`).
    const id = spec.groupBy.includes('clusterId') ? `${rule.info.id}${LEARNING_SEP}${JSON.stringify(event.clusterId ?? null)}` : rule.info.id;
    let start = this.#learning.get(id);
    if (start === undefined) {
      if (this.#pending !== undefined && !this.#pending.learning.has(id)) this.#pending.learning.set(id, undefined);
      start = t;
      this.#learning.set(id, t);
    }
    const seen = (g.seen ??= {});
    const values: Record<string, unknown> = {};
    for (const f of spec.fields) values[f] = fieldOf(rule, event, f) ?? null;
    const combo = JSON.stringify(spec.fields.map((f) => values[f]));
    const key = eventKey(event);
    if (g.fired?.trigger === key) {
      this.counters.duplicates++;
      return again(rule, gk, g.fired);
    }
    // With forget:, what the group knows covers the last `forget` before its newest event: an event older than that
    // cannot be judged (its combination may have been known then, and forgotten since): late, like a window's.
    if (spec.forgetMs !== undefined && t <= g.maxT - spec.forgetMs) {
      this.counters.late++;
      return undefined;
    }
    if (t > g.maxT) g.maxT = t;
    if (spec.forgetMs !== undefined) forgetBefore(seen, g.maxT - spec.forgetMs);
    const outcome = recordCombination(seen, combo, t, key, (n) => (this.counters.evictions += n));
    if (outcome === 'duplicate') this.counters.duplicates++;
    if (outcome !== 'new' || t < start + spec.learningMs || (g.quietUntil !== undefined && g.maxT < g.quietUntil)) return undefined;
    g.quietUntil = g.maxT + spec.realertMs;
    const ev = present(shown(spec, event, stored));
    g.fired = { trigger: key, value: 1, values, events: 1, firstTimeMs: t, lastTimeMs: t, firstKey: key, first: ev, last: ev };
    return again(rule, gk, g.fired);
  }

  /** Stages the changes of the events observed from now on (a record's); throws when a change is staged already. */
  begin(): void {
    if (this.#pending !== undefined) throw new Error('correlation state: a change is staged already (commit or roll it back first)');
    this.#pending = { counters: { ...this.counters }, rules: new Map(), learning: new Map() };
  }

  /** Keeps the staged changes. */
  commit(): void {
    this.#pending = undefined;
  }

  /** Undoes the staged changes (none: nothing): the state and counters are again exactly as at `begin()`. */
  rollback(): void {
    if (this.#pending === undefined) return;
    this.#rules = this.#committed();
    this.#learning = this.#committedLearning();
    Object.assign(this.counters, this.#pending.counters);
    this.#pending = undefined;
  }

  /** Records how group `gk` of `ruleId` was before its first change since `begin()`. */
  #journal(ruleId: string, groups: Map<string, GroupState>, gk: string): void {
    if (this.#pending === undefined) return;
    let j = this.#pending.rules.get(ruleId);
    if (j === undefined) {
      j = { created: false, groups: new Map() };
      this.#pending.rules.set(ruleId, j);
    }
    if (j.groups.has(gk)) return;
    const g = groups.get(gk);
    if (g === undefined) j.groups.set(gk, { g: undefined, seq: 0 });
    else j.groups.set(gk, { g: copyGroup(g), seq: g.seq });
  }

  /** The learning starts without the staged changes. */
  #committedLearning(): Map<string, number> {
    if (this.#pending === undefined || this.#pending.learning.size === 0) return this.#learning;
    const out = new Map(this.#learning);
    for (const [id, was] of this.#pending.learning) if (was === undefined) out.delete(id);
    return out;
  }

  /** The state without the staged changes (the untouched rules' maps shared, the touched ones rebuilt in order). */
  #committed(): Map<string, Map<string, GroupState>> {
    if (this.#pending === undefined) return this.#rules;
    const out = new Map<string, Map<string, GroupState>>();
    for (const [id, groups] of this.#rules) {
      const j = this.#pending.rules.get(id);
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

  /** Groups held now, per rule id. */
  groupCounts(): Record<string, number> {
    return Object.fromEntries([...this.#rules].map(([id, m]) => [id, m.size]));
  }

  /** The whole committed state (without staged changes) as JSON-able data (a copy). */
  snapshot(): CorrelationSnapshot {
    const rules: CorrelationSnapshot['rules'] = {};
    for (const [id, m] of this.#committed()) {
      const names = this.#groupBy.get(id) ?? [];
      rules[id] = [...m].map(([k, g]) => {
        const saved: SavedGroup = { group: groupOf(names, k), entries: entriesOf(g), maxT: g.maxT, quietUntil: g.quietUntil ?? null };
        if (g.seen !== undefined) saved.seen = g.seen;
        if (g.fired !== undefined) saved.fired = g.fired;
        if (g.folded !== undefined) saved.folded = g.folded;
        return [k, saved];
      });
    }
    const all = this.#committedLearning();
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
      const f = this.#fingerprints.get(id);
      return f !== undefined ? [[id, f] as const] : [];
    });
    if (prints.length > 0) out.fingerprints = Object.fromEntries(prints);
    return JSON.parse(JSON.stringify(out, (_k, v) => (v === -Infinity ? null : v))) as CorrelationSnapshot;
  }

  /**
   * Replaces the state with a snapshot's; the groups of rules not in `rules` are dropped (a removed rule). Given the
   * rules themselves (not only their ids), a rule whose fingerprint differs from the saved one (its type, groupBy,
   * field or steps changed) starts afresh: its groups and learning period are dropped. Returns those rules' ids.
   */
  restore(s: CorrelationSnapshot, rules: ReadonlySet<string> | readonly CompiledRule[]): string[] {
    const ruleIds: ReadonlySet<string> = rules instanceof Set ? rules : new Set((rules as readonly CompiledRule[]).map((r) => r.info.id));
    const current = new Map<string, string>();
    if (!(rules instanceof Set)) for (const r of rules as readonly CompiledRule[]) if (r.correlation !== undefined) current.set(r.info.id, fingerprint(r));
    if (s !== null && typeof s === 'object' && s.fingerprints !== undefined && (s.fingerprints === null || typeof s.fingerprints !== 'object' || Object.values(s.fingerprints).some((f) => typeof f !== 'string'))) {
      throw new Error('correlation state: fingerprints is not a map of rule ids to fingerprints');
    }
    const saved = s?.fingerprints ?? {};
    const changed = [...ruleIds].filter((id) => saved[id] !== undefined && current.has(id) && saved[id] !== current.get(id) && (s.rules?.[id] !== undefined || s.learning?.[id] !== undefined || s.clusterLearning?.[id] !== undefined));
    const keep = new Set([...ruleIds].filter((id) => !changed.includes(id)));
    this.#restore(s, keep);
    this.#fingerprints.clear();
    for (const [id, f] of Object.entries(saved)) if (keep.has(id)) this.#fingerprints.set(id, f);
    for (const [id, f] of current) this.#fingerprints.set(id, f);
    return changed;
  }

  #restore(s: CorrelationSnapshot, ruleIds: ReadonlySet<string>): void {
    if (s === null || typeof s !== 'object' || s.version !== SNAPSHOT_VERSION || typeof s.rules !== 'object' || s.rules === null) {
      throw new Error(`not a correlation state snapshot of version ${SNAPSHOT_VERSION}`);
    }
    if (s.learning !== undefined && (s.learning === null || typeof s.learning !== 'object' || Object.values(s.learning).some((t) => typeof t !== 'number'))) {
      throw new Error('correlation state: learning is not a map of rule ids to event times');
    }
    this.#rules.clear();
    const cl = s.clusterLearning;
    if (cl !== undefined && (cl === null || typeof cl !== 'object' || Object.values(cl).some((m) => m === null || typeof m !== 'object' || Object.values(m).some((t) => typeof t !== 'number')))) {
      throw new Error('correlation state: clusterLearning is not a map of rule ids to clusters to event times');
    }
    this.#learning = new Map(Object.entries(s.learning ?? {}).filter(([id]) => ruleIds.has(id)));
    for (const [id, m] of Object.entries(cl ?? {})) if (ruleIds.has(id)) for (const [c, t] of Object.entries(m)) this.#learning.set(`${id}${LEARNING_SEP}${c}`, t);
    this.#pending = undefined;
    for (const [id, groups] of Object.entries(s.rules)) {
      if (!ruleIds.has(id)) continue;
      if (!Array.isArray(groups)) throw new Error(`correlation state: rule ${id}: groups are not a list`);
      const m = new Map<string, GroupState>();
      for (const [k, g] of groups.slice(-this.#maxGroups)) {
        if (typeof k !== 'string' || !Array.isArray(g?.entries) || typeof g.maxT !== 'number' || (g.seen !== undefined && !isSeen(g.seen)) || (g.fired !== undefined && !isFired(g.fired)) || (g.folded !== undefined && !isFoldedList(g.folded)) || !g.entries.every(isEntry)) {
          throw new Error(`correlation state: rule ${id}: a malformed group`);
        }
        if (g.group === null || typeof g.group !== 'object' || Array.isArray(g.group)) throw new Error(`correlation state: rule ${id}: a malformed group`);
        const restored: GroupState = { entries: g.entries.length === 0 ? NO_ENTRIES : g.entries.length === 1 ? (g.entries[0] as Entry) : g.entries, maxT: g.maxT, quietUntil: typeof g.quietUntil === 'number' ? g.quietUntil : undefined, seq: ++this.#tick };
        if (g.seen !== undefined) restored.seen = g.seen;
        if (g.fired !== undefined) restored.fired = g.fired;
        if (g.folded !== undefined && g.folded.length > 0) restored.folded = g.folded;
        m.set(k, restored);
        // The groupBy names as saved, until the rule's first event says them (the same, unless the rule changed).
        if (!this.#groupBy.has(id)) this.#groupBy.set(id, Object.keys(g.group));
      }
      this.#rules.set(id, m);
    }
  }
}

/** A field of an event as the rule reads it: a local-time one (hour, weekday...) in the rule's time zone, as its conditions do. */
function fieldOf(rule: CompiledRule, event: Record<string, unknown>, f: string): unknown {
  return isLocalTimeField(f) ? localTimeField(event, f, rule.timeZone) : event[f];
}

/** A group without entries (first_seen's, or one just created): never changed (`entriesOf` copies it). */
const NO_ENTRIES: Entry[] = [];

/** A group's entries as an array (a fresh one, holding a lone entry or none; otherwise its own, changed in place). */
function entriesOf(g: GroupState): Entry[] {
  return Array.isArray(g.entries) ? (g.entries === NO_ENTRIES ? [] : g.entries) : [g.entries];
}

/** A group's copy that shares nothing changeable with it (entries and known combinations are changed in place). */
function copyGroup(g: GroupState): GroupState {
  const c: GroupState = { ...g, entries: Array.isArray(g.entries) ? g.entries.map((e) => ({ ...e })) : { ...g.entries } };
  if (g.seen !== undefined) c.seen = { ...g.seen };
  if (g.folded !== undefined) c.folded = [...g.folded];
  return c;
}

/**
 * Keeps a group's entries (more than MAX_ENTRIES, in the window) within MAX_ENTRIES without changing what it counts:
 * used entries (only a duplicate's check needs them) go first, oldest first; then event_count and value_sum fold
 * their oldest unused entries into a chunk of `folded` (merging the two oldest chunks beyond MAX_FOLDED);
 * value_count drops the oldest unused entries whose value a newer unused one has (the distinct count is the same),
 * else the oldest; a sequence drops its oldest.
 */
function bound(type: CorrelationType, g: GroupState, entries: Entry[]): void {
  const over = () => entries.length - MAX_ENTRIES;
  for (let i = 0; i < entries.length && over() > 0; ) {
    if ((entries[i] as Entry).used) entries.splice(i, 1);
    else i++;
  }
  if (over() <= 0) return;
  if (type === 'event_count' || type === 'value_sum') {
    // A chunk at a time (FOLD_CHUNK, at least what is over), so folding is rare; the newest entry is never folded.
    const n = Math.min(Math.max(over(), FOLD_CHUNK), entries.length - 1);
    const out = entries.splice(0, n);
    const chunk: Folded = [(out[0] as Entry).t, (out[n - 1] as Entry).t, n, out.reduce((s, e) => s + (typeof e.v === 'number' ? e.v : 0), 0), (out[0] as Entry).ev ?? {}];
    const folded = [...(g.folded ?? []), chunk].sort((a, b) => a[0] - b[0]);
    if (folded.length > MAX_FOLDED) {
      const [a, b] = folded.splice(0, 2) as [Folded, Folded];
      folded.unshift([a[0], Math.max(a[1], b[1]), a[2] + b[2], a[3] + b[3], a[4]]);
    }
    g.folded = folded;
    return;
  }
  if (type === 'value_count') {
    const newer = new Set<unknown>();
    const redundant = new Set<number>();
    for (let i = entries.length - 1; i >= 0; i--) {
      const e = entries[i] as Entry;
      if (newer.has(e.v)) redundant.add(i);
      else newer.add(e.v);
    }
    let left = over();
    const kept = entries.filter((_e, i) => !(left > 0 && redundant.has(i) && left-- > 0));
    entries.splice(0, entries.length, ...kept);
  }
  if (over() > 0) entries.splice(0, over());
}

function isFoldedList(x: unknown): x is Folded[] {
  return Array.isArray(x) && x.every((c) => Array.isArray(c) && c.length === 5 && [0, 1, 2, 3].every((i) => typeof c[i] === 'number') && c[4] !== null && typeof c[4] === 'object');
}

/** A group's groupBy values: those of its key `gk` (their JSON), named `names`. */
function groupOf(names: readonly string[], gk: string): Record<string, unknown> {
  const values = JSON.parse(gk) as unknown[];
  const group: Record<string, unknown> = {};
  names.forEach((f, i) => (group[f] = values[i] ?? null));
  return group;
}

/** The firing `fired` of group `gk` as the pipeline takes it (a new one, or the same one again). */
function again(rule: CompiledRule, gk: string, fired: Fired): CorrelationFiring {
  const spec = rule.correlation as CorrelationFiring['spec'];
  const f: CorrelationFiring = {
    rule: rule.info,
    spec,
    group: groupOf(spec.groupBy, gk),
    value: fired.value,
    events: fired.events,
    firstTimeMs: fired.firstTimeMs,
    lastTimeMs: fired.lastTimeMs,
    firstKey: fired.firstKey,
    first: fired.first,
    last: fired.last,
  };
  if (fired.steps !== undefined) f.steps = [...fired.steps];
  if (fired.values !== undefined) f.values = { ...fired.values };
  return f;
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
