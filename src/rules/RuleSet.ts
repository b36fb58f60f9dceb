/**
 * The loaded rules, ready for the hot path: `evaluate(event)` is synchronous and allocates nothing unless a
 * rule fires. Rules are indexed by the field values their alternatives require (RuleIndex.ts: heavy-read is
 * PostgreSQL class READ or MySQL MAIN SELECT): a rule is tried only on events that can make it fire. Correlation rules
 * (stateful) are never matched here: `baseMatches` says which correlations an event feeds, and the record driver's
 * in-order step (src/pipeline/Correlator.ts) runs them. A base rule that only feeds correlations (`generate: false`,
 * CompiledRule.feedsOnly) is left out of `evaluate`; its predicate still feeds them through `baseMatches`.
 */
import type { Engine } from 'json-rules-engine';
import { RuleIndex } from './RuleIndex.js';
import { toEngineRoot, type Event } from './compile.js';
import type { RuleTarget } from './fields.js';
import { newEngine } from './operators.js';
import { DEFAULT_TIME_ZONE, LOCAL_TIME_FIELDS, localTimeOf } from './localTime.js';
import type { ActivityMatches, CompiledRule, EngineRuleJson, RuleInfo, RuleMatch, RuleSet, RuleSourceText } from './types.js';
import { contextOf, renderMessage } from '../redaction/index.js';

export class CompiledRuleSet implements RuleSet {
  readonly rules: readonly RuleInfo[];
  readonly #compiled: readonly CompiledRule[];
  readonly #byId: ReadonlyMap<string, CompiledRule>;
  readonly #index: Record<RuleTarget, RuleIndex<CompiledRule>>;
  /** The enabled correlation rules, in load order. */
  readonly correlations: readonly CompiledRule[];
  readonly #bases: RuleIndex<CompiledRule>;
  readonly #both: RuleIndex<CompiledRule>;
  readonly packVersion: string | undefined;
  readonly version: string | undefined;
  readonly sources: readonly RuleSourceText[] | undefined;

  constructor(compiled: readonly CompiledRule[], packVersion?: string, version?: string, sources?: readonly RuleSourceText[]) {
    this.packVersion = packVersion;
    this.version = version;
    this.sources = sources;
    this.#compiled = compiled;
    this.rules = compiled.map((c) => c.info);
    this.#byId = new Map(compiled.map((c) => [c.info.id, c]));
    // The rules that alert on their own: stateless, and not only feeding correlations (generate: false).
    const stateless = compiled.filter((c) => c.correlation === undefined && c.feedsOnly === undefined);
    // Each rule is one part, its own condition (its exceptions are in its predicate).
    const entries = (target: RuleTarget) => stateless.filter((c) => c.info.enabled && c.info.target === target).map((c) => ({ item: c, parts: [{ predicate: c.predicate, cond: c.cond }] }));
    const activityEntries = entries('activity');
    this.#index = { activity: new RuleIndex(activityEntries), 'rds-event': new RuleIndex(entries('rds-event')) };
    this.correlations = compiled.filter((c) => c.correlation !== undefined && c.info.enabled);
    const bases = this.correlations.flatMap((c) => (c.basePredicate !== undefined && c.baseParts !== undefined ? [{ item: c, parts: c.baseParts, excepted: c.excepted }] : []));
    this.#bases = new RuleIndex(bases);
    // Both at once (the stateless rules first): a base rule that alerts on its own (authentication-failure feeds
    // brute-force) is one part of both, tried once per event, and each field is read once.
    this.#both = new RuleIndex([...activityEntries, ...bases]);
  }

  /**
   * `evaluate(event)` and `baseMatches(event)` in one pass over the rules (the pipeline's hot path): the same matches
   * and base matches, in load order each.
   */
  evaluateActivity(event: Event): ActivityMatches {
    const hits = this.#both.matches(event);
    if (hits.length === 0) return NO_MATCHES;
    let k = 0;
    while (k < hits.length && (hits[k] as CompiledRule).correlation === undefined) k++;
    const matches: RuleMatch[] = new Array(k);
    for (let i = 0; i < k; i++) matches[i] = match(hits[i] as CompiledRule, event);
    return { matches, bases: k === 0 ? hits : hits.slice(k) };
  }

  /**
   * The enabled correlation rules whose base events include `event` (an activity event), in load order: those whose
   * base predicate holds (CompiledRule.basePredicate), found through their index (RuleIndex.ts).
   */
  baseMatches(event: Event): CompiledRule[] {
    return this.#bases.matches(event);
  }

  evaluate(event: Record<string, unknown>, target: RuleTarget = 'activity'): RuleMatch[] {
    const hits = this.#index[target].matches(event);
    if (hits.length === 0) return [];
    const out: RuleMatch[] = new Array(hits.length);
    for (let i = 0; i < hits.length; i++) out[i] = match(hits[i] as CompiledRule, event);
    return out;
  }

  /** One rule, bypassing the index, the `enabled` flag and `feedsOnly` (rule tests); undefined for an unknown id. */
  evaluateRule(ruleId: string, event: Event): RuleMatch | null | undefined {
    const r = this.#byId.get(ruleId);
    if (r === undefined || r.correlation !== undefined) return undefined;
    return r.predicate(event) ? match(r, event) : null;
  }

  /** Compiled rules, for the rule-test runner. */
  compiledRules(): readonly CompiledRule[] {
    return this.#compiled;
  }

  /** The rules `evaluate` tries, as json-rules-engine rule JSON (each rule's event type is its id). */
  engineRules(target: RuleTarget = 'activity'): EngineRuleJson[] {
    return this.#compiled
      .filter((c) => c.info.enabled && c.info.target === target && c.correlation === undefined && c.feedsOnly === undefined)
      .map((c) => ({ name: c.info.id, conditions: toEngineRoot(c.cond, c.timeZone), event: { type: c.info.id } }));
  }

  /**
   * A real json-rules-engine Engine running the same rules with the same operators: the reference the
   * compiled evaluator is tested against, and the naive baseline of the benchmark.
   */
  referenceEngine(target: RuleTarget = 'activity'): Engine {
    const engine = newEngine();
    // computed from logTimeMs for activity events; an RDS event's `date` is its own field
    for (const name of target === 'activity' ? LOCAL_TIME_FIELDS : []) {
      engine.addFact(name, async (params: Record<string, unknown>, almanac) =>
        localTimeOf(await almanac.factValue('logTimeMs'), String(params.timeZone ?? DEFAULT_TIME_ZONE))?.[name]);
    }
    for (const r of this.engineRules(target)) engine.addRule(r as unknown as Parameters<Engine['addRule']>[0]);
    return engine;
  }

  /** How the index split the enabled rules of a target (for benchmarks and tests). */
  indexStats(target: RuleTarget = 'activity'): { indexed: number; always: number; fields: string[] } {
    return this.#index[target].stats();
  }
}

const NO_MATCHES: ActivityMatches = { matches: [], bases: [] };

function match(r: CompiledRule, event: Event): RuleMatch {
  const parts = r.template(event, r.info);
  return { rule: r.info, parts, message: renderMessage(parts, contextOf(event), 'literals') };
}
