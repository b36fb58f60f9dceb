/**
 * The one redaction policy. Every output that can carry event data goes through it: alert events and messages
 * (src/pipeline/alert.ts), message templates (src/rules/template.ts), every delivery route, `decode`, log lines and
 * the outbox. Which fields carry what is one table, in src/rules/fields.ts (`carries`); this module only decides
 * what each mode does with each kind:
 *
 * | mode               | statement text (`sql`)          | bind values | server messages            | values a user set |
 * | `none`             | as written                      | as written  | as written                 | as written        |
 * | `literals` default | literals and comment text -> ?  | each -> ?   | quoted parts, numbers -> ? | -> ?              |
 * | `full`             | removed                         | removed     | removed                    | removed           |
 *
 * In events, `full` deletes the field; in a rendered message it shows `[redacted]`. Masking is idempotent, so an
 * output may always apply a stricter mode to what the pipeline already redacted (a route's `full` over the
 * pipeline's `literals`), never a looser one: `none` on a route cannot undo the pipeline's masking.
 */
import { ACTIVITY_FIELD_SPECS, NATIVE_AUDIT_CARRIES, type Carries } from '../rules/fields.js';
import type { DbEngine } from '../types.js';
import { maskMessage } from './message.js';
import { maskBinds, maskSql } from './sql.js';
import { fieldReader, type FieldReader } from '../util/fieldReader.js';

export { maskSql, maskBinds } from './sql.js';
export { maskMessage } from './message.js';

export const REDACTION_MODES = ['none', 'literals', 'full'] as const;
export type RedactionMode = (typeof REDACTION_MODES)[number];

const STRICTNESS: Record<RedactionMode, number> = { none: 0, literals: 1, full: 2 };

/** The stricter of two modes. */
export function stricter(a: RedactionMode, b: RedactionMode): RedactionMode {
  return STRICTNESS[a] >= STRICTNESS[b] ? a : b;
}

/** The looser of two modes. */
export function looser(a: RedactionMode, b: RedactionMode): RedactionMode {
  return STRICTNESS[a] <= STRICTNESS[b] ? a : b;
}

/** What a sensitive value shows under `full` in rendered text. */
export const REMOVED = '[redacted]';

/** The object field whose keys are looked up in NATIVE_AUDIT_CARRIES. */
const NATIVE = 'engineNativeAuditFields';

/** Top-level activity fields that carry something, from the field table. */
const TOP: ReadonlyMap<string, Carries> = new Map(
  Object.entries(ACTIVITY_FIELD_SPECS).flatMap(([name, spec]) => (spec.carries ? [[name, spec.carries] as const] : [])),
);

/** Never in any output, whatever the mode: envelope and key material (an event never holds them; a bug might). */
const NEVER: readonly string[] = ['key', 'databaseActivityEvents', 'dataKey'];

/**
 * What a field of an activity event carries: a kind, `nested` for an object some of whose keys carry something
 * (`engineNativeAuditFields`), or undefined. `path` is dotted: `commandText`, `engineNativeAuditFields.SQL_TEXT`.
 */
export function carriesOf(path: string): Carries | 'nested' | undefined {
  const top = TOP.get(path);
  if (top !== undefined) return top;
  if (path === NATIVE) return 'nested';
  if (path.startsWith(`${NATIVE}.`)) return NATIVE_AUDIT_CARRIES[path.slice(NATIVE.length + 1)];
  return undefined;
}

/** Context a value is masked in: the engine decides the SQL dialect; serverVersion MySQL's executable comments. */
export interface RedactionContext {
  engine: DbEngine;
  serverVersion?: unknown;
}

/** A value of kind `kind` under `literals` (for `full`, callers remove it; for `none`, they keep it). */
function maskValue(kind: Carries, value: unknown, ctx: RedactionContext): unknown {
  if (value === null || value === undefined) return value;
  switch (kind) {
    case 'sql':
      return typeof value === 'string' ? maskSql(value, ctx.engine, { serverVersion: ctx.serverVersion }) : maskBinds(value);
    case 'message':
      return typeof value === 'string' ? maskMessage(value) : maskBinds(value);
    case 'binds':
    case 'value':
      return maskBinds(value);
  }
}

/**
 * One field's value under `mode`, for rendering (templates, digests): `full` gives REMOVED for a sensitive value;
 * an object with sensitive keys comes back with those keys redacted; other fields come back unchanged.
 */
