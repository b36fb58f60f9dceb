/**
 * The one count of what the record driver (runRecords) did: records, encrypted records, events, heartbeats, alerts
 * (by rule, by severity, the highest), quarantined records and events (by reason, and a sample for the summary), and
 * the decoders' warnings. Every driver's report reads `snapshot()`: replay's summary and progress line
 * (src/pipeline/output.ts), the consumer's stats, `run`'s `status` and `stopped` lines, the Lambda's `batch` log
 * line. Each machine-readable report carries every field of the snapshot under its name, so a new counter is one
 * edit here: a field in `zeroCounters` and its count in countDecoded / countQuarantine / countAlert (or the driver's
 * `counters.records++`), which the driver calls for every outcome.
 */
import { severityRank, summarizeBatch, type Severity } from '../types.js';
import type { Alert } from './alert.js';
import type { Quarantined, RecordOutcome } from './processRecord.js';

/** Quarantined items kept for the summary (all of them are counted). */
const QUARANTINE_SAMPLE = 20;

/** The counters, each a number, in the order reports show them. */
function zeroCounters() {
  return {
    /** Items the driver finished (a record, or a bad input quarantined whole): counted when committed (after their alerts were handed off). */
    records: 0,
    encryptedRecords: 0,
    events: 0,
    heartbeats: 0,
    alerts: 0,
    quarantinedRecords: 0,
    quarantinedEvents: 0,
    /** Base events of correlation rules older than their group's window: dropped (src/rules/CorrelationEngine.ts). */
    correlationLate: 0,
    /** Correlation groups evicted because a rule held its maximum of groups. */
    correlationEvictions: 0,
    /**
     * MySQL statement halves evaluated without their other half: AUX events whose MAIN is neither in their record nor
     * in the next one (or the one before), or a MAIN naming objects whose AUX events are not either
     * (src/codec/mysqlStatements.ts, src/pipeline/StatementJoiner.ts).
     */
    mysqlUnjoined: 0,
  };
}

export type PipelineCounters = ReturnType<typeof zeroCounters>;

/** The counters and what is derived from them: what every machine-readable report carries. */
export type PipelineSnapshot = PipelineCounters & {
  /** Records and events quarantined. */
  quarantined: number;
};

/** Upper bounds, in seconds, of the rule evaluation histogram's buckets (a record's events through the rules). */
export const EVALUATION_BUCKETS: readonly number[] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

/** A distribution of durations in seconds: per bucket of EVALUATION_BUCKETS (then +Inf), not cumulative. */
export interface DurationHistogram {
  readonly counts: number[];
  sum: number;
  count: number;
}

export class PipelineStats {
  readonly counters: PipelineCounters = zeroCounters();
  readonly quarantinedByReason = new Map<string, number>();
  readonly alertsByRule = new Map<string, number>();
  readonly alertsBySeverity = new Map<Severity, number>();
  /** Per rule, per severity (a rule's alerts may differ in severity: overrides, correlation). */
  readonly alertsByRuleAndSeverity = new Map<string, Map<Severity, number>>();
  /** The first quarantined items, for the summary. */
  readonly quarantineSample: Quarantined[] = [];
  readonly warnings = new Set<string>();
  readonly startedAt = Date.now();
  /** How long records' events took through the rules (`run`'s /metrics). */
  readonly evaluation: DurationHistogram = { counts: new Array<number>(EVALUATION_BUCKETS.length + 1).fill(0), sum: 0, count: 0 };
  highestSeverity: Severity | undefined;

  /** What a record's decoding gave (before its quarantines and alerts are counted). */
  countDecoded(outcome: RecordOutcome): void {
    const c = this.counters;
    if (outcome.encrypted) c.encryptedRecords++;
    const summary = outcome.summary ?? (outcome.batch !== undefined ? summarizeBatch(outcome.batch) : undefined);
    if (summary !== undefined) {
      c.events += summary.eventCount;
      c.heartbeats += summary.heartbeatCount;
    }
    if (outcome.mysqlUnjoined !== undefined) c.mysqlUnjoined += outcome.mysqlUnjoined;
    if (outcome.evaluationSeconds !== undefined) {
      const h = this.evaluation;
      const i = EVALUATION_BUCKETS.findIndex((b) => outcome.evaluationSeconds! <= b);
      h.counts[i === -1 ? EVALUATION_BUCKETS.length : i]!++;
      h.sum += outcome.evaluationSeconds;
      h.count++;
    }
    for (const w of outcome.warnings) this.warnings.add(w);
  }

  countAlert(a: Alert): void {
    this.counters.alerts++;
    this.alertsByRule.set(a.ruleId, (this.alertsByRule.get(a.ruleId) ?? 0) + 1);
    this.alertsBySeverity.set(a.severity, (this.alertsBySeverity.get(a.severity) ?? 0) + 1);
    let bySeverity = this.alertsByRuleAndSeverity.get(a.ruleId);
    if (bySeverity === undefined) this.alertsByRuleAndSeverity.set(a.ruleId, (bySeverity = new Map()));
    bySeverity.set(a.severity, (bySeverity.get(a.severity) ?? 0) + 1);
    if (this.highestSeverity === undefined || severityRank(a.severity) > severityRank(this.highestSeverity)) {
      this.highestSeverity = a.severity;
    }
  }

  countQuarantine(q: Quarantined): void {
    if (q.eventIndex === undefined) this.counters.quarantinedRecords++;
    else this.counters.quarantinedEvents++;
    this.quarantinedByReason.set(q.reason, (this.quarantinedByReason.get(q.reason) ?? 0) + 1);
    if (this.quarantineSample.length < QUARANTINE_SAMPLE) this.quarantineSample.push(q);
  }

  /** Records and events quarantined. */
  get quarantined(): number {
    return this.counters.quarantinedRecords + this.counters.quarantinedEvents;
  }

  /** A copy of every counter (and `quarantined`), taken now: the one source of every report's numbers. */
  snapshot(): PipelineSnapshot {
    return { ...this.counters, quarantined: this.quarantined };
  }
}
