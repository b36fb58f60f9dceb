/**
 * Realert windows: for a rule (glob) and key fields (e.g. dbUserName, remoteHost), the first alert goes out and
 * later ones within the window are only counted; when the window ends with a count, a digest alert carries it
 * (also on close). The rule id is always part of the key.
 *
 * Every change is a transaction (`filter`, `closeDue`, `flush` return an `undo`), so a hand-off whose alerts could
 * not be written to the outbox changes nothing and can simply be retried. The windows can be saved (`snapshot`,
 * `committed`) and restored after a crash (`restore`); with `trackTaken`, the ids of alerts taken since the last
 * two snapshots are saved too, so that records re-read after a restart (those after the last checkpoint) are not
 * counted twice. Restored ids guard until their alert comes again (a shard may take a while to get there), or
 * until `forget` (a clean stop, after the last checkpoint).
 */
import { createHash } from 'node:crypto';
import { contextOf, redactField, type RedactionMode } from '../redaction/index.js';
import type { SuppressionConfig } from './config.js';
import { globToRegExp } from '../util/glob.js';
import { agree, count } from '../util/plural.js';
import type { DeliveredAlert } from './types.js';

/** A window as saved in the suppression state file. */
export interface SavedWindow {
  /** sha256 of the rule id and key values (the state file holds no key value in clear). */
  key: string;
  keys: string[];
  start: number;
  windowMs: number;
  count: number;
  first: DeliveredAlert;
}

interface Window extends SavedWindow {
  timer?: NodeJS.Timeout;
}

export interface SuppressionState {
  version: 1;
  generation: number;
  windows: SavedWindow[];
  /** Alert ids taken (opened or counted into a window) recently, with the generation that took them. */
  taken: [string, number][];
  /** Where alerts that opened a condition went, for the alerts resolving them (Router.remembered; the handoff's). */
  opened?: [string, { sink: string; route: string; redaction: RedactionMode }[]][];
}

export interface SuppressorOptions {
  now?: () => number;
  /** A window reached its end: its owner calls `closeDue` with the key (under the owner's lock). */
  onDue?: (key: string) => void;
  /** Remember the ids of alerts taken, for `restore` after a crash (the live consumer). */
  trackTaken?: boolean;
}

export interface Change<T> {
  result: T;
  /** Puts the windows back as they were before the change (only valid before any other change). */
  undo: () => void;
}

/** Windows kept at most; beyond, the oldest is closed early (its digest sent). */
const MAX_WINDOWS = 50_000;
/** Recent alert ids kept at most (a burst beyond may be counted twice if re-read after a crash). */
const MAX_TAKEN = 200_000;

export class Suppressor {
  private readonly rules: { rules: RegExp[]; windowMs: number; keys: string[] }[];
  private readonly windows = new Map<string, Window>();
  private readonly taken = new Map<string, number>();
  /** Ids restored from a snapshot whose alerts were not seen again yet. */
  private readonly guard = new Set<string>();
  private generation = 0;
  private changed = false;
  /** During a change: the state of each window before it was first touched, and the ids taken. */
  private journal: { windows: Map<string, Window | undefined>; taken: string[]; unguarded: string[] } | undefined;
  private readonly now: () => number;
  suppressed = 0;

  constructor(
    config: readonly SuppressionConfig[],
    private readonly opts: SuppressorOptions = {},
  ) {
    this.rules = config.map((c) => ({ rules: c.rules.map(globToRegExp), windowMs: c.windowMs, keys: c.keys }));
    this.now = opts.now ?? Date.now;
  }

  /** Something changed since the last `committed`. */
  get dirty(): boolean {
    return this.changed;
  }

