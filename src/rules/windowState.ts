/**
 * One base event of a windowed correlation (event_count, value_count, value_sum, sequence) in its group, as the
 * engine (CorrelationEngine.ts) hands it over once the group is found: the group's sliding window on EVENT time, the
 * folding of entries past MAX_ENTRIES (`bound`), and the firing. first_seen keeps no window (CorrelationEngine.ts).
 * - Lateness: an event at or before maxT - window (older than the group's window) is LATE: dropped and counted
 *   (`late`). Any later event, even out of order, takes its place in the window.
 * - An event seen already (same identity: cluster, instance, session, statement, substatement, logTime, class) is
 *   a duplicate (a record processed again after a restart, a replay with the same state file): ignored, counted.
 *   When it is the event that completed the group's last firing (its trigger), that firing is returned again, the
 *   same (the pipeline builds the same alert, same id): a record processed again gives its correlation alert again
 *   (at least once, like its other alerts) instead of losing it when the first copy was lost. One per group: an
 *   earlier firing's trigger, or one of an evicted group, is only a duplicate (or late).
 * - Firing: when the entries not used by an earlier firing reach `gte` (count, distinct values of `field`, or sum of
 *   `field`), or for a `sequence` complete its steps in order (sequenceState.ts: each entry records the steps it is
 *   an event of), and maxT is past the quiet period. The contributing entries become used (they never count again),
 *   and the group is quiet for `realert`.
 * - Bounded: at most MAX_ENTRIES entries per group, beyond which counts and sums stay exact (`bound`: folded chunks).
 */
import { again, entriesOf, eventKey, fieldOf, FOLD_CHUNK, isTrigger, MAX_ENTRIES, MAX_FOLDED, noteTrigger, type CorrelationCounters, type Entry, type Fired, type Folded, type GroupState, type Tally } from './correlationState.js';
import { irrelevant, matchSequence } from './sequenceState.js';
import { isShownEvent, present, shown } from './shownEvent.js';
import type { CompiledRule, CorrelationFiring, CorrelationType, SequenceCorrelation, ThresholdCorrelation } from './types.js';

/**
 * The event `event` (at `t`; `stored` as an alert may show it) in group `gk` of `rule`, `g` (just moved to the
 * newest place): returns the firing, if it made the rule fire, or the group's last firing again (its trigger seen
 * again); counts late events and duplicates in `counters`.
 */
