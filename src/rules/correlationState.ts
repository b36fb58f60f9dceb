/**
 * What the correlation engine (CorrelationEngine.ts) holds, in one place for the files that read and change it
 * (thresholdState.ts, correlationJournal.ts, correlationSnapshot.ts): a group and its entries, folded chunks and last
 * firing, the engine's maps (`CorrelationState`) and the journal's shape, with the small helpers they share (an
 * event's identity, a group's entries and groupBy values, a firing as the pipeline takes it).
 *
 * Kept small (a million groups is a few hundred MiB): an entry holds its time, value, whether it was used, and what
 * an alert shows of the event (shownEvent.ts: identity and who/where, the statement cut to 512 characters), not the
 * event; once used, only the event's identity (`key`).
 */
import { hash } from 'node:crypto';
import type { Seen } from './firstSeenState.js';
import { isLocalTimeField, localTimeField } from './localTime.js';
import type { CompiledRule, CorrelationFiring } from './types.js';

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
/** Between a rule id and a cluster's JSON in the key of a learning period kept per cluster (no rule id holds it). */
export const LEARNING_SEP = '\u0000';
/** A rule's groups as they were at `begin()`: the touched ones (undefined: absent) with their order stamps. */
export interface RuleJournal {
  created: boolean;
  groups: Map<string, { g: GroupState | undefined; seq: number }>;
}

/** What `begin()` staged (correlationJournal.ts): the counters, the touched rules' groups and the learning periods begun. */
export interface Journal {
  counters: CorrelationCounters;
  rules: Map<string, RuleJournal>;
  learning: Map<string, number | undefined>;
}

/** A contributing event as a group holds it: never changed in place once in a group (replaced: a journal's copy of the list shares it). */
export interface Entry {
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
export type Folded = [number, number, number, number, Record<string, unknown>];

/** A group's last firing, given again (same alert) when the event that completed it, `trigger`, is seen again. */
export type Fired = Omit<CorrelationFiring, 'rule' | 'spec' | 'group'> & { trigger: string };

/**
 * A group as held (kept small: a million of them is a million of these). Its groupBy values are its key's (the map's
 * key is their JSON); its place in the least-recently-updated order is `seq` (a map's order is ascending stamps: what
 * lets `rollback` restore the order).
 */
export interface GroupState {
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
  /** event_count, value_sum: the unused events folded beyond MAX_ENTRIES, oldest first; the list and its tuples never changed in place. */
  folded?: Folded[];
  /** The unused entries counted (windowState.ts), for a group of many; never saved, valid only for `of` as it is. */
  tally?: Tally;
}

/**
 * How many entries of `of` are unused, and (value_sum) the sum of their values, kept as a group's events come and go
 * so a long window is not counted again for every event. Valid while `of` is the group's list and holds `length`
 * entries (a copy of the group, a restored or a shared one has another list: counted afresh). `sum` is exact:
 * kept only while every value and the sum are safe integers (a float's rounding would depend on the order of adding).
 */
export interface Tally {
  of: Entry[];
  length: number;
  unused: number;
  sum: number;
}

export interface CorrelationCounters {
  /** Groups evicted because a rule reached maxGroups. */
  evictions: number;
  /** Events older than their group's window, dropped. */
  late: number;
  duplicates: number;
  untimed: number;
}

/** The engine's state, changed in place by the files that share it. */
export interface CorrelationState {
  rules: Map<string, Map<string, GroupState>>;
  /** Each rule's groupBy field names: a group's values are its key's, named by these (`groupOf`). */
  readonly groupBy: Map<string, readonly string[]>;
  tick: number;
  /** first_seen rules: when each one's learning period began (its first base event's time). */
  learning: Map<string, number>;
  /** Each rule's fingerprint, as its events or `restore` said it (saved with its groups). */
  readonly fingerprints: Map<string, string>;
  pending: Journal | undefined;
}

/** The fields of an event's identity, in eventKey's order. */
const IDENTITY_FIELDS = ['clusterId', 'instanceId', 'sessionId', 'statementId', 'substatementId', 'logTime', 'class'] as const;

/** The identity of an event (the fields an alert id is made of, without the rule). */
export function eventKey(e: Record<string, unknown>): string {
  const k = JSON.stringify(IDENTITY_FIELDS.map((f) => e[f] ?? null));
  // 24 hex digits made as such (a slice of the 64 would keep all 64 alive: it is kept per event).
  return hash('sha256', k, 'buffer').toString('hex', 0, 12);
}

/**
 * The identity values of the event that completed a firing (`noteTrigger`), for the firings made by this process:
 * a firing restored from a snapshot or read from a shared state has none (its `trigger` hash is compared then).
 * Kept beside the firing, not in it: the state's format (snapshots, shared items) is unchanged.
 */
const triggerIdentities = new WeakMap<Fired, readonly unknown[]>();

/** Notes that `event` completed `fired` (`isTrigger` then compares its identity without hashing). */
export function noteTrigger(fired: Fired, event: Record<string, unknown>): void {
  triggerIdentities.set(fired, IDENTITY_FIELDS.map((f) => event[f] ?? null));
}

/**
 * Whether `event` is the event that completed `fired`: eventKey(event) === fired.trigger, the hash (`key`) computed
 * only when the fields cannot say. Equal identity values (===) have equal JSON, hence equal keys; values of a
 * canonical JSON form (a string, finite number, boolean or null) that differ have different JSON, hence different
 * keys; anything else (an object, NaN) is left to the hash. Most base events meet a fired group: no hash for them.
 */
export function isTrigger(fired: Fired, event: Record<string, unknown>, key: () => string): boolean {
  const ids = triggerIdentities.get(fired);
  if (ids !== undefined) {
    let decided = true;
    for (let i = 0; i < IDENTITY_FIELDS.length; i++) {
      const a = ids[i];
      const b = event[IDENTITY_FIELDS[i] as string] ?? null;
      if (a === b) continue;
      if (canonicalJson(a) && canonicalJson(b)) return false;
      decided = false;
    }
    if (decided) return true;
  }
  return key() === fired.trigger;
}

/** A value whose JSON is its own and no other value's: distinct such values have distinct JSON (0 and -0 are ===). */
function canonicalJson(v: unknown): boolean {
  return v === null || typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));
}