export function redactField(path: string, value: unknown, ctxOrEngine: RedactionContext | DbEngine, mode: RedactionMode): unknown {
  if (mode === 'none' || value === null || value === undefined) return value;
  const kind = carriesOf(path);
  if (kind === undefined) return value;
  const ctx = typeof ctxOrEngine === 'string' ? { engine: ctxOrEngine } : ctxOrEngine;
  if (kind === 'nested') return isRecord(value) ? redactNative(value, ctx, mode) : value;
  return mode === 'full' ? REMOVED : maskValue(kind, value, ctx);
}

/**
 * A copy of an event with every sensitive field redacted under `mode` (`full` deletes them). Events without
 * sensitive fields are returned as a shallow copy. Works on activity events and on the facts of other alerts
 * (they hold none of these fields).
 */
export function redactEvent<E extends Record<string, unknown>>(event: E, mode: RedactionMode): E {
  const copy: Record<string, unknown> = { ...event };
  for (const k of NEVER) delete copy[k];
  if (mode === 'none') return copy as E;
  const ctx = contextOf(event);
  for (const [name, kind] of TOP) {
    const v = copy[name];
    if (v === undefined) continue;
    if (mode === 'full') delete copy[name];
    else copy[name] = maskValue(kind, v, ctx);
  }
  const native = copy[NATIVE];
  if (isRecord(native)) copy[NATIVE] = redactNative(native, ctx, mode);
  return copy as E;
}

/**
 * redactEvent of the projection of `event` on the fields of `fieldLists` (those it has), built without copying the
 * rest of the event: what a correlation's state keeps of an event that only feeds it (src/rules/shownEvent.ts
 * storedFields). The same object redactEvent gives that projection: a plain object, `full` leaving sensitive fields
 * out, a field named `__proto__` an own field. A field in two lists is redacted twice, the same.
 */
export function redactProjection(event: Record<string, unknown>, fieldLists: readonly (readonly string[])[], mode: RedactionMode): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const ctx = mode === 'none' ? undefined : contextOf(event);
  const fields = projectionOf(fieldLists);
  for (let i = 0; i < fields.length; i++) {
    const { name, kind, read, inherited } = fields[i] as ProjectedField;
    // One named load per field (fieldReader); its own property only: an undefined value, or a name Object.prototype
    // has, is looked up as such (an event from JSON holds no undefined, and no field named like those).
    let v = read(event);
    if ((v === undefined || inherited) && !Object.hasOwn(event, name)) continue;
    if (ctx !== undefined && v !== undefined && kind !== undefined) {
      if (kind === 'nested') {
        if (isRecord(v)) v = redactNative(v, ctx, mode);
      } else {
        if (mode === 'full') continue;
        v = maskValue(kind, v, ctx);
      }
    }
    if (name === '__proto__') Object.defineProperty(out, name, { value: v, enumerable: true, writable: true, configurable: true });
    else out[name] = v;
  }
  return out;
}

/** A field as redactProjection reads it: what it carries, its reader, and whether Object.prototype has one so named. */
interface ProjectedField {
  name: string;
  kind: Carries | 'nested' | undefined;
  read: FieldReader;
  inherited: boolean;
}

/**
 * Field lists as redactProjection reads them, one after the other (a field in two, twice): NEVER's fields left out,
 * each field's kind and reader found once per list of lists (storedFields gives the same lists for the same rules).
 */
const projections = new WeakMap<readonly (readonly string[])[], readonly ProjectedField[]>();

function projectionOf(fieldLists: readonly (readonly string[])[]): readonly ProjectedField[] {
  let p = projections.get(fieldLists);
  if (p === undefined) {
    p = fieldLists.flatMap((fields) =>
      fields.filter((f) => !NEVER.includes(f)).map((name) => ({ name, kind: name === NATIVE ? ('nested' as const) : TOP.get(name), read: fieldReader(name), inherited: name in Object.prototype })),
    );
    projections.set(fieldLists, p);
  }
  return p;
}

function redactNative(native: Record<string, unknown>, ctx: RedactionContext, mode: RedactionMode): Record<string, unknown> {
  const out: Record<string, unknown> = { ...native };
  for (const [key, kind] of Object.entries(NATIVE_AUDIT_CARRIES)) {
    const v = out[key];
    if (v === undefined) continue;
    if (mode === 'full') delete out[key];
    else out[key] = maskValue(kind, v, ctx);
  }
  return out;
}

