/**
 * The events of a record's `databaseActivityEventList`, one by one -> ActivityEvent, Heartbeat or RejectedEvent
 * (src/types.ts). An activity event keeps every original field verbatim and gets dasguard's added fields, the same
 * on every engine: `engine`, `clusterId`, `instanceId` and `recordVersion` from the record; `logTimeMs`,
 * `startTimeMs` and `endTimeMs` (DAS timestamps parsed); `rows`; and, read from the statement text with the SQL
 * lexer (src/sql/), `sqlCommand`, `sqlHasWhere` and `sqlComments`. Never throws: an event that cannot be used is
 * rejected with its reason and the rest of the record is kept. decode.ts calls it once the payload is JSON.
 */
import { mysqlVersionOf, type LexerOptions } from '../sql/lexer.js';
import { leadingCommand, statementShape } from '../sql/statement.js';
import { PoisonReason } from '../errors.js';
import { eventDepthProblem } from '../limits.js';
import type { ActivityEvent, DbEngine, Heartbeat, RejectedEvent } from '../types.js';
import { quoteShort } from '../util/quote.js';

/** What an event inherits from the record that carried it. */
export interface RecordContext {
  clusterId: string | null;
  instanceId: string | null;
  /** Envelope version, or null for a bare record. */
  version: string | null;
}

export type NormalizedEvent =
  | { kind: 'event'; event: ActivityEvent }
  | { kind: 'heartbeat'; heartbeat: Heartbeat }
  | { kind: 'rejected'; rejected: RejectedEvent };

/** Where normalizeEvents() puts its results. */
export interface NormalizedEvents {
  events: ActivityEvent[];
  heartbeats: Heartbeat[];
  rejected: RejectedEvent[];
}

/**
 * Normalises every element of a `databaseActivityEventList`, appending to `out`. Never throws. `owned`: the list's
 * objects are the caller's to give away (decode.ts parsed them): they BECOME the events, completed in place
 * (`normalizeOwnedEvent`); otherwise each event is a copy (`normalizeEvent`).
 */
export function normalizeEvents(list: readonly unknown[], ctx: RecordContext, out: NormalizedEvents, owned = false): void {
  const normalize = owned ? normalizeOwnedEvent : normalizeEvent;
  for (let i = 0; i < list.length; i++) {
    const n = normalize(list[i], i, ctx);
    if (n.kind === 'event') out.events.push(n.event);
    else if (n.kind === 'heartbeat') out.heartbeats.push(n.heartbeat);
    else out.rejected.push(n.rejected);
  }
}

/**
 * One raw DAS event -> an ActivityEvent (every original field kept verbatim, dasguard's fields added), a
 * Heartbeat, or a RejectedEvent saying what is wrong. Never throws. `raw` is left as it is: the event is a copy.
 */
export function normalizeEvent(raw: unknown, index: number, ctx: RecordContext): NormalizedEvent {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || (raw as Record<string, unknown>).type !== 'record') return normalizeOwnedEvent(raw, index, ctx);
  const ev = raw as Record<string, unknown>;
  const copy: Record<string, unknown> = {};
  for (const k in ev) {
    if (k === '__proto__') {
      // A JSON key, not the prototype: keep it as data.
      Object.defineProperty(copy, k, { value: ev[k], enumerable: true, writable: true, configurable: true });
    } else {
      copy[k] = ev[k];
    }
  }
  return normalizeOwnedEvent(copy, index, ctx);
}

/**
 * normalizeEvent on an object the caller gives away (one JSON.parse made): an activity event is `raw` itself, its
 * fields added in place, in the same order as on a copy. Not a copy on purpose: V8 keeps an object JSON.parse made,
 * with named properties added, in fast mode, where a copy made key by key (`copy[k] = ...`) turns into a dictionary
 * past 16 properties (an event has 30 to 40): every rule reading a field, and every copy of the event (redaction,
 * ~15 µs per event against ~0.6 µs), then pays for a hash lookup per property.
 */
