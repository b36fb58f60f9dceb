/**
 * The stateful step of the pipeline: correlation rules (src/rules/correlation.ts) applied IN RECORD ORDER. processRecord
 * (which the driver may run ahead, concurrently) only finds each event's base matches (`outcome.correlating`); the
 * record driver (runRecords.ts) calls `apply` in its in-order step, before the record's hand-off, and hands the
 * correlation alerts off with the record's other alerts (same handoff, redaction, fitAlert). So `replay`, `run` and
 * the Lambda give the same alerts with the same ids for the same records.
 *
 * `apply` only STAGES the record's changes (CorrelationEngine's begin): the driver `commit`s them once the record's
 * alerts are handed off, right before its commit hook, and `rollback`s them when the hand-off (or `apply`) fails. So
 * the state never holds the effects of a record that was not committed: a record read again after a failed
 * hand-off (a restart, a Lambda retry in the same container) fires its correlation alert again, with the same id.
 *
 * ONE RECORD STAGED AT A TIME. `run` has one driver per shard, all sharing this correlator, and a hand-off waits
 * (the outbox's fsync): `apply` waits its turn until the record staged before it (another shard's) is committed or
 * rolled back, so one record's changes are staged at a time, each shard's records in their order. Every `apply` is
 * followed by a `commit` or a `rollback`, which ends its turn.
 *
 * The state is a CorrelationEngine's, kept in a CorrelationStore: `open` restores it (a rule that changed since it was
 * saved starts afresh: `restarted`), `persist` (a CheckpointedState:
 * `run` persists it before each checkpoint; replay at its end) saves the committed state. Records processed again
 * after a restart (the checkpoint was behind the state), or again in a Lambda container after a delivery failure, are
 * duplicates to the engine and count once; the record whose event completed a group's last firing gives that firing
 * again (CorrelationEngine), so its correlation alert is built again, the same, with the same id, like its other
 * alerts: at least once, never lost with a first copy that was.
 */
import { ConfigError, errorMessage, TransientError } from '../errors.js';
import { CorrelationEngine, eventKey, fingerprint, type CompiledRule, type RuleSet } from '../rules/index.js';
import { formatPosition } from '../types.js';
import { buildCorrelationAlert, type Alert, type Redaction } from './alert.js';
import type { CheckpointedState } from './CheckpointedState.js';
import type { CorrelationStore } from './CorrelationStore.js';
import type { PipelineStats } from './PipelineStats.js';
import type { CorrelationStep, RecordOutcome } from './processRecord.js';
import { itemId, type ItemKey, type ItemWrite, type SharedRuleState } from './SharedRuleState.js';

export interface CorrelatorOptions {
  /** Where the state is kept between runs; default: nowhere (this process only). */
  store?: CorrelationStore;
  redaction?: Redaction;
  /** Groups kept per rule (default DEFAULT_MAX_GROUPS). */
  maxGroups?: number;
  /** Open one even for rules without correlations: the rules may be reloaded with some (`reload`). */
  reloadable?: boolean;
  /**
   * State shared with other processes (SharedRuleState.ts): each record is applied on what the store holds and its
   * changes written back before its alerts are handed off; `store` is then not used. Default: this process's state.
   */
  shared?: SharedRuleState;
  /** The wall clock, for when shared items expire (tests). */
  now?: () => number;
}

/** Times a record is applied again on state another process changed meanwhile, before a TransientError (retried). */
export const MAX_SHARED_ATTEMPTS = 20;
/** How long after its window (and quiet period) a shared group is kept: a record read again within it counts once. */
export const SHARED_ITEM_MARGIN_MS = 24 * 3600_000;

export class Correlator implements CheckpointedState, CorrelationStep {
  readonly engine: CorrelationEngine;
  /** The rules whose saved state was dropped at `open` because they changed (type, groupBy, field or steps). */
  restarted: string[] = [];
  readonly #store: CorrelationStore | undefined;
  readonly #shared: SharedRuleState | undefined;
  readonly #now: () => number;
  readonly #redaction: Redaction;
  /** What the staged `apply` added to the stats (taken back by `rollback`). */
  #staged: { stats: PipelineStats; late: number; evictions: number } | undefined;
  /** Settles when the last `apply` that asked for a turn has ended it (commit or rollback). */
  #turns: Promise<void> = Promise.resolve();
  /** Ends the staged record's turn; undefined when no record is staged. */
  #endTurn: (() => void) | undefined;
  /**
   * After a `reload`: the correlations running, by id, with their fingerprints. A record evaluated before the reload
   * (in flight) still names the rules it matched then; those the reload dropped or restarted are not fed.
   */
  #running: Map<string, string> | undefined;
  /**
   * Opened `reloadable` for rules without correlations, and no state saved since: an empty state is not written (no
   * state file for rules that never had a correlation).
   */
  #nothingToSave = false;

