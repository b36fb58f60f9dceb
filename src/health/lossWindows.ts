/**
 * Windows in which activity records may have been lost. The docs promise RDS events at the start and end of
 * such a window (async mode: "the beginning and end of any time windows where activity stream event records
 * might have been lost"; sync mode: records "might be lost", then "back to a healthy state") but publish
 * neither their ids nor their texts: they are matched by configurable patterns (event ids and message regexes).
 *
 * The tracker is pure state + events -> alerts; the watcher persists its state, so a restart in the middle of a
 * window still closes it. A window that never closes stays open (and `dasguard status` reports it).
 */
import { parse as parseYaml } from 'yaml';
import { readFile } from 'node:fs/promises';
import { ConfigError } from '../errors.js';
import type { Alert } from '../pipeline/alert.js';
import { formatDuration, healthAlert, stableId, type AlertKind } from './healthAlert.js';
import { eventIdentity, type RdsEvent } from './rdsEvent.js';

export interface EventPattern {
  eventId?: string;
  message?: RegExp;
}

export interface LossWindowPatterns {
  open: EventPattern[];
  close: EventPattern[];
}

/** Close patterns are tried first: an end-of-window message may also say records "might have been lost". */
export const DEFAULT_LOSS_PATTERNS: LossWindowPatterns = {
  open: [
    { message: /\b(?:might|may|could)\s+(?:have\s+been|be)\s+lost\b/i },
    { message: /\b(?:begin|beginning|start)\b.*\bwindow\b/i },
  ],
  close: [
    { message: /\bhealthy\s+again\b/i },
    { message: /\bback\s+(?:to|in)\s+(?:a\s+)?healthy\s+state\b/i },
    { message: /\b(?:end|ended|ending)\s+of\b.*\bwindow\b/i },
    { message: /\bwindow\b.*\b(?:has\s+ended|ended|is\s+over|closed)\b/i },
  ],
};

export function matchesPattern(e: RdsEvent, p: EventPattern): boolean {
  if (p.eventId !== undefined && e.eventId !== p.eventId) return false;
  if (p.message !== undefined && !p.message.test(e.message)) return false;
  return p.eventId !== undefined || p.message !== undefined;
}

export function classifyLossEvent(e: RdsEvent, patterns: LossWindowPatterns): 'open' | 'close' | undefined {
  if (patterns.close.some((p) => matchesPattern(e, p))) return 'close';
  if (patterns.open.some((p) => matchesPattern(e, p))) return 'open';
  return undefined;
}

/**
 * Patterns from a YAML file:
 *   lossWindow:
 *     defaults: true          # keep the built-in patterns (default true)
 *     open:  [{message: 'regex'}, {eventId: RDS-EVENT-0xxx}]
 *     close: [{message: 'regex', eventId: ...}]
 * Regexes are case-insensitive. Every problem is reported at once, as `path: message`.
 */
export function parseLossPatterns(text: string, file: string): LossWindowPatterns {
  const problems: string[] = [];
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`${file}: not valid YAML: ${(err as Error).message}`, { cause: err });
  }
  const root = isObject(doc) ? doc.lossWindow : undefined;
  if (!isObject(root)) throw new ConfigError(`${file}: expected a top-level 'lossWindow:' mapping`);
  for (const k of Object.keys(root)) if (!['defaults', 'open', 'close'].includes(k)) problems.push(`lossWindow.${k}: unknown key (one of defaults, open, close)`);
  const useDefaults = root.defaults === undefined ? true : root.defaults;
  if (typeof useDefaults !== 'boolean') problems.push('lossWindow.defaults: must be true or false');
  const list = (name: 'open' | 'close'): EventPattern[] => {
    const v = root[name];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) {
      problems.push(`lossWindow.${name}: must be a list of {eventId, message}`);
      return [];
    }
    const out: EventPattern[] = [];
    v.forEach((item: unknown, i: number) => {
      const where = `lossWindow.${name}[${i}]`;
      if (!isObject(item)) {
        problems.push(`${where}: must be a mapping with eventId and/or message`);
        return;
      }
      const p: EventPattern = {};
      for (const k of Object.keys(item)) if (k !== 'eventId' && k !== 'message') problems.push(`${where}.${k}: unknown key (eventId, message)`);
      if (item.eventId !== undefined) {
        if (typeof item.eventId === 'string' && /^RDS-EVENT-\d{4}$/.test(item.eventId)) p.eventId = item.eventId;
        else problems.push(`${where}.eventId: expected RDS-EVENT-NNNN; got ${JSON.stringify(item.eventId)}`);
      }
      if (item.message !== undefined) {
        if (typeof item.message !== 'string') problems.push(`${where}.message: must be a regular expression as text`);
        else {
          try {
            p.message = new RegExp(item.message, 'i');
          } catch (err) {
            problems.push(`${where}.message: bad regular expression: ${(err as Error).message}`);
          }
        }
      }
      if (item.eventId === undefined && item.message === undefined) problems.push(`${where}: needs eventId or message`);
      out.push(p);
    });
    return out;
  };
  const open = list('open');
  const close = list('close');
  if (problems.length > 0) throw new ConfigError(problems.map((p) => `${file}: ${p}`).join('\n'));
  const base = useDefaults === false ? { open: [], close: [] } : DEFAULT_LOSS_PATTERNS;
  return { open: [...base.open, ...open], close: [...base.close, ...close] };
}

