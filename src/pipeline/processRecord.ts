/**
 * The one path every record takes, whatever its source (file replay, the live consumer, Lambda):
 * source record -> decode (envelope, key, decrypt, gunzip, parse, normalise) -> rules -> alerts.
 * A poison record (one that can never be processed) is returned as quarantined, never thrown; a transient or
 * configuration failure is thrown, so the caller retries or stops without skipping the record (a DataKeyError
 * names the record's position). Its caller is the record driver (runRecords.ts), which every source goes through.
 */
import { decryptAndGunzip, openRecord, unsealedBatch, type DecodeContext, type SealedPayload } from '../codec/decode.js';
import { DataKeyError, PoisonReason, PoisonRecordError } from '../errors.js';
import type { KeyProvider } from '../keys/KeyProvider.js';
import type { CompiledRule, RuleSet } from '../rules/index.js';
import type { ActivityEvent, BatchSummary, DecodedBatch, RecordPosition, SourceRecord } from '../types.js';
import { formatPosition, summarizeBatch } from '../types.js';
import { buildAlert, type Alert, type Redaction } from './alert.js';
import { redactEvent, redactProjection } from '../redaction/index.js';
import { storedFields } from '../rules/shownEvent.js';
import { groupStatements, type StatementHalf } from '../codec/mysqlStatements.js';
import type { DecodeRendering } from './decodedLines.js';

export interface Quarantined {
  position: RecordPosition;
  reason: string;
  message: string;
  /** Index of the event inside the record, when one event (not the whole record) was rejected. */
  eventIndex?: number;
}

export interface RecordOutcome {
  position: RecordPosition;
  /** The decoded batch, events included; absent when its events stayed in a worker thread (`summary` is there). */
  batch?: DecodedBatch;
  /** What was decoded (counts, instances seen): present whenever the record was decoded. */
  summary?: BatchSummary;
  /** The record's envelope said it is encrypted (whether or not it could be decrypted). */
  encrypted: boolean;
  alerts: Alert[];
  /** The record (or some of its events) could not be used. */
  quarantined: Quarantined[];
  warnings: string[];
  /**
   * The record's base events of correlation rules (stateless matching, done here), for the driver's in-order
   * correlation step (Correlator.ts): processRecord may run ahead of earlier records, so no state is touched here.
   */
  correlating?: BaseEvents[];
  /**
   * MySQL statement halves evaluated without their other half that could never join (a MAIN naming objects between
   * two statements of its key); the halves that may join the record before or after are counted by the driver.
   */
  mysqlUnjoined?: number;
  /**
   * Present when the record holds MySQL statement halves: its events are NOT evaluated here (`alerts` and
   * `correlating` are empty) but by the driver's in-order step (src/pipeline/StatementJoiner.ts), which may join the
   * halves with the previous or the next record's.
   */
  statements?: PendingStatements;
  /** `decode`'s output of the record (decodedLines), when the worker that decoded it rendered it (deps.render). */
  lines?: string;
  /**
   * Seconds the record's events took through the rules (present when they were evaluated here; a record whose MySQL
   * statement halves wait for the in-order step is not timed).
   */
  evaluationSeconds?: number;
}

/** A record's events left for the in-order step, its MySQL statement halves, and how to evaluate an event. */
export interface PendingStatements {
  /** Every event of the record, in order (joined within the record: mysqlStatements.ts). */
  events: readonly ActivityEvent[];
  /** The halves among them, in record order. */
  halves: readonly StatementHalf[];
  evaluate: EventEvaluator;
}

/** Evaluates one event with the record's rules: its alerts (at `position`) and base events are added to `into`. */
export type EventEvaluator = (event: ActivityEvent, position: RecordPosition, into: { alerts: Alert[]; correlating: BaseEvents[] }) => void;

/** One event that feeds correlation rules, with its redacted copy (what the correlation state keeps). */
export interface BaseEvents {
  event: ActivityEvent;
  redacted: Record<string, unknown>;
  rules: readonly CompiledRule[];
  /** The version of the rule set that matched them (RuleSet.version): their correlation alerts carry it. */
  rulesVersion?: string | undefined;
}