function normalizeOwnedEvent(raw: unknown, index: number, ctx: RecordContext): NormalizedEvent {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return {
      kind: 'rejected',
      rejected: { index, reason: `event ${index} is not a JSON object (got ${describe(raw)})`, raw },
    };
  }
  const ev = raw as Record<string, unknown>;
  const tooDeep = eventDepthProblem(ev);
  if (tooDeep !== undefined) return { kind: 'rejected', rejected: { index, reason: tooDeep, poisonReason: PoisonReason.tooDeep, raw: undefined } };
  const type = ev.type;
  if (type === 'record') {
    const engine = engineOf(ev, ctx.version);
    const event = ev as ActivityEvent;
    // Read before anything is added: a raw field of the same name as an added one is replaced (in its place).
    const logTime = ev.logTime;
    const startTime = ev.startTime;
    const endTime = ev.endTime;
    const rowCount = ev.rowCount;
    const sqlCommand = sqlCommandOf(ev, engine);
    const shape = sqlShapeOf(ev, engine, sqlCommand);
    event.engine = engine;
    event.clusterId = ctx.clusterId;
    event.instanceId = ctx.instanceId;
    event.recordVersion = ctx.version;
    event.logTimeMs = parseDasTime(logTime);
    event.startTimeMs = parseDasTime(startTime);
    event.endTimeMs = parseDasTime(endTime);
    event.rows = rowsOf(rowCount);
    event.sqlCommand = sqlCommand;
    event.sqlHasWhere = shape.hasWhere;
    event.sqlComments = shape.comments;
    return { kind: 'event', event };
  }
  if (type === 'heartbeat') {
    const logTime = typeof ev.logTime === 'string' ? ev.logTime : null;
    return {
      kind: 'heartbeat',
      heartbeat: {
        clusterId: ctx.clusterId,
        instanceId: ctx.instanceId,
        logTime,
        logTimeMs: parseDasTime(logTime),
        raw: ev,
      },
    };
  }
  const reason =
    type === undefined
      ? `event ${index} has no "type" (expected "record" or "heartbeat")`
      : `event ${index} has unknown type ${quoteShort(type)} (expected "record" or "heartbeat")`;
  return { kind: 'rejected', rejected: { index, reason, raw } };
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `a string`;
  return `a ${typeof v}`;
}

const VERSION_ENGINES: Record<string, DbEngine> = {
  '1.0': 'postgresql',
  '1.1': 'postgresql',
  '1.2': 'mysql',
  '1.3': 'oracle',
  '1.4': 'sqlserver',
};

/** Engine from `serverType`, then `serviceName`, then the record version. */
export function engineOf(ev: Record<string, unknown>, version: string | null): DbEngine {
  return (
    engineFromName(ev.serverType) ??
    engineFromName(ev.serviceName) ??
    (version !== null ? VERSION_ENGINES[version] : undefined) ??
    'unknown'
  );
}

function engineFromName(v: unknown): DbEngine | undefined {
  if (typeof v !== 'string') return undefined;
  if (/postgres/i.test(v)) return 'postgresql';
  if (/mysql|mariadb/i.test(v)) return 'mysql';
  if (/oracle/i.test(v)) return 'oracle';
  if (/sql\s*server|mssql/i.test(v)) return 'sqlserver';
  return undefined;
}

const TIME_RE =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$/;

/**
 * A DAS timestamp as epoch milliseconds: "2019-10-30 00:39:49.940668+00" (space, `+00`, microseconds), ISO
 * forms, "+0000", "+00:00", "Z"; no zone means UTC. Sub-millisecond digits are truncated. Null when absent
 * or unparseable.
 */
export function parseDasTime(v: unknown): number | null {
  if (typeof v !== 'string') return null;
  const fast = parseDasTimeFast(v);
  if (fast !== undefined) return fast;
  const m = TIME_RE.exec(v.trim());
  if (m === null) return null;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  const second = m[6] !== undefined ? Number(m[6]) : 0;
  const ms = m[7] !== undefined ? Number(m[7].slice(0, 3).padEnd(3, '0')) : 0;
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return null;
  let t = Date.UTC(year, month - 1, day, hour, minute, second, ms);
  // Date.UTC rolls 2019-02-31 over into March: reject impossible days.
  if (new Date(t).getUTCDate() !== day) return null;
  const zone = m[8];
  if (zone !== undefined && zone !== 'Z' && zone !== 'z') {
    const sign = zone[0] === '-' ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    const oh = Number(digits.slice(0, 2));
    const om = digits.length > 2 ? Number(digits.slice(2, 4)) : 0;
    if (oh > 23 || om > 59) return null;
    t -= sign * (oh * 60 + om) * 60_000;
  }
  return t;
}

