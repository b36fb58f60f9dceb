/**
 * The one rule for an alert too large as JSON, used when the alert is built (MAX_ALERT_BYTES: no alert can
 * overwhelm the outbox, a log line or a terminal) and again by a sink with a smaller budget of its own (SNS).
 * Until the JSON fits, in this order: the event's `commandText` is cut (`…[truncated]`) and the alert says
 * `truncated: true`; `paramList` is replaced by a note; the event keeps only who/where fields (strings cut to
 * 1,024 characters); the message and description are cut. The alert is never dropped: it still says which rule
 * fired, on which cluster, for whom.
 */
import { MAX_ALERT_BYTES } from '../limits.js';

/** The fields of an alert (pipeline/alert.ts `Alert`) this rule reads and shortens: named here, not imported, so
 *  alert.ts and this module do not import each other. */
export interface SizedAlert {
  description: string;
  runbook?: string;
  message: string;
  event: Record<string, unknown>;
  truncated?: boolean;
}

const MARKER = '…[truncated]';
/** What the event keeps when cutting the statement and the bind values was not enough. */
const WHO_AND_WHERE = ['engine', 'clusterId', 'instanceId', 'class', 'dbUserName', 'remoteHost', 'databaseName', 'objectName', 'command', 'sqlCommand', 'logTime'];

/** The alert (a shortened copy when it had to be) and its JSON, at most `limit` bytes of UTF-8 for any limit of a
 *  few KiB or more. The alert given is not modified. */
export function fitAlert<A extends SizedAlert>(alert: A, limit: number = MAX_ALERT_BYTES): { alert: A; json: string } {
  let json = JSON.stringify(alert);
  let over = Buffer.byteLength(json) - limit;
  if (over <= 0) return { alert, json };

  const event: Record<string, unknown> = { ...alert.event };
  const out: A = { ...alert, event, truncated: true };
  const sql = event.commandText;
  if (typeof sql === 'string' && sql.length > 0) {
    // Bytes of JSON per character of the statement turn the excess into characters to cut; the JSON is measured
    // again after each cut (escapes are not spread evenly), so a few rounds at most.
    const perChar = Math.max(1, (Buffer.byteLength(JSON.stringify(sql)) - 2) / sql.length);
    let keep = sql.length;
    for (let round = 0; round < 8 && over > 0 && keep > 0; round++) {
      keep = Math.max(0, keep - Math.ceil(over / perChar) - MARKER.length - 16);
      event.commandText = cut(sql, keep) + MARKER;
      json = JSON.stringify(out);
      over = Buffer.byteLength(json) - limit;
    }
    if (over <= 0) return { alert: out, json };
  }
  if (event.paramList !== undefined && event.paramList !== null) {
    event.paramList = '[removed: too large]';
    json = JSON.stringify(out);
    if (Buffer.byteLength(json) <= limit) return { alert: out, json };
  }
  out.event = Object.fromEntries(
    WHO_AND_WHERE.filter((k) => k in event).map((k) => [k, typeof event[k] === 'string' ? cut(event[k], 1024) : event[k]]),
  );
  json = JSON.stringify(out);
  if (Buffer.byteLength(json) <= limit) return { alert: out, json };
  out.message = cut(out.message, 4096);
  out.description = cut(out.description, 1024);
  if (out.runbook !== undefined) out.runbook = cut(out.runbook, 1024);
  return { alert: out, json: JSON.stringify(out) };
}

/** `s` cut to its first `n` characters followed by `…[truncated]` when longer (what a statement cut to size shows). */
export function cutText(s: string, n: number): string {
  return s.length <= n ? s : cut(s, n) + MARKER;
}

/** The first `n` characters of `s`, never ending in half a surrogate pair. */
function cut(s: string, n: number): string {
  if (s.length <= n) return s;
  const end = n > 0 && s.charCodeAt(n - 1) >= 0xd800 && s.charCodeAt(n - 1) <= 0xdbff ? n - 1 : n;
  return s.slice(0, end);
}
