/**
 * The stateful step of the pipeline: correlation rules (src/rules/correlation.ts) applied IN RECORD ORDER. processRecord
 * (which the driver may run ahead, concurrently) only finds each event's base matches (`outcome.correlating`); the
 * record driver (runRecords.ts) calls `apply` in its in-order step, before the record's hand-off, and hands the
 * correlation alerts off with the record's other alerts (same handoff, redaction, fitAlert). So `replay`, `run` and
 * the Lambda give the same alerts with the same ids for the same records.
 *
 * The state is a CorrelationEngine's, kept in a CorrelationStore: `open` restores it, `persist` (a CheckpointedState:
 * `run` persists it before each checkpoint; replay at its end) saves it. Records processed again after a restart
 * (the checkpoint was behind the state) are duplicates to the engine and count once.
 */
import { CorrelationEngine, type RuleSet } from '../rules/index.js';
import { buildCorrelationAlert, type Alert, type Redaction } from './alert.js';
import type { CheckpointedState } from './CheckpointedState.js';
import type { CorrelationStore } from './CorrelationStore.js';
import type { PipelineStats } from './PipelineStats.js';
import type { CorrelationStep, RecordOutcome } from './processRecord.js';

export interface CorrelatorOptions {
  /** Where the state is kept between runs; default: nowhere (this process only). */
  store?: CorrelationStore;
  redaction?: Redaction;
  /** Groups kept per rule (default DEFAULT_MAX_GROUPS). */
  maxGroups?: number;
}

export class Correlator implements CheckpointedState, CorrelationStep {
  readonly engine: CorrelationEngine;
  readonly #store: CorrelationStore | undefined;
  readonly #redaction: Redaction;

  private constructor(o: CorrelatorOptions) {
    this.engine = new CorrelationEngine(o.maxGroups !== undefined ? { maxGroups: o.maxGroups } : {});
    this.#store = o.store;
    this.#redaction = o.redaction ?? 'literals';
  }

  /** A correlator for `rules`, its state restored from the store; undefined when the rules have no correlation. */
  static async open(rules: RuleSet, o: CorrelatorOptions = {}): Promise<Correlator | undefined> {
    if (rules.correlations === undefined || rules.correlations.length === 0) return undefined;
    const c = new Correlator(o);
    const saved = await o.store?.load();
    if (saved !== undefined) c.engine.restore(saved, new Set(rules.correlations.map((r) => r.info.id)));
    return c;
  }

  /** The record's correlation alerts (its base events applied, in order); counts late events and evictions. */
  apply(outcome: RecordOutcome, stats: PipelineStats): Alert[] {
    const bases = outcome.correlating;
    if (bases === undefined) return [];
    const before = { ...this.engine.counters };
    const alerts: Alert[] = [];
    for (const { event, redacted, rules } of bases) {
      for (const rule of rules) {
        const f = this.engine.observe(rule, event, redacted);
        if (f !== undefined) alerts.push(buildCorrelationAlert(f, event, rule.template(event, rule.info), outcome.position, this.#redaction));
      }
    }
    const after = this.engine.counters;
    stats.counters.correlationLate += after.late - before.late;
    stats.counters.correlationEvictions += after.evictions - before.evictions;
    return alerts;
  }

  async persist(): Promise<void> {
    await this.#store?.save(this.engine.snapshot());
  }
}
