/**
 * The state machine of correlation rules (src/rules/correlation.ts parses them): fed base events IN RECORD ORDER
 * (the record driver's in-order step, src/pipeline/Correlator.ts; the rule tests), it keeps per rule and group a
 * sliding window on EVENT time (`logTimeMs`, never the wall clock) and says when a rule fires. Deterministic: the
 * same events in the same order give the same firings, whatever the source.
 *
 * This file is the coordinator: it finds an event's group and hands the event to its type's step. The parts:
 * - correlationState.ts: what is held (a group, its entries, folded chunks and last firing; the engine's maps).
 * - windowState.ts: event_count, value_count, value_sum and sequence (sequenceState.ts): the window, lateness,
 *   duplicates, the last firing given again, folding past MAX_ENTRIES, the firing.
 * - firstSeenEvent.ts: first_seen (firstSeenState.ts): the learning periods, the combinations known, the firing.
 * - correlationJournal.ts: the staged changes of `begin`/`commit`/`rollback`.
 * - correlationSnapshot.ts: `snapshot`/`restore`, the saved format (old ones read as they were), fingerprints.
 *
 * Per group: the contributing events of the last `window` (entries sorted by event time; at most MAX_ENTRIES, the
 * oldest dropped beyond), the newest event time seen (maxT), the end of the quiet period after a firing, and its
 * last firing.
 * - An event without logTimeMs cannot be placed in time: dropped and counted (`untimed`).
 * - A groupBy or field field that is a local-time one (hour, weekday, date...) is read in the rule's time zone.
 * - A missing or null groupBy field groups under null, shown as null: the "missing" group, never merged with a
 *   real value.
 * - `first_seen` keeps no window (no event is late; with `forget`, one older than its group's newest by that is):
 *   per group the combinations of `field` values seen
 *   (firstSeenState.ts, bounded, `forget`), and the start of its learning period (its first base event's time):
 *   per rule, or per rule and cluster when groupBy has clusterId (a cluster's learning is its own, whatever other
 *   clusters were replayed before it); a new combination fires after the learning period.
 * - Bounded: at most `maxGroups` groups per rule; a new group evicts the least recently updated one (`evictions`);
 *   at most MAX_ENTRIES entries per group, beyond which counts and sums stay exact (windowState.ts).
 * The whole state is a JSON snapshot (`snapshot`/`restore`, correlationSnapshot.ts) that the CorrelationStore keeps.
 */
import { begin, commit, journal, rollback } from './correlationJournal.js';
import { fingerprint, restore, snapshotOf, type CorrelationSnapshot } from './correlationSnapshot.js';
import { eventKey, groupKey, NO_ENTRIES, type CorrelationCounters, type CorrelationState, type GroupState } from './correlationState.js';
import { observeFirstSeen } from './firstSeenEvent.js';
import type { CompiledRule, CorrelationFiring } from './types.js';
import { itemKeysOf, itemOf, putItem } from './stateItems.js';
import { observeWindow } from './windowState.js';

export { FOLD_CHUNK, MAX_ENTRIES, MAX_FOLDED } from './correlationState.js';
export { eventKey, fingerprint, type CorrelationCounters, type CorrelationSnapshot };
/** Groups kept per rule by default. */
export const DEFAULT_MAX_GROUPS = 100_000;

