/**
 * The one duration grammar of dasguard: every flag and config key that takes a length of time reads it here
 * (the `run` and `watch` intervals, `--silence`, dasguard.yaml's suppression `window`). A duration is a number and
 * a unit: `500ms`, `1.5s`, `30s`, `10m`, `1h`, `7d` (a day is 24h, as event time counts it; a fraction is allowed;
 * the result is rounded to whole milliseconds). A bare number is refused: `60` could be seconds or milliseconds, and a wrong guess is silent.
 * The keys whose name carries their unit take a whole number in it instead: dasguard.yaml's `timeoutMs`,
 * `initialBackoffMs`, `maxBackoffMs` and `drainTimeoutMs` (src/delivery/configSchema.ts) are milliseconds. No
 * Lambda environment variable takes a duration.
 */

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
type Unit = keyof typeof UNIT_MS;
const NUMBER = '[0-9]+(\\.[0-9]+)?';

/** The JSON Schema pattern for a duration (schema/*.json, editor completion); parseDuration reads the same. */
export const DURATION_PATTERN = `^${NUMBER}(${Object.keys(UNIT_MS).join('|')})$`;
/** Shown next to a refused duration. */
export const DURATION_HINT = 'a duration such as 500ms, 1.5s, 30s, 10m, 1h or 7d';

const DURATION_RE = new RegExp(DURATION_PATTERN);
const BARE_NUMBER_RE = new RegExp(`^${NUMBER}$`);

/** Milliseconds, or undefined when `text` is not a duration (the caller names where it came from). */
export function parseDuration(text: string): number | undefined {
  const t = text.trim();
  const unit = DURATION_RE.exec(t)?.[2] as Unit | undefined; // group 1 is NUMBER's fraction, 2 the unit
  if (unit === undefined) return undefined;
  const ms = Math.round(Number(t.slice(0, -unit.length)) * UNIT_MS[unit]);
  return Number.isSafeInteger(ms) ? ms : undefined;
}

/**
 * Why `text` is not an acceptable duration (undefined when it is), for a message that names its source:
 * `--poll-interval ${problem}`. `min` is the smallest accepted value in ms (default 1: zero is refused). A bare
 * number gets a hint that is itself accepted: the number in seconds, or else the least accepted value.
 */
export function durationProblem(text: string, min = 1): string | undefined {
  const ms = parseDuration(text);
  if (ms === undefined) {
    const t = text.trim();
    const hint = !BARE_NUMBER_RE.test(t)
      ? ''
      : (parseDuration(`${t}s`) ?? -1) >= min
        ? ` (add a unit: ${t}s for seconds)`
        : ` (add a unit; the least accepted is ${formatMs(min)})`;
    return `must be ${DURATION_HINT}; got "${text}"${hint}`;
  }
  if (ms < min) return `must be at least ${formatMs(min)}; got "${text}"`;
  return undefined;
}

/** `ms` in the largest unit that divides it: 60000 -> `1m`, 1500 -> `1500ms`. */
export function formatMs(ms: number): string {
  for (const unit of ['h', 'm', 's'] as const) {
    if (ms % UNIT_MS[unit] === 0) return `${ms / UNIT_MS[unit]}${unit}`;
  }
  return `${ms}ms`;
}