export interface ProcessorDeps {
  /** Absent: only plaintext records can be decoded. */
  keys?: KeyProvider;
  /** Absent: decode only (no evaluation). A LiveRuleSet (hot reload) is pinned per record: see processRecord. */
  rules?: RuleSet;
  redaction?: Redaction;
  /** Payload decryption + gunzip off the main thread (a RecordPool's `decrypt`); absent: on this thread. */
  decrypt?: DecodeContext['decrypt'];
  /**
   * The rest of an encrypted record's path in worker threads (a RecordPool): used when the rules can be rebuilt there
   * (RuleSet.sources) or there are none (decode); else `decrypt` is, and the rules run here.
   */
  workers?: RecordWorkers;
  /** `decode`: a record decoded by a worker comes back as its output lines (`lines`), not its events. */
  render?: DecodeRendering;
  /** The correlation rules' state (a Correlator), applied in record order by the driver (runRecords); absent: none run. */
  correlator?: CorrelationStep;
}

/** The in-order correlation step as the driver calls it (Correlator.ts; declared here, so no import cycle). */
export interface CorrelationStep {
  /**
   * The record's correlation alerts; counts late events and evicted groups in `stats`. Waits while another driver's
   * record is staged (the live consumer's shards share one step); each `apply` is followed by `commit` or `rollback`.
   */
  apply(outcome: RecordOutcome, stats: { counters: { correlationLate: number; correlationEvictions: number } }): Promise<Alert[]>;
  /** Keeps the changes `apply` staged (the record's alerts were handed off). */
  commit(): void;
  /** Undoes them (the hand-off failed: the record is not committed). */
  rollback(): void;
}

/**
 * Worker threads that take an encrypted record from its sealed payload to its outcome: decrypt, gunzip, parse,
 * normalise, and the stateless rules (src/pipeline/workers/RecordPool.ts; declared here, so no import cycle). The
 * outcome is evaluateBatch's, with `summary` for `batch` unless `rules` is undefined (decode: the events come back,
 * or with `render` the lines decode prints).
 * The data key is copied: the caller still zeroes its own.
 */
export interface RecordWorkers {
  /**
   * False: this record, pinned to `rules`, is processed on this thread (`--workers auto` before the input proved
   * large; the workers still starting, or compiling a reloaded rule set). Absent: true.
   */
  ready?(rules: RuleSet | undefined): boolean;
  process(sealed: SealedPayload, position: RecordPosition, rules: RuleSet | undefined, redaction: Redaction, render?: DecodeRendering): Promise<RecordOutcome>;
}

export async function processRecord(record: SourceRecord, deps: ProcessorDeps): Promise<RecordOutcome> {
  // The rules this record is evaluated with, from start to end: those running when its turn to be processed comes
  // (records start in order), whatever a reload swaps in while it is decrypted (src/rules/LiveRuleSet.ts).
  const rules = deps.rules?.pin?.() ?? deps.rules;
  if (rules !== undefined) deps = { ...deps, rules };
  let batch: DecodedBatch;
  try {
    const ctx: Pick<DecodeContext, 'keys' | 'resourceId'> = {};
    if (deps.keys) ctx.keys = deps.keys;
    if (record.resourceId !== undefined) ctx.resourceId = record.resourceId;
    const opened = await openRecord(record.data, ctx);
    if ('batch' in opened) batch = opened.batch;
    else {
      const { sealed } = opened;
      try {
        const workers = deps.workers !== undefined && (rules === undefined || rules.sources !== undefined) ? deps.workers : undefined;
        if (workers !== undefined && (workers.ready?.(rules) ?? true)) {
          return await workers.process(sealed, record.position, rules, deps.redaction ?? 'literals', deps.render);
        }
        // Workers that could take the record but are not ready: all of it here (their `decrypt` would wait for them too).
        batch = await decryptSealed(sealed, workers !== undefined ? decryptAndGunzip : (deps.decrypt ?? decryptAndGunzip));
      } finally {
        sealed.dataKey.fill(0);
      }
    }
  } catch (err) {
    if (err instanceof PoisonRecordError) {
      return {
        position: record.position,
        encrypted: err.encryptedRecord,
        alerts: [],
        quarantined: [{ position: record.position, reason: err.reason, message: err.message }],
        warnings: [],
      };
    }
    if (err instanceof DataKeyError) throw err.at(formatPosition(record.position));
    throw err;
  }
  return evaluateBatch(batch, record.position, deps);
}

