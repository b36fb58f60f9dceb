/**
 * What an alert may carry to a sink, per route: `literals` (default) masks SQL literals and bind values,
 * `full` removes the statement and bind values, `none` passes what the pipeline produced. Secrets (webhook URLs,
 * header values) are masked in every message dasguard prints.
 */
import { redactParams, redactSql } from '../redact.js';
import type { DbEngine } from '../types.js';
import type { RouteRedaction } from './configSchema.js';
import type { DeliveredAlert } from './types.js';

/** Event fields holding SQL text / bind values (DAS commandText, paramList; Oracle and SQL Server native audit). */
const SQL_FIELDS = ['commandText'] as const;
const PARAM_FIELDS = ['paramList'] as const;
const NATIVE_SQL = ['SQL_TEXT', 'statement'] as const;
const NATIVE_PARAMS = ['SQL_BINDS'] as const;
/** Never in an alert, whatever the route says. */
const NEVER = ['key', 'databaseActivityEvents', 'dataKey', 'raw'] as const;

export function redactForRoute<A extends DeliveredAlert>(alert: A, mode: RouteRedaction): A {
  const event: Record<string, unknown> = { ...alert.event };
  for (const k of NEVER) delete event[k];
  if (mode !== 'none') {
    const engine = (typeof event.engine === 'string' ? event.engine : 'unknown') as DbEngine;
    const native = isRecord(event.engineNativeAuditFields) ? { ...event.engineNativeAuditFields } : undefined;
    if (mode === 'full') {
      for (const k of [...SQL_FIELDS, ...PARAM_FIELDS]) delete event[k];
      if (native) for (const k of [...NATIVE_SQL, ...NATIVE_PARAMS]) delete native[k];
    } else {
      for (const k of SQL_FIELDS) if (typeof event[k] === 'string') event[k] = redactSql(event[k], engine);
      for (const k of PARAM_FIELDS) if (event[k] !== undefined && event[k] !== null) event[k] = redactParams(event[k]);
      if (native) {
        for (const k of NATIVE_SQL) if (typeof native[k] === 'string') native[k] = redactSql(native[k], engine);
        for (const k of NATIVE_PARAMS) if (native[k] !== undefined && native[k] !== null) native[k] = redactParams(native[k]);
      }
    }
    if (native) event.engineNativeAuditFields = native;
  }
  return { ...alert, event };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `https://hooks.slack.com/***`: scheme and host only (the path and query of a webhook URL are the secret). */
export function maskUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}/***`;
  } catch {
    return '***';
  }
}

/** `text` with every secret (and the path of every URL among them) replaced by `***`. */
export function maskSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of [...secrets].sort((a, b) => b.length - a.length)) {
    if (s.length < 4) continue;
    out = out.split(s).join(/^https?:\/\//.test(s) ? maskUrl(s) : '***');
    if (/^https?:\/\//.test(s)) {
      try {
        const u = new URL(s);
        const tail = u.pathname + u.search;
        if (tail.length > 3) out = out.split(tail).join('/***');
      } catch {
        // not a URL after all: the whole value was masked above
      }
    }
  }
  return out;
}
