/**
 * Realert windows: for a rule (glob) and key fields (e.g. dbUserName, remoteHost), the first alert goes out and
 * later ones within the window are only counted; when the window ends with a count, a digest alert carries it
 * (also on close). The rule id is always part of the key.
 */
import { createHash } from 'node:crypto';
import type { SuppressionConfig } from './config.js';
import { globToRegExp } from './routing.js';
import type { DeliveredAlert } from './types.js';

interface Window {
  start: number;
  windowMs: number;
  count: number;
  first: DeliveredAlert;
  keyText: string;
  timer: NodeJS.Timeout | undefined;
}

/** Windows kept at most; beyond, the oldest is closed early (its digest sent). */
const MAX_WINDOWS = 50_000;

export class Suppressor {
  private readonly rules: { rules: RegExp[]; windowMs: number; keys: string[] }[];
  private readonly windows = new Map<string, Window>();
  suppressed = 0;

  constructor(
    config: readonly SuppressionConfig[],
    /** Receives digests when windows end by themselves (timers). */
    private readonly emit: (digests: DeliveredAlert[]) => void,
    private readonly now: () => number = Date.now,
  ) {
    this.rules = config.map((c) => ({ rules: c.rules.map(globToRegExp), windowMs: c.windowMs, keys: c.keys }));
  }

  /** The alerts that go out now; the others are counted. */
  filter(alerts: readonly DeliveredAlert[]): DeliveredAlert[] {
    if (this.rules.length === 0) return [...alerts];
    const out: DeliveredAlert[] = [];
    const early: DeliveredAlert[] = [];
    for (const a of alerts) {
      const rule = this.rules.find((r) => r.rules.some((g) => g.test(a.ruleId)));
      if (!rule) {
        out.push(a);
        continue;
      }
      const keyText = [a.ruleId, ...rule.keys.map((k) => `${k}=${fieldText(a.event[k])}`)].join(' ');
      const now = this.now();
      const w = this.windows.get(keyText);
      if (w && now < w.start + w.windowMs) {
        w.count++;
        this.suppressed++;
        continue;
      }
      if (w) {
        const d = this.close(keyText);
        if (d) early.push(d);
      }
      if (this.windows.size >= MAX_WINDOWS) {
        const oldest = this.windows.keys().next().value as string;
        const d = this.close(oldest);
        if (d) early.push(d);
      }
      const win: Window = { start: now, windowMs: rule.windowMs, count: 0, first: a, keyText, timer: undefined };
      win.timer = setTimeout(() => {
        const d = this.close(keyText);
        if (d) this.emit([d]);
      }, rule.windowMs);
      win.timer.unref();
      this.windows.set(keyText, win);
      out.push(a);
    }
    return [...early, ...out];
  }

  /** Ends every window; the digests of those that counted something. */
  flush(): DeliveredAlert[] {
    const out: DeliveredAlert[] = [];
    for (const k of [...this.windows.keys()]) {
      const d = this.close(k);
      if (d) out.push(d);
    }
    return out;
  }

  private close(keyText: string): DeliveredAlert | undefined {
    const w = this.windows.get(keyText);
    if (!w) return undefined;
    clearTimeout(w.timer);
    this.windows.delete(keyText);
    if (w.count === 0) return undefined;
    const secs = Math.round(w.windowMs / 1000);
    return {
      ...w.first,
      id: createHash('sha256').update(`${w.first.id}:digest:${w.start}`).digest('hex').slice(0, 32),
      message: `${w.count} more alert${w.count === 1 ? '' : 's'} like this one were suppressed within ${secs} s (${w.keyText}); first: ${w.first.message}`,
      suppressedCount: w.count,
    };
  }
}

function fieldText(v: unknown): string {
  return v === undefined || v === null ? '-' : typeof v === 'string' ? v : JSON.stringify(v);
}