export function observeWindow(rule: CompiledRule, spec: ThresholdCorrelation | SequenceCorrelation, gk: string, g: GroupState, t: number, event: Record<string, unknown>, stored: Record<string, unknown>, counters: CorrelationCounters): CorrelationFiring | undefined {
  // The event's identity (a hash) only when something compares it: most events meet no firing and no entry at their time.
  let keyMemo: string | undefined;
  const key = (): string => (keyMemo ??= eventKey(event));
  if (g.fired !== undefined && isTrigger(g.fired, event, key)) {
    counters.duplicates++;
    return again(rule, gk, g.fired);
  }
  if (t <= g.maxT - spec.windowMs) {
    counters.late++;
    return undefined;
  }
  const entries = entriesOf(g);
  if (isDuplicate(entries, t, key, event)) {
    counters.duplicates++;
    return undefined;
  }
  let v: string | number | null = null;
  if (spec.type === 'value_count') v = JSON.stringify(fieldOf(rule, event, spec.field as string) ?? null);
  else if (spec.type === 'value_sum') {
    const n = fieldOf(rule, event, spec.field as string);
    v = typeof n === 'number' && Number.isFinite(n) ? n : 0;
  }
  // The unused entries as counted for the group's last event, kept in step with every change below.
  let tally = spec.type === 'sequence' ? undefined : validTally(g, entries);
  const entry: Entry = { t, v, used: false, ev: shown(spec, event, stored) };
  if (spec.type === 'sequence') entry.s = spec.steps.flatMap((st, i) => (st.predicate?.(event) === true ? [i] : []));
  let i = entries.length;
  while (i > 0 && (entries[i - 1] as Entry).t > t) i--;
  // push and shift where they do the same as splice: V8's splice of a long list copies it (microseconds per event).
  if (i === entries.length) entries.push(entry);
  else entries.splice(i, 0, entry);
  if (tally !== undefined && !count(tally, entry, 1)) tally = undefined;
  if (t > g.maxT) g.maxT = t;
  const from = g.maxT - spec.windowMs;
  let drop = 0;
  while (drop < entries.length && (entries[drop] as Entry).t <= from) {
    if (tally !== undefined && !count(tally, entries[drop] as Entry, -1)) tally = undefined;
    drop++;
  }
  if (drop === 1) entries.shift();
  else if (drop > 0) entries.splice(0, drop);
  // Chunks are replaced, never changed: a new list only when one leaves the window (most events drop none).
  if (g.folded !== undefined && foldedTotals(g.folded).start <= from) {
    const kept = g.folded.filter((c) => c[0] > from);
    if (kept.length > 0) g.folded = kept;
    else delete g.folded;
  }
  if (spec.type === 'sequence') {
    const gone = irrelevant(entries, spec.steps.map((st) => st.gte));
    for (let k = gone.length - 1; k >= 0; k--) entries.splice(gone[k] as number, 1);
  }
  if (entries.length > MAX_ENTRIES) {
    const held = entries.length;
    // Used entries gone (they count for nothing): the tally holds. Folded or dropped: counted afresh (once per
    // FOLD_CHUNK events at most). After a firing, its used entries go one per event: no count of them all each time.
    if (bound(spec.type, g, entries) && tally !== undefined) tally.length -= held - entries.length;
    else tally = undefined;
  }
  g.entries = entries.length === 1 ? (entries[0] as Entry) : entries;
  keepTally(g, entries, tally);

  if (g.quietUntil !== undefined && g.maxT < g.quietUntil) return undefined;
  /** The contributing entries' indices in `entries`, in time order. */
  let live: number[];
  let value: number;
  let steps: number[] | undefined;
  if (spec.type === 'sequence') {
    const m = matchSequence(entries, spec.steps.map((st) => st.gte));
    if (m === undefined) return undefined;
    live = m.contributing;
    value = spec.steps.length;
    steps = m.counts;
  } else {
    // Counted without building lists (this runs for every base event), or as the tally kept: the list only when it fires.
    if (tally === undefined) {
      tally = tallyOf(entries);
      keepTally(g, entries, tally);
    }
    const { unused, sum } = tally;
    if (unused === 0) return undefined;
    const folded = g.folded !== undefined ? foldedTotals(g.folded) : NO_FOLDED;
    if (spec.type === 'event_count') value = unused + folded.events;
    else if (spec.type === 'value_count') {
      if (unused < spec.gte) return undefined; // never more distinct values than events
      const distinct = new Set<unknown>();
      for (const e of entries) if (!e.used) distinct.add(e.v);
      value = distinct.size;
    } else value = sum + folded.sum;
    if (value < spec.gte) return undefined;
    live = [];
    for (let k = 0; k < entries.length; k++) if (!(entries[k] as Entry).used) live.push(k);
  }
  g.quietUntil = g.maxT + spec.realertMs;
  const last = entries[live[live.length - 1] as number] as Entry;
  // The first contributing event: the oldest unused entry, or the oldest folded one when older (a late event can be).
  const oldest = g.folded?.[0];
  const entry0 = entries[live[0] as number] as Entry;
  const first = oldest !== undefined && oldest[0] <= entry0.t ? { t: oldest[0], ev: oldest[4] } : { t: entry0.t, ev: entry0.ev, key: entry0.key };
  const events = live.length + (g.folded !== undefined ? foldedTotals(g.folded).events : 0);
  const fired: Fired = { trigger: key(), value, events, firstTimeMs: first.t, lastTimeMs: last.t, firstKey: first.key ?? eventKey(first.ev ?? {}), first: present(first.ev), last: present(last.ev) };
  if (steps !== undefined) fired.steps = steps;
  noteTrigger(fired, event);
  g.fired = fired;
  delete g.folded; // folded events are unused ones: they contributed
  // Used entries never count again, nor are shown (the firing keeps its first and last events): their identity only.
  // Replaced, not changed: an entry is never changed in place (a journal's copy of the list shares them).
  for (const k of live) {
    const used = { ...(entries[k] as Entry) };
    used.used = true;
    used.key ??= eventKey(used.ev ?? {});
    used.ev = undefined;
    entries[k] = used;
  }
  if (!Array.isArray(g.entries)) g.entries = entries[0] as Entry;
  // Every unused entry contributed (a sequence keeps no tally).
  if (g.tally !== undefined) {
    g.tally.unused = 0;
    g.tally.sum = 0;
  }
  return again(rule, gk, fired);
}

