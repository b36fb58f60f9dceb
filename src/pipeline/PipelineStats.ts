/**
 * The one count of what the record driver (runRecords) did: records, encrypted records, events, heartbeats, alerts
 * (by rule, by severity, the highest), quarantined records and events (by reason, and a sample for the summary), and
 * the decoders' warnings. Every driver's report is derived from it: replay's summary and exit code
 * (src/pipeline/output.ts), the consumer's status lines, the Lambda's `batch` log line. A new counter is added here:
 * a field, and its count in countDecoded / countQuarantine / countAlert, which the driver calls for every outcome.
 */
import type { KeyProviderStats } from '../keys/KeyProvider.js';
import { Severities, severityRank, type Severity } from '../types.js';
import type { Alert } from './alert.js';
import type { Quarantined, RecordOutcome } from './processRecord.js';

/** Quarantined items kept for the summary (all of them are counted). */
const QUARANTINE_SAMPLE = 20;

export class PipelineStats {
  /** Items the driver finished (a record, or a bad input quarantined whole): counted once their alerts were handed off. */
  records = 0;
  encryptedRecords = 0;
  events = 0;
  heartbeats = 0;
  alerts = 0;
  quarantinedRecords = 0;
  quarantinedEvents = 0;
  readonly quarantinedByReason = new Map<string, number>();
  readonly alertsByRule = new Map<string, number>();
  readonly alertsBySeverity = new Map<Severity, number>();
  /** The first quarantined items, for the summary. */
  readonly quarantineSample: Quarantined[] = [];
  readonly warnings = new Set<string>();
  readonly startedAt = Date.now();
  highestSeverity: Severity | undefined;

  /** What a record's decoding gave (before its quarantines and alerts are counted). */
  countDecoded(outcome: RecordOutcome): void {
    if (outcome.encrypted) this.encryptedRecords++;
    if (outcome.batch) {
      this.events += outcome.batch.events.length;
      this.heartbeats += outcome.batch.heartbeats.length;
    }
    for (const w of outcome.warnings) this.warnings.add(w);
  }

  countAlert(a: Alert): void {
    this.alerts++;
    this.alertsByRule.set(a.ruleId, (this.alertsByRule.get(a.ruleId) ?? 0) + 1);
    this.alertsBySeverity.set(a.severity, (this.alertsBySeverity.get(a.severity) ?? 0) + 1);
    if (this.highestSeverity === undefined || severityRank(a.severity) > severityRank(this.highestSeverity)) {
      this.highestSeverity = a.severity;
    }
  }

  countQuarantine(q: Quarantined): void {
    if (q.eventIndex === undefined) this.quarantinedRecords++;
    else this.quarantinedEvents++;
    this.quarantinedByReason.set(q.reason, (this.quarantinedByReason.get(q.reason) ?? 0) + 1);
    if (this.quarantineSample.length < QUARANTINE_SAMPLE) this.quarantineSample.push(q);
  }

  /** Records and events quarantined. */
  get quarantined(): number {
    return this.quarantinedRecords + this.quarantinedEvents;
  }

  toJSON(keys?: KeyProviderStats): Record<string, unknown> {
    return {
      records: this.records,
      encryptedRecords: this.encryptedRecords,
      events: this.events,
      heartbeats: this.heartbeats,
      alerts: this.alerts,
      alertsByRule: Object.fromEntries([...this.alertsByRule].sort()),
      alertsBySeverity: Object.fromEntries(Severities.filter((s) => this.alertsBySeverity.has(s)).map((s) => [s, this.alertsBySeverity.get(s)])),
      quarantinedRecords: this.quarantinedRecords,
      quarantinedEvents: this.quarantinedEvents,
      keyProvider: keys,
      elapsedMs: Date.now() - this.startedAt,
    };
  }
}