export class CorrelationEngine {
  readonly counters: CorrelationCounters = { evictions: 0, late: 0, duplicates: 0, untimed: 0 };
  readonly #maxGroups: number;
  /** The groups per rule, their groupBy names, order stamps, learning periods, fingerprints and staged changes. */
  readonly #state: CorrelationState = { rules: new Map(), groupBy: new Map(), tick: 0, learning: new Map(), fingerprints: new Map(), pending: undefined };
  /**
   * Per rule's map of groups, the group `observe` last put at its end (the most recently updated), while nothing else
   * changed the maps since (`rollback`, `restore` and `putItem` forget them): the next event of that group (consecutive
   * events mostly are of one) leaves the map as it is, not deleted and set again.
   */
  #newest = new WeakMap<Map<string, GroupState>, string>();

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
    const st = this.#state;
    const spec = rule.correlation;
    if (spec === undefined) throw new Error(`rule ${rule.info.id} is not a correlation`);
    const t = event.logTimeMs;
    if (typeof t !== 'number' || !Number.isFinite(t)) {
      this.counters.untimed++;
      return undefined;
    }
    const gk = groupKey(rule, event);
    st.groupBy.set(rule.info.id, spec.groupBy);
    if (!st.fingerprints.has(rule.info.id)) st.fingerprints.set(rule.info.id, fingerprint(rule));
    let groups = st.rules.get(rule.info.id);
    if (groups === undefined) {
      groups = new Map();
      st.rules.set(rule.info.id, groups);
      st.pending?.rules.set(rule.info.id, { created: true, groups: new Map() });
    }
    journal(st, rule.info.id, groups, gk);
    let g = groups.get(gk);
    if (g !== undefined && this.#newest.get(groups) === gk) {
      // The rule's newest group already: it stays last in the map's order.
    } else if (g === undefined) {
      if (groups.size >= this.#maxGroups) {
        const evicted = groups.keys().next().value as string;
        journal(st, rule.info.id, groups, evicted);
        groups.delete(evicted);
        this.counters.evictions++;
      }
      g = { entries: NO_ENTRIES, maxT: t, quietUntil: undefined, seq: 0 };
      groups.set(gk, g);
      this.#newest.set(groups, gk);
    } else {
      groups.delete(gk); // re-inserted: the map's order is least recently updated first
      groups.set(gk, g);
      this.#newest.set(groups, gk);
    }
    g.seq = ++st.tick;
    if (spec.type === 'first_seen') return observeFirstSeen(st, rule, spec, gk, g, t, event, stored, this.counters);
    return observeWindow(rule, spec, gk, g, t, event, stored, this.counters);
  }

  /** Stages the changes of the events observed from now on (a record's); throws when a change is staged already. */
  begin(): void {
    begin(this.#state, this.counters);
  }

  /** Keeps the staged changes. */
  commit(): void {
    commit(this.#state);
  }

  /** Undoes the staged changes (none: nothing): the state and counters are again exactly as at `begin()`. */
  rollback(): void {
    this.#newest = new WeakMap();
    rollback(this.#state, this.counters);
  }

  /**
   * The state as items (stateItems.ts), for a state shared between processes: the keys of the items an event of
   * `rule` reads and changes, an item as held now (JSON; undefined: none), and an item replaced by what the shared
   * state holds (never while a change is staged).
   */
  itemKeys(rule: CompiledRule, event: Record<string, unknown>): string[] {
    return itemKeysOf(rule, event);
  }

  item(ruleId: string, key: string): unknown {
    return itemOf(this.#state, ruleId, key);
  }

  putItem(ruleId: string, key: string, value: unknown): void {
    this.#newest = new WeakMap();
    putItem(this.#state, ruleId, key, value);
  }

  /** Groups held now, per rule id. */
  groupCounts(): Record<string, number> {
    return Object.fromEntries([...this.#state.rules].map(([id, m]) => [id, m.size]));
  }

  /** The whole committed state (without staged changes) as JSON-able data (a copy). */
  snapshot(): CorrelationSnapshot {
    return snapshotOf(this.#state);
  }

  /**
   * Replaces the state with a snapshot's; the groups of rules not in `rules` are dropped (a removed rule). Given the
   * rules themselves (not only their ids), a rule whose fingerprint differs from the saved one (its type, groupBy,
   * field or steps changed) starts afresh: its groups and learning period are dropped. Returns those rules' ids.
   */
  restore(s: CorrelationSnapshot, rules: ReadonlySet<string> | readonly CompiledRule[]): string[] {
    this.#newest = new WeakMap();
    return restore(this.#state, s, rules, this.#maxGroups);
  }
}
