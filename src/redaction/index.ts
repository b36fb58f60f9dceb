/**
 * The one redaction policy (WORK IN PROGRESS: this first version only fixes the API; the table and the
 * lexer-based masking land next). Every output that can carry event data (alerts, templates, routes, decode,
 * logs, the outbox, suppression digests) goes through these functions.
 *
 * - `none`: values as the database wrote them;
 * - `literals` (default): SQL literals and comment text masked, bind values masked, quoted values and numbers in
 *   server messages masked;
 * - `full`: no statement text, bind values, comments or server message text at all.
 */
import { redactParams, redactSql } from '../redact.js';
import type { DbEngine } from '../types.js';

export const REDACTION_MODES = ['none', 'literals', 'full'] as const;
export type RedactionMode = (typeof REDACTION_MODES)[number];

const STRICTNESS: Record<RedactionMode, number> = { none: 0, literals: 1, full: 2 };

/** The stricter of two modes. */
export function stricter(a: RedactionMode, b: RedactionMode): RedactionMode {
  return STRICTNESS[a] >= STRICTNESS[b] ? a : b;
}

/** What replaces a sensitive value under `full`. */
export const REMOVED = '[redacted]';

/**
 * One field's value under `mode`. `path` is the field's dotted path in an activity event (`commandText`,
 * `engineNativeAuditFields.SQL_TEXT`); fields that carry no statement text, binds or messages come back unchanged.
 */
export function redactField(path: string, value: unknown, engine: DbEngine, mode: RedactionMode): unknown {
  if (mode === 'none' || value === null || value === undefined) return value;
  if (path === 'commandText' || path === 'engineNativeAuditFields.SQL_TEXT' || path === 'engineNativeAuditFields.statement') {
    if (mode === 'full') return REMOVED;
    return typeof value === 'string' ? redactSql(value, engine) : value;
  }
  if (path === 'paramList' || path === 'engineNativeAuditFields.SQL_BINDS') {
    if (mode === 'full') return REMOVED;
    return redactParams(value);
  }
  return value;
}