  /** The alerts that go out now (digests of windows this call ended first); the others are counted. */
  filter(alerts: readonly DeliveredAlert[]): Change<DeliveredAlert[]> {
    return this.change(() => {
      if (this.rules.length === 0) return [...alerts];
      const out: DeliveredAlert[] = [];
      const early: DeliveredAlert[] = [];
      for (const a of alerts) {
        const rule = this.rules.find((r) => r.rules.some((g) => g.test(a.ruleId)));
        if (!rule) {
          out.push(a);
          continue;
        }
        // Taken before a crash and re-read after it: in the restored count (or outbox) already.
        if (this.taken.has(a.id)) continue;
        if (this.guard.has(a.id)) {
          this.guard.delete(a.id);
          this.journal!.unguarded.push(a.id);
          this.take(a.id); // and still guarded if this record is read yet again after another crash
          continue;
        }
        const keyText = [a.ruleId, ...rule.keys.map((k) => `${k}=${fieldText(a.event[k])}`)].join('\u0000');
        const key = createHash('sha256').update(keyText).digest('hex').slice(0, 32);
        const now = this.now();
        const w = this.windows.get(key);
        if (w && now < w.start + w.windowMs) {
          this.touch(key);
          w.count++;
          this.suppressed++;
          this.take(a.id);
          continue;
        }
        if (w) {
          const d = this.close(key);
          if (d) early.push(d);
        }
        if (this.windows.size >= MAX_WINDOWS) {
          const d = this.close(this.windows.keys().next().value as string);
          if (d) early.push(d);
        }
        this.touch(key);
        const win: Window = { key, keys: rule.keys, start: now, windowMs: rule.windowMs, count: 0, first: a };
        this.arm(win);
        this.windows.set(key, win);
        this.take(a.id);
        out.push(a);
      }
      return [...early, ...out];
    });
  }

  /** Ends the given windows if their time is up; the digests of those that counted something. */
  closeDue(keys: Iterable<string>): Change<DeliveredAlert[]> {
    return this.change(() => {
      const out: DeliveredAlert[] = [];
      const now = this.now();
      for (const k of keys) {
        const w = this.windows.get(k);
        if (!w || now < w.start + w.windowMs) continue;
        const d = this.close(k);
        if (d) out.push(d);
      }
      return out;
    });
  }

  /** Ends every window; the digests of those that counted something. */
  flush(): Change<DeliveredAlert[]> {
    return this.change(() => {
      const out: DeliveredAlert[] = [];
      for (const k of [...this.windows.keys()]) {
        const d = this.close(k);
        if (d) out.push(d);
      }
      return out;
    });
  }

  /** The windows (and recent ids) to save; `committed` once they are durable. */
  snapshot(): SuppressionState {
    const windows = [...this.windows.values()].map(({ key, keys, start, windowMs, count, first }) => ({ key, keys, start, windowMs, count, first }));
    const taken = [...this.taken].filter(([, g]) => g >= this.generation - 1);
    for (const id of this.guard) taken.push([id, this.generation]);
    return { version: 1, generation: this.generation, windows, taken };
  }

  /** No record will be read again (a clean stop, after the last checkpoint): the ids need not be kept. */
  forget(): void {
    if (this.taken.size === 0 && this.guard.size === 0) return;
    this.taken.clear();
    this.guard.clear();
    this.changed = true;
  }

  /**
   * The snapshot is durable. Ids taken two snapshots ago are forgotten: a checkpoint written with the snapshot
   * before this one is past their records, so they cannot be re-read.
   */
  committed(): void {
    this.generation++;
    for (const [id, g] of this.taken) if (g < this.generation - 1) this.taken.delete(id);
    this.changed = false;
  }

  /** Takes back saved windows (at start); those whose end passed meanwhile are reported due at once. */
  restore(state: SuppressionState): void {
    this.generation = state.generation + 1;
    for (const [id] of state.taken) if (this.guard.size < MAX_TAKEN) this.guard.add(id);
    const due: string[] = [];
    for (const s of state.windows) {
      const w: Window = { ...s };
      this.windows.set(w.key, w);
      if (!this.arm(w)) due.push(w.key);
    }
    for (const k of due) this.opts.onDue?.(k);
  }