const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Digits s[i..i+n) as a number, or -1. */
function num(s: string, i: number, n: number): number {
  let v = 0;
  for (let j = i; j < i + n; j++) {
    const d = s.charCodeAt(j) - 48;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

/**
 * The common shapes without a regex (this runs three times per event): `YYYY-MM-DD[ T]HH:MM:SS[.fff…]`
 * then nothing, `Z`, `+HH`, `+HHMM` or `+HH:MM`. Undefined when the text has another shape (the regex
 * decides), null when it has this shape but impossible values.
 */
function parseDasTimeFast(s: string): number | null | undefined {
  const len = s.length;
  if (len < 19) return undefined;
  const sep = s.charCodeAt(10);
  if (
    s.charCodeAt(4) !== 45 ||
    s.charCodeAt(7) !== 45 ||
    (sep !== 32 && sep !== 84) ||
    s.charCodeAt(13) !== 58 ||
    s.charCodeAt(16) !== 58
  ) {
    return undefined;
  }
  const year = num(s, 0, 4);
  const month = num(s, 5, 2);
  const day = num(s, 8, 2);
  const hour = num(s, 11, 2);
  const minute = num(s, 14, 2);
  const second = num(s, 17, 2);
  if (year < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0) return undefined;
  let i = 19;
  let ms = 0;
  if (i < len && s.charCodeAt(i) === 46) {
    i++;
    const start = i;
    while (i < len && s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 57) i++;
    if (i === start) return undefined;
    for (let j = start, scale = 100; j < start + 3; j++, scale /= 10) {
      if (j < i) ms += (s.charCodeAt(j) - 48) * scale;
    }
  }
  let offsetMin = 0;
  if (i < len) {
    const c = s.charCodeAt(i);
    if (c === 90 && i + 1 === len) {
      // Z
    } else if (c === 43 || c === 45) {
      const rest = len - i - 1;
      const oh = rest >= 2 ? num(s, i + 1, 2) : -1;
      let om: number;
      if (rest === 2) om = 0;
      else if (rest === 4) om = num(s, i + 3, 2);
      else if (rest === 5 && s.charCodeAt(i + 3) === 58) om = num(s, i + 4, 2);
      else return undefined;
      if (oh < 0 || om < 0) return undefined;
      if (oh > 23 || om > 59) return null;
      offsetMin = (c === 45 ? -1 : 1) * (oh * 60 + om);
    } else {
      return undefined;
    }
  }
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return null;
  if (day > (DAYS_IN_MONTH[month - 1] as number)) return null;
  if (month === 2 && day === 29 && !(year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0))) return null;
  return Date.UTC(year, month - 1, day, hour, minute, second, ms) - offsetMin * 60_000;
}

/** `rowCount` as a number: a number or a numeric string; anything else is null. */
export function rowsOf(v: unknown): number | null {
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v === 'string' && /^\s*-?\d+(?:\.\d+)?\s*$/.test(v)) return Number(v);
  return null;
}

/** The `sqlCommand` added field: see ActivityEvent in types.ts. */
function sqlCommandOf(ev: Record<string, unknown>, engine: DbEngine): string | null {
  const command = typeof ev.command === 'string' ? ev.command.trim().toUpperCase() : '';
  if (engine === 'mysql') {
    const cls = typeof ev.class === 'string' ? ev.class.toUpperCase() : '';
    if (cls === 'AUX') return null;
    if (command === 'QUERY') {
      return typeof ev.commandText === 'string' ? leadingCommand(ev.commandText, engine, lexerOptionsOf(ev)) : null;
    }
  }
  return command === '' ? null : command;
}

/** Statements whose WHERE clause `sqlHasWhere` reports. */
const WHERE_COMMANDS: ReadonlySet<string> = new Set(['DELETE', 'UPDATE']);

/** The `sqlHasWhere` and `sqlComments` added fields: see ActivityEvent in types.ts. */
function sqlShapeOf(ev: Record<string, unknown>, engine: DbEngine, sqlCommand: string | null): { hasWhere: boolean | null; comments: number | null } {
  const text = ev.commandText;
  if (typeof text !== 'string' || (engine === 'mysql' && typeof ev.class === 'string' && ev.class.toUpperCase() === 'AUX')) {
    return { hasWhere: null, comments: null };
  }
  const wantsWhere = sqlCommand !== null && WHERE_COMMANDS.has(sqlCommand);
  // Most statements hold no comment opener at all: then there is nothing to count, and lexing is only needed
  // for a DELETE or UPDATE (this runs for every event).
  const mayHaveComments = text.includes('--') || text.includes('/*') || (engine === 'mysql' && text.includes('#'));
  if (!wantsWhere && !mayHaveComments) return NO_SHAPE;
  const shape = statementShape(text, engine, lexerOptionsOf(ev), mayHaveComments);
  return { hasWhere: wantsWhere ? shape.hasWhere : null, comments: shape.comments };
}

const NO_SHAPE = { hasWhere: null, comments: 0 } as const;

const versionOptions = new Map<string, LexerOptions>();

/** MySQL executable comments run by server version: the event's own serverVersion says which (cached per text). */
function lexerOptionsOf(ev: Record<string, unknown>): LexerOptions {
  const sv = ev.serverVersion;
  if (typeof sv !== 'string') return {};
  let opts = versionOptions.get(sv);
  if (opts === undefined) {
    opts = {};
    const version = mysqlVersionOf(sv);
    if (version !== undefined) opts.mysqlVersion = version;
    if (/mariadb/i.test(sv)) opts.mariadb = true;
    // A stream has a handful of versions; a hostile one cannot grow this without bound.
    if (versionOptions.size < 64) versionOptions.set(sv, opts);
  }
  return opts;
}