  private constructor(o: CorrelatorOptions) {
    this.engine = new CorrelationEngine(o.maxGroups !== undefined ? { maxGroups: o.maxGroups } : {});
    this.#shared = o.shared;
    this.#store = o.shared === undefined ? o.store : undefined;
    this.#now = o.now ?? Date.now;
    this.#redaction = o.redaction ?? 'literals';
  }

  /** A correlator for `rules`, its state restored from the store; undefined when the rules have no correlation (unless `reloadable`). */
  static async open(rules: RuleSet, o: CorrelatorOptions = {}): Promise<Correlator | undefined> {
    if (o.reloadable !== true && (rules.correlations === undefined || rules.correlations.length === 0)) return undefined;
    const c = new Correlator(o);
    const saved = o.shared === undefined ? await o.store?.load() : undefined;
    c.#nothingToSave = saved === undefined && (rules.correlations ?? []).length === 0;
    if (saved !== undefined) {
      try {
        c.restarted = c.engine.restore(saved, rules.correlations ?? []);
      } catch (err) {
        // A state this version cannot read (another version's, or edited by hand): the user decides, nothing is guessed.
        throw new ConfigError(`${o.store!.name} cannot be used: ${errorMessage(err)}; move it away to start afresh`, { cause: err });
      }
    }
    return c;
  }

  /**
   * The record's correlation alerts (its base events applied, in order); counts late events and evictions. The
   * changes are staged until `commit` or `rollback`; meanwhile another record's `apply` waits (one at a time).
   */
  async apply(outcome: RecordOutcome, stats: PipelineStats): Promise<Alert[]> {
    const previous = this.#turns;
    let end!: () => void;
    this.#turns = new Promise<void>((resolve) => (end = resolve));
    await previous;
    this.#endTurn = end;
    const before = { ...this.engine.counters };
    const alerts = this.#shared !== undefined ? await this.#applyShared(outcome, this.#shared) : this.#observe(outcome);
    const after = this.engine.counters;
    const staged = { stats, late: after.late - before.late, evictions: after.evictions - before.evictions };
    stats.counters.correlationLate += staged.late;
    stats.counters.correlationEvictions += staged.evictions;
    this.#staged = staged;
    return alerts;
  }

