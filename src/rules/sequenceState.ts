/**
 * Whether a group's events complete a `sequence` correlation (docs/rules.md "Correlation rules"): a pure function
 * of the group's entries (sorted by event time, ties in arrival order) and the steps' thresholds, used by
 * windowState.ts. Each entry carries the steps whose events it is (`s`, ascending); entries used by an earlier
 * firing are skipped.
 *
 * Greedy, in time order: an event counts for the step being collected when it is one of that step's events and
 * strictly after the event that completed the step before (the gte-th); otherwise, when it is an event of a step
 * already complete, it counts there (an 8th failure of a "5 failures then a success" is part of the sequence);
 * otherwise (a success before the failures) it does not contribute and stays unused. The step collected is complete
 * at its gte-th event, and the sequence at the completion of its last step. The entries are those of the group's
 * window, so a completed sequence lies within the window.
 */

/** What sequenceState reads of an entry. */
export interface StepEntry {
  t: number;
  used: boolean;
  /** The steps (0-based, ascending) this event is one of. */
  s?: number[];
}

export interface SequenceMatch {
  /** The indices of the contributing entries, in time order; the last one completed the sequence. */
  contributing: number[];
  /** Contributing events per step. */
  counts: number[];
}

/** The first sequence completed by the unused entries, or undefined. `gtes`: each step's threshold. */
export function matchSequence(entries: readonly StepEntry[], gtes: readonly number[]): SequenceMatch | undefined {
  const counts = gtes.map(() => 0);
  /** The time of the event that completed each step completed so far. */
  const done: number[] = [];
  const contributing: number[] = [];
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i] as StepEntry;
    if (e.used || e.s === undefined || e.s.length === 0) continue;
    const k = done.length;
    if (e.s.includes(k) && (k === 0 || e.t > (done[k - 1] as number))) {
      contributing.push(i);
      counts[k] = (counts[k] as number) + 1;
      if (counts[k] === gtes[k]) {
        done.push(e.t);
        if (done.length === gtes.length) return { contributing, counts };
      }
    } else {
      const j = e.s.find((x) => x < k);
      if (j === undefined) continue;
      contributing.push(i);
      counts[j] = (counts[j] as number) + 1;
    }
  }
  return undefined;
}

/**
 * The entries that can no longer matter, by index: between two unused events of the steps before it (in time), a
 * step k's events (k > 0) beyond its gte-th after the one that opens the gap (an event of several steps: beyond
 * that for each of them). Step k starts after
 * the event completing step k-1, an event of an earlier step, and takes the first gte of its events after it: later
 * ones in the same gap complete nothing (a connection pool's logins between two failures are one login, not
 * thousands that push the failures out). Events at the same time as the gap's opening event are kept (they are not
 * after it). An earlier step's event arriving later, out of order, into a gap splits it: the dropped events stay
 * dropped, and the sequence completes with the next events kept after it, if any.
 */
export function irrelevant(entries: readonly StepEntry[], gtes: readonly number[]): number[] {
  const out: number[] = [];
  /** Per step: unused events of it counted in the current gap, and the time that opened the gap. */
  const since = gtes.map(() => 0);
  const opened = gtes.map(() => -Infinity);
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i] as StepEntry;
    if (e.used || e.s === undefined || e.s.length === 0) continue;
    const m = e.s[0] as number;
    // Dropped when each of its steps is a later step whose gap has its gte events already.
    if (m > 0 && e.s.every((j) => e.t > (opened[j] as number) && (since[j] as number) >= (gtes[j] as number))) {
      out.push(i);
      continue;
    }
    for (const j of e.s) if (j > 0 && e.t > (opened[j] as number)) since[j] = (since[j] as number) + 1;
    for (let k = m + 1; k < gtes.length; k++) {
      since[k] = 0;
      opened[k] = e.t;
    }
  }
  return out;
}
