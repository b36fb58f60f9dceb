/**
 * Windows in which activity records may have been lost. The docs promise RDS events at the start and end of
 * such a window (async mode: "the beginning and end of any time windows where activity stream event records
 * might have been lost"; sync mode: records "might be lost", then "back to a healthy state") but publish
 * neither their ids nor their texts: they are matched by configurable patterns (event ids and message regexes).
 *
 * The tracker is pure state + events -> alerts; the watcher persists its state, so a restart in the middle of a
 * window still closes it. A window that never closes stays open (and `dasguard status` reports it).
 */
import { readFile } from 'node:fs/promises';
import { ConfigError } from '../errors.js';
import { checkYaml } from '../config/checkYaml.js';
import { ProblemList, fileProblemsMessage, isError } from '../config/problems.js';
import type { ObjectSpec, Spec } from '../config/spec.js';
import { parseYamlFile } from '../config/yamlTree.js';
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

function matchesPattern(e: RdsEvent, p: EventPattern): boolean {
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
 * Regexes are case-insensitive. Checked against LOSS_PATTERNS_SPEC with the spec engine (src/config/: positions,
 * the alias limits); every problem is reported at once, as `file:line: lossWindow.open[0].message: ...`. Other
 * top-level keys are left alone.
 */
export function parseLossPatterns(text: string, file: string): LossWindowPatterns {
  const problems = new ProblemList();
  const patterns = checkLossPatterns(file, text, problems);
  if (patterns === undefined || problems.items.some(isError)) throw new ConfigError(fileProblemsMessage(file, problems.items));
  return patterns;
}

const regex = (text: string): { value: RegExp } | { problem: string } => {
  try {
    return { value: new RegExp(text, 'i') };
  } catch (err) {
    return { problem: `bad regular expression: ${(err as Error).message}` };
  }
};

const patternList = (which: string): Spec => ({
  type: 'array',
  nullIsEmpty: true,
  description: `Events that ${which} a loss window: each matches when all it names match.`,
  items: {
    type: 'object',
    description: 'An event pattern.',
    properties: {
      eventId: { type: 'string', pattern: '^RDS-EVENT-\\d{4}$', patternHint: 'RDS-EVENT-NNNN', description: 'The RDS event id.' },
      message: { type: 'string', parse: regex, description: 'A regular expression the event message matches (case-insensitive).' },
    },
    needsOneOf: ['eventId', 'message'],
  },
});

/** The loss-window pattern file (--loss-window-patterns). */
const LOSS_PATTERNS_SPEC: ObjectSpec = {
  type: 'object',
  description: 'RDS events that open and close a window in which activity records may have been lost.',
  otherKeys: 'ignored',
  required: ['lossWindow'],
  properties: {
    lossWindow: {
      type: 'object',
      description: 'Loss-window patterns.',
      properties: {
        defaults: { type: 'boolean', description: 'Keep the built-in patterns (default true).' },
        open: patternList('open'),
        close: patternList('close'),
      },
    },
  },
};

interface CheckedPatterns {
  lossWindow?: { defaults?: boolean; open?: (EventPattern | undefined)[]; close?: (EventPattern | undefined)[] };
}

function checkLossPatterns(file: string, text: string, problems: ProblemList): LossWindowPatterns | undefined {
  const { docs, ok } = parseYamlFile(file, text, problems);
  if (!ok) return undefined;
  if (docs.length !== 1) {
    problems.add(docs[1]?.pos ?? { file, line: 1, column: 1 }, docs.length === 0 ? "the file is empty: expected a top-level 'lossWindow:' mapping" : 'expected one YAML document');
    return undefined;
  }
  const v = checkYaml(docs[0]!, LOSS_PATTERNS_SPEC, { problems }) as CheckedPatterns | undefined;
  if (v?.lossWindow === undefined || problems.items.some(isError)) return undefined;
  const w = v.lossWindow as { defaults?: boolean; open?: EventPattern[]; close?: EventPattern[] };
  const base = w.defaults ?? true ? DEFAULT_LOSS_PATTERNS : { open: [], close: [] };
  return { open: [...base.open, ...(w.open ?? [])], close: [...base.close, ...(w.close ?? [])] };
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
      resolvesKey: [w.id, 'open'],
      tags: ['stream-health', 'resolved'],
    }),
  ];
}
