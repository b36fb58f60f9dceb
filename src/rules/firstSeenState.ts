/**
 * The knowledge of a `first_seen` correlation for one group (docs/rules.md "Correlation rules"), used by
 * firstSeenEvent.ts: the combinations of the rule's `field` values seen, each with the event time it was last
 * seen and the identity of that event (a record processed again is a duplicate). Bounded: at most MAX_COMBINATIONS
 * per group, the least recently seen (in event time) forgotten first; `forget` drops the combinations not seen for
 * that long before the group's newest event. Plain JSON, so it is part of the engine's snapshot as it is.
 */

/** Combinations kept per group (the least recently seen beyond are forgotten, counted as evictions). */
export const MAX_COMBINATIONS = 1000;

/** Combination (the values as JSON) -> [the event time it was last seen, that event's identity]. */
export type Seen = Record<string, [number, string]>;

/** What recording an event's combination did. */
export type SeenOutcome = 'new' | 'known' | 'duplicate';

/** Drops the combinations last seen at or before `before` (a forget period before the group's newest event). */
export function forgetBefore(seen: Seen, before: number): void {
  for (const [combo, [t]] of Object.entries(seen)) if (t <= before) delete seen[combo];
}

/**
 * Records that `combo` was seen at `t` by the event `key`. A new combination beyond `max` forgets the least recently
 * seen one; `evicted` is told how many. The tuples are replaced, never changed (a journal's shallow copy stays intact).
 */
export function recordCombination(seen: Seen, combo: string, t: number, key: string, evicted: (n: number) => void, max = MAX_COMBINATIONS): SeenOutcome {
  const prev = seen[combo];
  if (prev !== undefined) {
    if (prev[1] === key) return 'duplicate';
    if (t >= prev[0]) seen[combo] = [t, key];
    return 'known';
  }
  const combos = Object.keys(seen);
  if (combos.length >= max) {
    let n = 0;
    while (combos.length - n >= max) {
      let oldest: string | undefined;
      for (const c of Object.keys(seen)) if (oldest === undefined || (seen[c] as [number, string])[0] < (seen[oldest] as [number, string])[0]) oldest = c;
      delete seen[oldest as string];
      n++;
    }
    evicted(n);
  }
  seen[combo] = [t, key];
  return 'new';
}
