/**
 * Time of day and calendar: the fields a rule reads from an event's time (`logTimeMs`) in an IANA time zone
 * (`hour`, `minute`, `weekday`, `date`, `timeOfDay`), the zone check and the `HH:MM-HH:MM` range of the `between`
 * operator. The fields are computed when a rule reads them, not stored on the event: a rule's zone is its own
 * (`timeZone:` on the rule, else the rule files' `timeZone:`, else UTC), and rules that never read them cost
 * nothing. Intl.DateTimeFormat with an explicit zone ignores the process's TZ, so replay, run and the Lambda give
 * the same values. One formatter per zone, cached; the last instant per zone is memoised, so several of these fields
 * in one rule (or in rules of one zone) format the event once.
 */
import { didYouMean } from '../config/didYouMean.js';

/** The computed fields and what each holds. `weekday` is mon..sun; `date` is YYYY-MM-DD; `timeOfDay` is HH:MM. */
export const LOCAL_TIME_FIELDS = ['hour', 'minute', 'weekday', 'date', 'timeOfDay'] as const;
export type LocalTimeField = (typeof LOCAL_TIME_FIELDS)[number];
export const DEFAULT_TIME_ZONE = 'UTC';
/** The values of `weekday`, Monday first (ISO 8601). */
export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;

export interface LocalTime {
  hour: number;
  minute: number;
  weekday: string;
  date: string;
  timeOfDay: string;
}

const LOCAL_TIME_SET: ReadonlySet<string> = new Set(LOCAL_TIME_FIELDS);
export function isLocalTimeField(name: string): name is LocalTimeField {
  return LOCAL_TIME_SET.has(name);
}

interface ZoneCache {
  format: Intl.DateTimeFormat;
  lastMs: number;
  last: LocalTime | undefined;
}
const zones = new Map<string, ZoneCache>();

function zoneCache(timeZone: string): ZoneCache {
  let z = zones.get(timeZone);
  if (z === undefined) {
    const format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      weekday: 'short',
    });
    z = { format, lastMs: NaN, last: undefined };
    zones.set(timeZone, z);
  }
  return z;
}

/** The local time of an instant in `timeZone` (checked at load); undefined when `ms` is not a finite number. */
export function localTimeOf(ms: unknown, timeZone: string): LocalTime | undefined {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return undefined;
  const z = zoneCache(timeZone);
  if (z.lastMs === ms) return z.last;
  let year = '', month = '', day = '', hh = '', mm = '', wd = '';
  for (const p of z.format.formatToParts(ms)) {
    switch (p.type) {
      case 'year': year = p.value; break;
      case 'month': month = p.value; break;
      case 'day': day = p.value; break;
      case 'hour': hh = p.value; break;
      case 'minute': mm = p.value; break;
      case 'weekday': wd = p.value; break;
      default: break;
    }
  }
  const t: LocalTime = {
    hour: Number(hh),
    minute: Number(mm),
    weekday: wd.toLowerCase(),
    date: `${year.padStart(4, '0')}-${month}-${day}`,
    timeOfDay: `${hh}:${mm}`,
  };
  z.lastMs = ms;
  z.last = t;
  return t;
}

/** One computed field of an event in a zone (undefined when the event has no usable `logTimeMs`). */
export function localTimeField(event: Record<string, unknown>, field: LocalTimeField, timeZone: string): unknown {
  return localTimeOf(event.logTimeMs, timeZone)?.[field];
}

let supported: ReadonlySet<string> | undefined;
/** The IANA zone names this Node knows (Intl.supportedValuesOf), plus UTC. */
export function timeZoneNames(): ReadonlySet<string> {
  supported ??= new Set([...Intl.supportedValuesOf('timeZone'), 'UTC']);
  return supported;
}

/**
 * Whether `name` is an IANA time zone: a canonical name (Intl.supportedValuesOf), UTC, or an Area/Location alias
 * the runtime accepts (Asia/Calcutta). Abbreviations and offsets (CET, EST, +01:00) are refused: they do not follow
 * daylight saving the way the place does.
 */
export function isTimeZone(name: string): boolean {
  if (timeZoneNames().has(name)) return true;
  if (!/^[A-Za-z]+(?:\/[A-Za-z0-9_+-]+)+$/.test(name)) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

/** Why `name` is not an IANA time zone (with a did-you-mean), or undefined when it is one. */
export function timeZoneProblem(name: unknown): string | undefined {
  if (typeof name === 'string' && isTimeZone(name)) return undefined;
  const hint = typeof name === 'string' ? didYouMean(name, timeZoneNames()) : '';
  return `'timeZone' must be an IANA time zone such as UTC, Europe/Paris or America/New_York, got ${JSON.stringify(name)}${hint}`;
}

/** The value of `between`: local times HH:MM, `from` inclusive, `to` exclusive; `from > to` wraps midnight. */
export interface TimeRange {
  from: string;
  to: string;
}

const RANGE_RE = /^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$/;

/** `"22:00-06:00"` -> {from, to}, or the reason it is not a range. */
export function parseTimeRange(text: string): TimeRange | string {
  const m = RANGE_RE.exec(text.replace(/\s+/g, ''));
  if (m === null) return `a time range is HH:MM-HH:MM with 00:00..23:59 on each side (e.g. "22:00-06:00"), got ${JSON.stringify(text)}`;
  const from = `${m[1]}:${m[2]}`;
  const to = `${m[3]}:${m[4]}`;
  if (from === to) return `the range ${JSON.stringify(text)} is empty (start and end are equal: the start is included, the end is not)`;
  return { from, to };
}

/** Whether an HH:MM text lies in the range (zero-padded HH:MM texts order as the times do). */
export function inTimeRange(time: string, r: TimeRange): boolean {
  return r.from < r.to ? time >= r.from && time < r.to : time >= r.from || time < r.to;
}