export async function loadLossPatterns(path: string | undefined): Promise<LossWindowPatterns> {
  if (path === undefined) return DEFAULT_LOSS_PATTERNS;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read loss-window patterns ${path}: ${(err as Error).message}`, { cause: err });
  }
  return parseLossPatterns(text, path);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Persisted: one per start event seen. */
export interface LossWindow {
  id: string;
  /** ISO dates. */
  start: string;
  startMessage: string;
  end: string | null;
  endMessage: string | null;
}

export interface LossWindowState {
  windows: LossWindow[];
  /** End events seen with no open window before them: their start may still arrive (events are unordered). */
  pendingEnds: { date: string; message: string; identity: string }[];
}

export function emptyLossWindowState(): LossWindowState {
  return { windows: [], pendingEnds: [] };
}

export const LOSS_WINDOW_ALERT = {
  ruleId: 'das-loss-window',
  facts: ['state', 'windowId', 'start', 'end', 'durationMs', 'rdsEvent', 'startMessage', 'endMessage'],
} as const satisfies AlertKind;
export const LOSS_WINDOW_RULE = LOSS_WINDOW_ALERT.ruleId;
const DESCRIPTION = 'RDS reported a window in which Database Activity Streams records may have been lost: the audit trail has a hole.';

export function openWindows(state: LossWindowState): LossWindow[] {
  return state.windows.filter((w) => w.end === null);
}

/**
 * Applies one (new, de-duplicated) event; returns the alerts it raises. Events may come in any order: an end
 * closes the latest open window that started before it; an end with no such window waits in `pendingEnds` for a
 * late start (see `settlePendingEnds`).
 */
export function applyLossEvent(state: LossWindowState, e: RdsEvent, kind: 'open' | 'close', clusterId: string, source: string): Alert[] {
  const alerts: Alert[] = [];
  if (kind === 'open') {
    const open = openWindows(state).find((w) => w.start <= e.date);
    if (open) return alerts; // already inside a window: one alert per window
    const pendingIdx = state.pendingEnds.findIndex((p) => p.date >= e.date);
    const w: LossWindow = { id: stableId([clusterId, eventIdentity(e)]), start: e.date, startMessage: e.message, end: null, endMessage: null };
    state.windows.push(w);
    alerts.push(openAlert(w, clusterId, source, e));
    if (pendingIdx >= 0) {
      const [p] = state.pendingEnds.splice(pendingIdx, 1);
      if (p) alerts.push(...closeWindow(w, p.date, p.message, clusterId, source));
    }
    return alerts;
  }
  const candidates = openWindows(state)
    .filter((w) => w.start <= e.date)
    .sort((a, b) => (a.start < b.start ? 1 : -1));
  const w = candidates[0];
  if (w) return closeWindow(w, e.date, e.message, clusterId, source);
  // a closed window that this end falls inside of is a repeated end: nothing new
  if (state.windows.some((x) => x.end !== null && x.start <= e.date && e.date <= x.end)) return alerts;
  state.pendingEnds.push({ date: e.date, message: e.message, identity: eventIdentity(e) });
  return alerts;
}

/**
 * Ends older than the cursor can no longer meet their start (it would be older still, and is no longer asked
 * for): each becomes an alert for a window whose start was not seen (before the look-back, or lost).
 */
export function settlePendingEnds(state: LossWindowState, cursor: string, clusterId: string, source: string): Alert[] {
  const alerts: Alert[] = [];
  state.pendingEnds = state.pendingEnds.filter((p) => {
    if (p.date >= cursor) return true;
    alerts.push(
      healthAlert(LOSS_WINDOW_ALERT, {
        severity: 'high',
        description: DESCRIPTION,
        message: `RDS reported the end of a window in which activity records may have been lost at ${p.date}; its start was not seen: records before it may be missing ("${p.message}")`,
        clusterId,
        time: new Date(p.date),
        source,
        facts: { state: 'resolved', start: null, end: p.date, durationMs: null, endMessage: p.message },
        key: ['orphan-end', p.identity],
      }),
    );
    return false;
  });
  return alerts;
}

/** Closed windows older than `before` (ISO) are forgotten; open ones are kept until they close. */
export function pruneClosedWindows(state: LossWindowState, before: string): void {
  state.windows = state.windows.filter((w) => w.end === null || w.end >= before);
}

function openAlert(w: LossWindow, clusterId: string, source: string, e: RdsEvent): Alert {
  return healthAlert(LOSS_WINDOW_ALERT, {
    severity: 'high',
    description: DESCRIPTION,
    message: `activity records may be lost since ${w.start}: RDS reported "${w.startMessage}"`,
    clusterId,
    time: new Date(w.start),
    source,
    facts: { state: 'open', windowId: w.id, start: w.start, end: null, rdsEvent: e },
    key: [w.id, 'open'],
  });
}

function closeWindow(w: LossWindow, end: string, endMessage: string, clusterId: string, source: string): Alert[] {
  w.end = end;
  w.endMessage = endMessage;
  const durationMs = Date.parse(end) - Date.parse(w.start);
  return [
    healthAlert(LOSS_WINDOW_ALERT, {
      severity: 'info',
      description: DESCRIPTION,
      message: `loss window closed: activity records between ${w.start} and ${end} (${formatDuration(durationMs)}) may be missing; RDS reported "${endMessage}"`,
      clusterId,
      time: new Date(end),
      source,
      facts: { state: 'resolved', windowId: w.id, start: w.start, end, durationMs, startMessage: w.startMessage, endMessage },
      key: [w.id, 'resolved'],
      tags: ['stream-health', 'resolved'],
    }),
  ];
}