/** A field of an event as the rule reads it: a local-time one (hour, weekday...) in the rule's time zone, as its conditions do. */
export function fieldOf(rule: CompiledRule, event: Record<string, unknown>, f: string): unknown {
  return isLocalTimeField(f) ? localTimeField(event, f, rule.timeZone) : event[f];
}

/** Per rule, the last group key made and the groupBy values it was made of (`groupKey`). */
const lastGroupKeys = new WeakMap<CompiledRule, { values: unknown[]; key: string }>();

/**
 * The key of the group of `event` in correlation `rule`: its groupBy values as JSON (a missing one null). Consecutive
 * events mostly belong to one group: when the values are those of the rule's last key, primitives equal (===, so
 * their JSON is the same), that key is given again, the same string (no JSON, and maps find it by its cached hash).
 * A rule grouping by a local-time field (hour, weekday...) computes its values once, as before.
 */
export function groupKey(rule: CompiledRule, event: Record<string, unknown>): string {
  const names = rule.correlation?.groupBy ?? [];
  const last = lastGroupKeys.get(rule);
  if (last !== undefined) {
    let same = true;
    for (let i = 0; i < names.length && same; i++) {
      const v = event[names[i] as string] ?? null;
      same = v === last.values[i] && (v === null || typeof v !== 'object');
    }
    if (same) return last.key;
  }
  const values = names.map((f) => fieldOf(rule, event, f) ?? null);
  const key = JSON.stringify(values);
  if (!names.some(isLocalTimeField)) lastGroupKeys.set(rule, { values, key });
  return key;
}

/** A group without entries (first_seen's, or one just created): never changed (`entriesOf` copies it). */
export const NO_ENTRIES: Entry[] = [];

/** A group's entries as an array (a fresh one, holding a lone entry or none; otherwise its own, changed in place). */
export function entriesOf(g: GroupState): Entry[] {
  return Array.isArray(g.entries) ? (g.entries === NO_ENTRIES ? [] : g.entries) : [g.entries];
}

/** A group's groupBy values: those of its key `gk` (their JSON), named `names`. */
export function groupOf(names: readonly string[], gk: string): Record<string, unknown> {
  const values = JSON.parse(gk) as unknown[];
  const group: Record<string, unknown> = {};
  names.forEach((f, i) => (group[f] = values[i] ?? null));
  return group;
}

/** The firing `fired` of group `gk` as the pipeline takes it (a new one, or the same one again). */
export function again(rule: CompiledRule, gk: string, fired: Fired): CorrelationFiring {
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
