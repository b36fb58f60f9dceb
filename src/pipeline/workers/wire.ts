/**
 * What RecordPool (main thread) and recordWorker (worker threads) send each other, and how a record's outcome
 * crosses: structured clone keeps plain data (and shared references inside one message: a MySQL statement half and
 * its events), not functions, class instances or symbol properties. So an outcome goes as a WireOutcome: its alerts
 * with their message parts beside them (MESSAGE_PARTS is a symbol), its correlation base events naming their rules by
 * id, its MySQL statement halves without the evaluator, and (with rules) without the batch's events: only the summary.
 * The main thread rebuilds the rest from the rule set the record was pinned to (fromWire).
 */
import type { PoisonReason } from '../../errors.js';
import { MESSAGE_PARTS, withMessageParts, type MessagePart } from '../../redaction/index.js';
import type { CompiledRule, RuleSet, RuleSourceText } from '../../rules/types.js';
import type { ActivityEvent, BatchSummary, DecodedBatch, RecordPosition } from '../../types.js';
import type { Alert, Redaction } from '../alert.js';
import { eventEvaluator, type BaseEvents, type Quarantined, type RecordOutcome } from '../processRecord.js';
import type { StatementHalf } from '../../codec/mysqlStatements.js';
import type { DecodeRendering } from '../decodedLines.js';

/** Main thread -> worker. Buffers are fresh copies whose memory is transferred. */
export type WorkerRequest =
  /**
   * Compile a rule set from its files under a number (every worker holds the same sets); `parsed`: the main thread's
   * parse of each file (v8.serialize'd; null: parse it here), so the YAML is not parsed again (yamlTree.ts keepParse).
   */
  | { kind: 'rules'; id: number; sources: readonly RuleSourceText[]; parsed: readonly (Uint8Array | null)[] }
  /** Drop a rule set no job will name again. */
  | { kind: 'forget'; id: number }
  /** ESDK message + data key -> the decrypted, gunzipped payload. */
  | { kind: 'decrypt'; id: number; message: Uint8Array; dataKey: Uint8Array }
  /** A sealed record -> its outcome (decrypt, gunzip, parse, normalise, stateless rules of rule set `rules`). */
  | {
      kind: 'record';
      id: number;
      message: Uint8Array;
      dataKey: Uint8Array;
      version: string;
      warnings: string[];
      position: RecordPosition;
      /** The rule set's number, or null: decode only (the batch's events come back, or its `render`ed lines). */
      rules: number | null;
      redaction: Redaction;
      render: DecodeRendering | null;
    };

/** Worker -> main thread: its module loaded ('up'), a rule set compiled, or a job's reply. */
export type WorkerReply = { kind: 'up' } | { kind: 'compiled'; rules: number } | JobReply;

/** A job's reply. */
export type JobReply =
  | { id: number; ok: true; plaintext: Uint8Array }
  | { id: number; ok: true; outcome: WireOutcome }
  | { id: number; ok: false; poison: true; reason: PoisonReason; message: string }
  | { id: number; ok: false; poison: false; name: string; message: string };

export interface WireOutcome {
  position: RecordPosition;
  summary: BatchSummary;
  encrypted: boolean;
  warnings: string[];
  quarantined: Quarantined[];
  alerts: { alert: Alert; parts: readonly MessagePart[] | undefined }[];
  correlating?: WireBaseEvents[];
  mysqlUnjoined?: number;
  evaluationSeconds?: number;
  statements?: { events: readonly ActivityEvent[]; halves: readonly StatementHalf[] };
  /** Decode only (no rules): the batch, events included. */
  batch?: DecodedBatch;
  lines?: string;
}

/**
 * A correlation base event on the wire. For an event that also fired an alert, its redacted copy is the event itself
 * but for a few fields (redactEvent: the statement text, bind values, server messages), so it goes as what differs
 * (`removed`, then `changed` as key, value, key, value...) whenever rebuilding it that way gives the same object (same
 * keys in the same order); else whole. That halves what the main thread deserialises per such event. For an event
 * that only feeds correlations it is the small part their state keeps (shownEvent.ts storedFields): whole.
 */
export interface WireBaseEvents {
  event: ActivityEvent;
  redacted?: Record<string, unknown>;
  removed?: string[];
  changed?: unknown[];
  ruleIds: string[];
  rulesVersion?: string;
}