/** A folded list's events, the sum of their values (added in the list's order) and its chunks' oldest time. */
interface FoldedTotals {
  events: number;
  sum: number;
  start: number;
}
const NO_FOLDED: FoldedTotals = { events: 0, sum: 0, start: Infinity };
/** Per folded list (never changed in place: replaced, correlationState.ts), its totals, counted once, not for every event. */
const totalsOfFolded = new WeakMap<readonly Folded[], FoldedTotals>();

function foldedTotals(folded: readonly Folded[]): FoldedTotals {
  let t = totalsOfFolded.get(folded);
  if (t === undefined) {
    t = { events: 0, sum: 0, start: Infinity };
    for (const c of folded) {
      t.events += c[2];
      t.sum += c[3];
      if (c[0] < t.start) t.start = c[0];
    }
    totalsOfFolded.set(folded, t);
  }
  return t;
}

/** Groups of fewer entries are counted for each event (cheap), and keep no tally (a million small groups, no extra objects). */
const TALLY_MIN = 32;

/** The group's tally, when it is for `entries` as they are. */
function validTally(g: GroupState, entries: Entry[]): Tally | undefined {
  const t = g.tally;
  return t !== undefined && t.of === entries && t.length === entries.length ? t : undefined;
}

/** The unused entries of `entries` counted, and whether every value and the sum are safe integers (else it is not kept). */
function tallyOf(entries: Entry[]): Tally & { exact: boolean } {
  let unused = 0;
  let sum = 0;
  let exact = true;
  for (const e of entries) {
    if (e.used) continue;
    unused++;
    if (typeof e.v === 'number') {
      sum += e.v;
      if (!Number.isSafeInteger(e.v)) exact = false;
    }
  }
  return { of: entries, length: entries.length, unused, sum, exact: exact && Number.isSafeInteger(sum) };
}

/** Changes `tally` (in place: no copy of a group shares it validly) for an entry that joined (`sign` 1) or left (-1); false once the sum could be inexact. */
function count(tally: Tally, e: Entry, sign: 1 | -1): boolean {
  tally.length += sign;
  if (e.used) return true;
  tally.unused += sign;
  if (typeof e.v !== 'number') return true;
  tally.sum += sign * e.v;
  return Number.isSafeInteger(e.v) && Number.isSafeInteger(tally.sum);
}

/** Keeps `tally` (exact, for `entries` as they are) on a group of many entries; else none. */
function keepTally(g: GroupState, entries: Entry[], tally: (Tally & { exact?: boolean }) | undefined): void {
  if (tally !== undefined && tally.exact !== false && entries.length >= TALLY_MIN && g.entries === entries) {
    g.tally = tally.exact === undefined ? tally : { of: entries, length: entries.length, unused: tally.unused, sum: tally.sum };
  } else if (g.tally !== undefined) delete g.tally;
}

/**
 * Whether the group holds this event already. The same event has the same time (logTime is part of its identity)
 * and entries are sorted by time: only the entries at `t` are compared (a binary search, not a scan of up to
 * MAX_ENTRIES entries per event; none for an event newer than the newest entry).
 */
function isDuplicate(entries: readonly Entry[], t: number, key: () => string, event: Record<string, unknown>): boolean {
  // Events mostly come in time order: one newer than the newest entry is none of them (no search).
  const newest = entries[entries.length - 1];
  if (newest === undefined || newest.t < t) return false;
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((entries[mid] as Entry).t < t) lo = mid + 1;
    else hi = mid;
  }
  for (let i = lo; i < entries.length && (entries[i] as Entry).t === t; i++) {
    const e = entries[i] as Entry;
    if (e.key !== undefined ? e.key === key() : isShownEvent(e.ev as Record<string, unknown>, event)) return true;
  }
  return false;
}

/**
 * Keeps a group's entries (more than MAX_ENTRIES, in the window) within MAX_ENTRIES without changing what it counts:
 * used entries (only a duplicate's check needs them) go first, oldest first; then event_count and value_sum fold
 * their oldest unused entries into a chunk of `folded` (merging the two oldest chunks beyond MAX_FOLDED);
 * value_count drops the oldest unused entries whose value a newer unused one has (the distinct count is the same),
 * else the oldest; a sequence drops its oldest. True when used entries were all it removed (what is counted is as it was).
 */
function bound(type: CorrelationType, g: GroupState, entries: Entry[]): boolean {
  const over = () => entries.length - MAX_ENTRIES;
  for (let i = 0; i < entries.length && over() > 0; ) {
    if (!(entries[i] as Entry).used) i++;
    else if (i === 0) entries.shift();
    else entries.splice(i, 1);
  }
  if (over() <= 0) return true;
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
    return false;
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
  return false;
}