  /** Stages the record's events in the engine (`begin`) and returns its correlation alerts. */
  #observe(outcome: RecordOutcome): Alert[] {
    this.engine.begin();
    const alerts: Alert[] = [];
    for (const { event, redacted, rules, rulesVersion } of outcome.correlating ?? []) {
      for (const rule of rules) {
        if (!this.#runs(rule)) continue;
        const f = this.engine.observe(rule, event, redacted);
        if (f === undefined) continue;
        // The message is rendered on the last contributing event: this one, or (it arrived out of order, before
        // this one in event time) what the state kept of it.
        const last = eventKey(f.last) === eventKey(event) ? event : ({ ...f.last, logTimeMs: f.lastTimeMs } as unknown as typeof event);
        alerts.push(buildCorrelationAlert(f, last, rule.template(last, rule.info), outcome.position, this.#redaction, rulesVersion));
      }
    }
    return alerts;
  }

  /** Whether the rule is one of those running (after a reload, an in-flight record may name a dropped one). */
  #runs(rule: CompiledRule): boolean {
    return this.#running === undefined || this.#running.get(rule.info.id) === fingerprint(rule);
  }

  /**
   * The record applied on the shared state: the items its events touch are read and put in the engine, the record
   * observed on them (staged), and the items it changed written back, each only if no other process wrote it since
   * the read; when one did, the staged changes are undone and the record applied again on the new state. The firing
   * is decided on what every process wrote, once: a second process finds the group fired (its entries used, quiet).
   */
  async #applyShared(outcome: RecordOutcome, shared: SharedRuleState): Promise<Alert[]> {
    const touched = new Map<string, { at: ItemKey; ruleId: string; rule: CompiledRule }>();
    for (const { event, rules } of outcome.correlating ?? []) {
      for (const rule of rules) {
        if (!this.#runs(rule)) continue;
        for (const key of this.engine.itemKeys(rule, event)) {
          const at = { rule: `${rule.info.id}#${fingerprint(rule)}`, key };
          touched.set(itemId(at), { at, ruleId: rule.info.id, rule });
        }
      }
    }
    if (touched.size === 0) return this.#observe(outcome);
    const keys = [...touched.values()].map((t) => t.at);
    for (let attempt = 1; ; attempt++) {
      const held = await shared.read(keys);
      // What was read, as JSON: the engine changes the items put in it in place.
      const read = new Map([...held].map(([id, it]) => [id, JSON.stringify(it.value)]));
      for (const [id, t] of touched) this.engine.putItem(t.ruleId, t.at.key, held.get(id)?.value);
      const alerts = this.#observe(outcome);
      const now = this.#now();
      const writes: ItemWrite[] = [];
      for (const [id, t] of touched) {
        const value = this.engine.item(t.ruleId, t.at.key);
        const was = held.get(id);
        // Unchanged (a duplicate, a late event), or evicted from this process's memory: nothing to write.
        if (value === undefined || (was !== undefined && read.get(id) === JSON.stringify(value))) continue;
        const expiresAtMs = expiryOf(t.rule, t.at.key, now);
        writes.push({ at: t.at, expected: was?.version ?? 0, value, ...(expiresAtMs !== undefined ? { expiresAtMs } : {}) });
      }
      if (writes.length === 0 || (await shared.write(writes))) return alerts;
      this.engine.rollback();
      if (attempt >= MAX_SHARED_ATTEMPTS) {
        throw new TransientError(`${shared.name}: the record at ${formatPosition(outcome.position)} met state changed by another process ${attempt} times in a row`);
      }
    }
  }

  /**
   * Hot reload (`run`): from now on the correlations are those of `rules`. Waits its turn like a record (never while
   * one is staged), then restores its own committed state for the new rules, as `open` restores a saved one (the ONE
   * logic: CorrelationEngine.restore): a correlation unchanged in what its state means keeps its windows, sequences and
   * first-seen memory; one whose type, groupBy, field or steps changed starts afresh (`restarted`), one removed is
   * dropped (`removed`). Call it before the new rules are swapped in (LiveRuleSet.swap), in the same tick: every
   * record evaluated with them then comes after it.
   */
  async reload(rules: RuleSet): Promise<{ restarted: string[]; removed: string[] }> {
    const previous = this.#turns;
    let end!: () => void;
    this.#turns = new Promise<void>((resolve) => (end = resolve));
    await previous;
    try {
      const correlations = rules.correlations ?? [];
      const saved = this.engine.snapshot();
      const ids = new Set(correlations.map((r) => r.info.id));
      const held = new Set([...Object.keys(saved.rules), ...Object.keys(saved.learning ?? {}), ...Object.keys(saved.clusterLearning ?? {})]);
      const removed = [...held].filter((id) => !ids.has(id));
      const restarted = this.engine.restore(saved, correlations);
      this.#running = new Map(correlations.map((r) => [r.info.id, fingerprint(r)]));
      return { restarted, removed };
    } finally {
      end();
    }
  }

  /** Keeps the staged record's changes (its alerts were handed off). */
  commit(): void {
    this.engine.commit();
    this.#staged = undefined;
    this.#nextTurn();
  }

  /** Undoes the staged record's changes and counts (its hand-off failed: it is not committed, it will be read again). */
  rollback(): void {
    this.engine.rollback();
    if (this.#staged !== undefined) {
      this.#staged.stats.counters.correlationLate -= this.#staged.late;
      this.#staged.stats.counters.correlationEvictions -= this.#staged.evictions;
      this.#staged = undefined;
    }
    this.#nextTurn();
  }

  /** Ends the staged record's turn: the next waiting `apply` (another shard's record) goes on. */
  #nextTurn(): void {
    const end = this.#endTurn;
    this.#endTurn = undefined;
    end?.();
  }

  /** Saves the committed state in the store; with a shared state, nothing: each record's changes were written before its hand-off. */
  async persist(): Promise<void> {
    if (this.#store === undefined) return;
    const snapshot = this.engine.snapshot();
    if (this.#nothingToSave && Object.keys(snapshot.rules).length === 0 && snapshot.learning === undefined && snapshot.clusterLearning === undefined) return;
    await this.#store.save(snapshot);
    this.#nothingToSave = false;
  }
}

/**
 * When a shared item may be deleted (epoch ms, the table's TTL): a window's group a margin after its window and quiet
 * period (no event of the group meanwhile: nothing it holds counts any more); a first_seen group a margin after its
 * `forget` (without forget: kept, its knowledge never expires); a learning period: kept.
 */
function expiryOf(rule: CompiledRule, key: string, now: number): number | undefined {
  const spec = rule.correlation;
  if (spec === undefined || key.startsWith('l')) return undefined;
  if (spec.type === 'first_seen') return spec.forgetMs !== undefined ? now + spec.forgetMs + SHARED_ITEM_MARGIN_MS : undefined;
  return now + Math.max(spec.windowMs, spec.realertMs) + SHARED_ITEM_MARGIN_MS;
}