/** A worker's outcome for the wire; `keepBatch`: decode (the events go back). */
export function toWire(outcome: RecordOutcome, keepBatch: boolean): WireOutcome {
  const w: WireOutcome = {
    position: outcome.position,
    summary: outcome.summary!,
    encrypted: outcome.encrypted,
    warnings: outcome.warnings,
    quarantined: outcome.quarantined,
    alerts: outcome.alerts.map((alert) => ({ alert, parts: alert[MESSAGE_PARTS] })),
  };
  if (outcome.correlating !== undefined) {
    w.correlating = outcome.correlating.map((b) => {
      const wb: WireBaseEvents = { event: b.event, ruleIds: b.rules.map((r) => r.info.id), ...redactedDiff(b.event, b.redacted) };
      if (b.rulesVersion !== undefined) wb.rulesVersion = b.rulesVersion;
      return wb;
    });
  }
  if (outcome.mysqlUnjoined !== undefined) w.mysqlUnjoined = outcome.mysqlUnjoined;
  if (outcome.evaluationSeconds !== undefined) w.evaluationSeconds = outcome.evaluationSeconds;
  if (outcome.statements !== undefined) w.statements = { events: outcome.statements.events, halves: outcome.statements.halves };
  if (keepBatch && outcome.batch !== undefined) w.batch = outcome.batch;
  if (outcome.lines !== undefined) w.lines = outcome.lines;
  return w;
}

/** The outcome again, on the main thread: `rules` and `redaction` are those the record was sent with. */
export function fromWire(w: WireOutcome, rules: RuleSet | undefined, redaction: Redaction): RecordOutcome {
  const outcome: RecordOutcome = {
    position: w.position,
    summary: w.summary,
    encrypted: w.encrypted,
    alerts: w.alerts.map(({ alert, parts }) => (parts === undefined ? alert : withMessageParts(alert, parts))),
    quarantined: w.quarantined,
    warnings: w.warnings,
  };
  if (w.batch !== undefined) outcome.batch = w.batch;
  if (w.lines !== undefined) outcome.lines = w.lines;
  if (w.correlating !== undefined) {
    const byId = correlationsById(rules);
    outcome.correlating = w.correlating.map((b): BaseEvents => ({
      event: b.event,
      redacted: redactedOf(b),
      rules: b.ruleIds.map((id) => {
        const rule = byId.get(id);
        if (rule === undefined) throw new Error(`record worker: correlation rule ${id} is not in the rule set the record was sent with`);
        return rule;
      }),
      ...(b.rulesVersion !== undefined ? { rulesVersion: b.rulesVersion } : {}),
    }));
  }
  if (w.mysqlUnjoined !== undefined) outcome.mysqlUnjoined = w.mysqlUnjoined;
  if (w.evaluationSeconds !== undefined) outcome.evaluationSeconds = w.evaluationSeconds;
  if (w.statements !== undefined) {
    if (rules === undefined) throw new Error('record worker: statement halves came back for a record sent without rules');
    outcome.statements = { events: w.statements.events, halves: w.statements.halves, evaluate: eventEvaluator(rules, redaction) };
  }
  return outcome;
}

/** `redacted` as the fields of `event` it does not have (`removed`) and those it has otherwise (`changed`), or whole. */
export function redactedDiff(event: Record<string, unknown>, redacted: Record<string, unknown>): Pick<WireBaseEvents, 'redacted' | 'removed' | 'changed'> {
  const removed: string[] = [];
  const changed: unknown[] = [];
  const rkeys = Object.keys(redacted);
  let i = 0;
  for (const k of Object.keys(event)) {
    if (!Object.hasOwn(redacted, k)) {
      removed.push(k);
      continue;
    }
    // The rebuilt copy keeps the event's order: redacted must have it too, or it goes whole.
    if (rkeys[i++] !== k) return { redacted };
    if (!Object.is(redacted[k], event[k])) changed.push(k, redacted[k]);
  }
  // Fields the event does not have come after its own in the rebuilt copy, as they do in redacted.
  for (; i < rkeys.length; i++) changed.push(rkeys[i], redacted[rkeys[i]!]);
  const out: Pick<WireBaseEvents, 'removed' | 'changed'> = {};
  if (removed.length > 0) out.removed = removed;
  if (changed.length > 0) out.changed = changed;
  return out;
}

/** The redacted copy of a base event again, from the event and what differs (redactedDiff). */
export function redactedOf(b: { event: Record<string, unknown> } & Pick<WireBaseEvents, 'redacted' | 'removed' | 'changed'>): Record<string, unknown> {
  if (b.redacted !== undefined) return b.redacted;
  const r: Record<string, unknown> = { ...b.event };
  for (const k of b.removed ?? []) delete r[k];
  const changed = b.changed ?? [];
  for (let j = 0; j < changed.length; j += 2) {
    const k = changed[j] as string;
    // A field named __proto__ (the event's JSON may hold one) is an own property, as the clone made it.
    if (k === '__proto__') Object.defineProperty(r, k, { value: changed[j + 1], writable: true, enumerable: true, configurable: true });
    else r[k] = changed[j + 1];
  }
  return r;
}

const byIdCache = new WeakMap<RuleSet, ReadonlyMap<string, CompiledRule>>();

function correlationsById(rules: RuleSet | undefined): ReadonlyMap<string, CompiledRule> {
  if (rules === undefined) return new Map();
  let m = byIdCache.get(rules);
  if (m === undefined) byIdCache.set(rules, (m = new Map((rules.correlations ?? []).map((r) => [r.info.id, r]))));
  return m;
}
