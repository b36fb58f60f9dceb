/**
 * The one duration grammar of dasguard: every flag, config file and environment variable that takes a length
 * of time reads it here. A duration is a number and a unit: `500ms`, `1.5s`, `30s`, `10m`, `1h` (a fraction is
 * allowed; the result is rounded to whole milliseconds). A bare number is refused: `60` could be seconds or
 * milliseconds, and a wrong guess is silent.
 */

/** The JSON Schema pattern for a duration (schema/*.json, editor completion). */
export const DURATION_PATTERN = '^[0-9]+(\\.[0-9]+)?(ms|s|m|h)$';
/** Shown next to a refused duration. */
export const DURATION_HINT = 'a duration such as 500ms, 1.5s, 30s, 10m or 1h';

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;
const DURATION_RE = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)$/;

/** Milliseconds, or undefined when `text` is not a duration (the caller names where it came from). */
export function parseDuration(text: string): number | undefined {
  const m = DURATION_RE.exec(text.trim());
  if (!m) return undefined;
  const ms = Math.round(Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS]);
  return Number.isSafeInteger(ms) ? ms : undefined;
}

/**
 * Why `text` is not an acceptable duration (undefined when it is), for a message that names its source:
 * `--poll-interval: ${problem}`. `min` is the smallest accepted value in ms (default 1: zero is refused).
 */
export function durationProblem(text: string, min = 1): string | undefined {
  const ms = parseDuration(text);
  if (ms === undefined) {
    const bare = /^[0-9]+(\.[0-9]+)?$/.test(text.trim());
    return `must be ${DURATION_HINT}; got "${text}"${bare ? ` (add a unit: ${text.trim()}s for seconds)` : ''}`;
  }
  if (ms < min) return `must be at least ${formatMs(min)}; got "${text}"`;
  return undefined;
}

function formatMs(ms: number): string {
  for (const unit of ['h', 'm', 's'] as const) {
    if (ms % UNIT_MS[unit] === 0) return `${ms / UNIT_MS[unit]}${unit}`;
  }
  return `${ms}ms`;
}
