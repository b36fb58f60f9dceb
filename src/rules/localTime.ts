/**
 * Time of day and calendar: the fields a rule reads from an event's time (`logTimeMs`) in an IANA time zone
 * (`hour`, `minute`, `weekday`, `date`, `timeOfDay`), the zone check and the `HH:MM-HH:MM` range of the `between`
 * operator. The fields are computed when a rule reads them, not stored on the event: a rule's zone is its own
 * (`timeZone:` on the rule, else the rule files' `timeZone:`, else UTC), and rules that never read them cost
 * nothing. Intl.DateTimeFormat with an explicit zone ignores the process's TZ, so replay, run and the Lambda give
 * the same values. Intl formatting costs ~6 µs, so it is done per zone and UTC HOUR, not per event: the formatter
 * (one per zone, cached) gives the zone's UTC offset at the hour's first and last minute; when they agree (every hour
 * but the two a year where daylight saving changes) the local time is plain arithmetic on `logTimeMs + offset`;
 * in an hour where they differ, each minute is formatted. Every field has minute resolution and every zone's offset
 * has been a whole number of minutes since 1972, so all the events of one UTC minute share their local time: the
 * last minute per zone is memoised too.
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
  /** UTC hour (epoch ms / 3600000, floored) -> the offset in ms through that hour, or null when it changes in it. */
  offsets: Map<number, number | null>;
  /** The UTC minute (epoch ms / 60000, floored) of `last`. */
  lastMinute: number;
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
    z = { format, offsets: new Map(), lastMinute: NaN, last: undefined };
    zones.set(timeZone, z);
  }
  return z;
}

/** Instants with a local time: years 0002 to 9998 (a day's margin for every zone's offset; Intl refuses some beyond). */
const MIN_MS = Date.parse('0002-01-01T00:00:00Z');
const MAX_MS = Date.parse('9998-12-31T00:00:00Z');

/** The local time of an instant in `timeZone` (checked at load); undefined when `ms` is not a number in range. */
export function localTimeOf(ms: unknown, timeZone: string): LocalTime | undefined {
  if (typeof ms !== 'number' || !(ms >= MIN_MS && ms <= MAX_MS)) return undefined;
  const z = zoneCache(timeZone);
  const minute = Math.floor(ms / 60_000);
  if (z.lastMinute === minute) return z.last;
  const hourKey = Math.floor(minute / 60);
  let offset = z.offsets.get(hourKey);
  if (offset === undefined) {
    const first = offsetAt(z.format, hourKey * 3_600_000);
    offset = first === offsetAt(z.format, hourKey * 3_600_000 + 59 * 60_000) ? first : null;
    if (z.offsets.size >= MAX_CACHED_HOURS) z.offsets.clear();
    z.offsets.set(hourKey, offset);
  }
  const t = offset === null ? formatted(z.format, minute * 60_000) : fromLocalMs(minute * 60_000 + offset);
  z.lastMinute = minute;
  z.last = t;
  return t;
}

/** Hours of offsets kept per zone (about six weeks of events); past it the cache starts again. */
const MAX_CACHED_HOURS = 1024;
const WEEKDAY_OF_UTC_DAY = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;

function two(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** The local time from "local epoch ms" (the instant shifted by the zone's offset), read as UTC. */
function fromLocalMs(localMs: number): LocalTime {
  const d = new Date(localMs);
  const hour = d.getUTCHours();
  const minute = d.getUTCMinutes();
  return {
    hour,
    minute,
    weekday: WEEKDAY_OF_UTC_DAY[d.getUTCDay()] as string,
    date: `${String(d.getUTCFullYear()).padStart(4, '0')}-${two(d.getUTCMonth() + 1)}-${two(d.getUTCDate())}`,
    timeOfDay: `${two(hour)}:${two(minute)}`,
  };
}

/** The zone's offset (ms) at a whole-minute instant. */
function offsetAt(format: Intl.DateTimeFormat, ms: number): number {
  const t = formatted(format, ms);
  const [y, mo, d] = t.date.split('-').map(Number) as [number, number, number];
  const local = new Date(0);
  local.setUTCFullYear(y, mo - 1, d); // not Date.UTC: it reads years 0-99 as 1900-1999
  local.setUTCHours(t.hour, t.minute, 0, 0);
  return local.getTime() - ms;
}

/** The local time as Intl formats it (the reference the arithmetic follows). */
function formatted(format: Intl.DateTimeFormat, ms: number): LocalTime {
  let year = '', month = '', day = '', hh = '', mm = '', wd = '';
  for (const p of format.formatToParts(ms)) {
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
  return {
    hour: Number(hh),
    minute: Number(mm),
    weekday: wd.toLowerCase(),
    date: `${year.padStart(4, '0')}-${month}-${day}`,
    timeOfDay: `${hh}:${mm}`,
  };
}

/**
 * One computed field of an activity event in a zone (undefined when its `logTimeMs` is not usable). An event
 * without `logTimeMs` is not an activity event: an RDS event's own `date` (DescribeEvents' Date) is its field, not
 * a local date to compute.
 */
export function localTimeField(event: Record<string, unknown>, field: LocalTimeField, timeZone: string): unknown {
  if (!Object.hasOwn(event, 'logTimeMs')) return event[field];
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