const ENGINES: ReadonlySet<string> = new Set(['postgresql', 'mysql', 'oracle', 'sqlserver']);

/** The masking context of an event: its engine (unknown when absent or odd) and serverVersion. */
export function contextOf(event: Record<string, unknown>): RedactionContext {
  const e = event.engine;
  const engine = (typeof e === 'string' && ENGINES.has(e) ? e : 'unknown') as DbEngine;
  return event.serverVersion === undefined ? { engine } : { engine, serverVersion: event.serverVersion };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// ---------------------------------------------------------------------------------------------------------------
// Messages: rendered from parts, so that a stricter mode can render them again.

/** A piece of a message: literal text, or the value of an event field (already redacted at the pipeline's mode). */
export type MessagePart = string | { field: string; value: unknown };

/** The longest a rendered value may be; longer values are cut with an ellipsis. */
const MAX_VALUE_CHARS = 1000;

/**
 * The message of `parts` under `mode`: each field value redacted (`full`: REMOVED for sensitive ones), objects and
 * lists as JSON, null and absent values as nothing, each value cut at MAX_VALUE_CHARS.
 */
export function renderMessage(parts: readonly MessagePart[], ctx: RedactionContext, mode: RedactionMode): string {
  let out = '';
  for (const p of parts) out += typeof p === 'string' ? p : show(redactField(p.field, cutValue(p.value), ctx, mode));
  return out;
}

/**
 * A string value cut at MAX_VALUE_CHARS BEFORE it is masked, so a megabyte statement costs a kilobyte of masking.
 * Safe: the maskers treat an unterminated literal, comment or quote as running to the end, so a cut never frees
 * half a secret.
 */
function cutValue(v: unknown): unknown {
  return typeof v === 'string' ? cut(v) : v;
}

function show(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return cut(v);
  // Events come from JSON: no cycles, no bigint.
  if (typeof v === 'object') return cut(JSON.stringify(v));
  return String(v);
}

function cut(s: string): string {
  return s.length > MAX_VALUE_CHARS ? s.slice(0, MAX_VALUE_CHARS) + '…' : s;
}

/**
 * Where an alert keeps its message parts: a non-enumerable symbol property (withMessageParts), so JSON never writes
 * them, comparisons ignore them and a spread copy (`{...alert, message}`) does not carry stale parts along.
 */
export const MESSAGE_PARTS: unique symbol = Symbol('dasguard.messageParts');

/** `alert` with its message parts attached (see MESSAGE_PARTS). */
export function withMessageParts<A extends object>(alert: A, parts: readonly MessagePart[]): A {
  Object.defineProperty(alert, MESSAGE_PARTS, { value: parts, enumerable: false, writable: false, configurable: true });
  return alert;
}

export interface RedactableAlert {
  message: string;
  event: Record<string, unknown>;
  [MESSAGE_PARTS]?: readonly MessagePart[];
}

/**
 * A copy of an alert under `mode`, which must be at least as strict as the one it was built with: its event
 * redacted, its message rendered again from its parts (an alert without parts keeps its message: health and RDS
 * event alerts quote no statement text).
 */
/**
 * The keys under which an alert's event carries whole activity events of its own: a correlation alert's first and
 * last contributing events (src/pipeline/alert.ts buildCorrelationAlert builds them under these names). Each is
 * redacted as an event, so a route stricter than the pipeline (`full`) removes their statement text too.
 */
export const CONTRIBUTING_EVENTS = ['first', 'last'] as const;

export function redactAlert<A extends RedactableAlert>(alert: A, mode: RedactionMode): A {
  const event = redactEvent(alert.event, mode);
  for (const k of CONTRIBUTING_EVENTS) {
    const nested = event[k];
    if (isRecord(nested)) (event as Record<string, unknown>)[k] = redactEvent(nested, mode);
  }
  const out = { ...alert, event };
  const parts = alert[MESSAGE_PARTS];
  if (parts !== undefined && mode !== 'none') out.message = renderMessage(parts, contextOf(alert.event), mode);
  return out;
}

/** The parts with their values redacted under `mode` (what an alert keeps, so a later pass can only be stricter). */
export function redactParts(parts: readonly MessagePart[], ctx: RedactionContext, mode: RedactionMode): MessagePart[] {
  if (mode === 'none') return [...parts];
  return parts.map((p) => (typeof p === 'string' ? p : { field: p.field, value: redactField(p.field, cutValue(p.value), ctx, mode) }));
}