/** A sealed payload decrypted with `decrypt` and decoded; the plaintext is zeroed once parsed. */
async function decryptSealed(sealed: SealedPayload, decrypt: NonNullable<DecodeContext['decrypt']>): Promise<DecodedBatch> {
  let json: Uint8Array;
  try {
    json = await decrypt(sealed.message, sealed.dataKey);
  } catch (err) {
    if (err instanceof PoisonRecordError) err.encryptedRecord = true;
    throw err;
  }
  try {
    return unsealedBatch(json, sealed);
  } finally {
    json.fill(0);
  }
}

/**
 * Rules over a decoded batch: heartbeats are never evaluated; rejected events are quarantined one by one. The MySQL
 * events of one statement are joined first (src/codec/mysqlStatements.ts: the MAIN event gets the `objects` of its AUX
 * events); a record holding statement halves is left to the driver's in-order step (`statements`).
 */
export function evaluateBatch(batch: DecodedBatch, position: RecordPosition, deps: ProcessorDeps): RecordOutcome {
  const into: { alerts: Alert[]; correlating: BaseEvents[] } = { alerts: [], correlating: [] };
  const rules = deps.rules?.pin?.() ?? deps.rules;
  let statements: PendingStatements | undefined;
  let mysqlUnjoined = 0;
  let evaluationSeconds: number | undefined;
  if (rules) {
    const joined = groupStatements(batch.events);
    mysqlUnjoined = joined.unjoined;
    const evaluate = eventEvaluator(rules, deps.redaction ?? 'literals');
    if (joined.halves.length > 0) statements = { events: batch.events, halves: joined.halves, evaluate };
    else {
      const start = performance.now();
      for (const event of batch.events) evaluate(event, position, into);
      evaluationSeconds = (performance.now() - start) / 1000;
    }
  }
  const quarantined: Quarantined[] = batch.rejected.map((r) => ({
    position,
    reason: r.poisonReason ?? PoisonReason.badEvent,
    message: `event ${r.index}: ${r.reason}`,
    eventIndex: r.index,
  }));
  const outcome: RecordOutcome = { position, batch, summary: summarizeBatch(batch), encrypted: batch.encrypted, alerts: into.alerts, quarantined, warnings: batch.warnings };
  if (into.correlating.length > 0) outcome.correlating = into.correlating;
  if (mysqlUnjoined > 0) outcome.mysqlUnjoined = mysqlUnjoined;
  if (statements !== undefined) outcome.statements = statements;
  if (evaluationSeconds !== undefined) outcome.evaluationSeconds = evaluationSeconds;
  return outcome;
}

/** One event through the rules: its alerts, and its base matches for the correlation step. */
export function eventEvaluator(rules: RuleSet, redaction: Redaction): EventEvaluator {
  const version = rules.version;
  return (event, position, into) => {
    const { matches, bases } = rules.evaluateActivity?.(event) ?? { matches: rules.evaluate(event, 'activity'), bases: rules.baseMatches?.(event) };
    if (matches.length === 0 && (bases === undefined || bases.length === 0)) return;
    if (matches.length === 0) {
      // Only feeds correlations: redacted as the part their state keeps of it (shownEvent.ts storedFields), not whole.
      const stored = redactProjection(event, storedFields(bases!), redaction);
      into.correlating.push(baseEvents(event, stored, bases!, version));
      return;
    }
    // Redacted once per event, however many rules fired on it (a statement can be megabytes long).
    const redacted = redactEvent(event, redaction);
    for (const m of matches) into.alerts.push(buildAlert(m, event, position, redaction, redacted, version));
    if (bases !== undefined && bases.length > 0) into.correlating.push(baseEvents(event, redacted, bases, version));
  };
}

/** An event's base matches as the correlation step takes them (one object, without a spread of a temporary one per event). */
function baseEvents(event: ActivityEvent, redacted: Record<string, unknown>, rules: readonly CompiledRule[], rulesVersion: string | undefined): BaseEvents {
  const b: BaseEvents = { event, redacted, rules };
  if (rulesVersion !== undefined) b.rulesVersion = rulesVersion;
  return b;
}

export function describeQuarantine(q: Quarantined): string {
  return `${formatPosition(q.position)}: ${q.reason}: ${q.message}`;
}