  private change<T>(fn: () => T): Change<T> {
    const journal = { windows: new Map<string, Window | undefined>(), taken: [] as string[], unguarded: [] as string[] };
    const before = { suppressed: this.suppressed, changed: this.changed };
    this.journal = journal;
    let result: T;
    try {
      result = fn();
    } finally {
      this.journal = undefined;
    }
    const undo = () => {
      for (const [key, prev] of journal.windows) {
        clearTimeout(this.windows.get(key)?.timer);
        if (prev) {
          this.windows.set(key, prev);
          this.arm(prev);
        } else this.windows.delete(key);
      }
      for (const id of journal.taken) this.taken.delete(id);
      for (const id of journal.unguarded) this.guard.add(id);
      this.suppressed = before.suppressed;
      this.changed = before.changed;
    };
    return { result, undo };
  }

  /** Records a window's state before the running change touches it (once per change). */
  private touch(key: string): void {
    const j = this.journal!;
    if (j.windows.has(key)) return;
    const w = this.windows.get(key);
    j.windows.set(key, w ? { ...w, timer: undefined } : undefined);
    this.changed = true;
  }

  private take(id: string): void {
    if (!this.opts.trackTaken) return;
    this.taken.set(id, this.generation);
    if (this.taken.size > MAX_TAKEN) this.taken.delete(this.taken.keys().next().value as string);
    this.journal!.taken.push(id);
    this.changed = true;
  }

  /** A timer for the window's end; false when it has passed already. */
  private arm(w: Window): boolean {
    const left = w.start + w.windowMs - this.now();
    if (left <= 0) return false;
    w.timer = setTimeout(() => this.opts.onDue?.(w.key), left);
    w.timer.unref();
    return true;
  }

  private close(key: string): DeliveredAlert | undefined {
    const w = this.windows.get(key);
    if (!w) return undefined;
    this.touch(key);
    clearTimeout(w.timer);
    this.windows.delete(key);
    if (w.count === 0) return undefined;
    const suppression = { firstId: w.first.id, windowMs: w.windowMs, keys: w.keys };
    return {
      ...w.first,
      // From the first alert and the key only: the same digest after a restart, whatever the clock says.
      id: createHash('sha256').update(`${w.first.id}:digest:${w.key}`).digest('hex').slice(0, 32),
      message: digestMessage(w.first, w.count, suppression, 'full'),
      suppressedCount: w.count,
      suppression,
    };
  }
}

/**
 * A digest as a route sees it (and as the outbox keeps it: without `suppression`): its message says how many
 * alerts of which rule were suppressed, with the key values redacted under the route's mode, never the first
 * alert's message (which may quote statement text). Other alerts pass unchanged.
 */
export function renderDigest(alert: DeliveredAlert, mode: RedactionMode): DeliveredAlert {
  if (!alert.suppression) return alert; // checked first: most alerts are not digests, and are not copied
  const { suppression, ...rest } = alert;
  return { ...rest, message: digestMessage(alert, alert.suppressedCount ?? 0, suppression, mode) };
}

function digestMessage(first: DeliveredAlert, n: number, s: NonNullable<DeliveredAlert['suppression']>, mode: RedactionMode): string {
  const ctx = contextOf(first.event);
  const keys = s.keys.map((k) => `${k}=${fieldText(redactField(k, first.event[k], ctx, mode))}`);
  return (
    `${count(n, 'more alert')} of rule ${first.ruleId} ${agree(n, 'was', 'were')} suppressed within ${formatWindow(s.windowMs)}` +
    `${keys.length > 0 ? ` (${keys.join(', ')})` : ''} after alert ${s.firstId}`
  );
}

function formatWindow(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000} h`;
  if (ms % 60_000 === 0) return `${ms / 60_000} min`;
  if (ms % 1000 === 0) return `${ms / 1000} s`;
  return `${ms} ms`;
}

function fieldText(v: unknown): string {
  return v === undefined || v === null ? '-' : typeof v === 'string' ? v : JSON.stringify(v);
}
