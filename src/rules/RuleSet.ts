/**
 * The loaded rules, ready for the hot path: `evaluate(event)` is synchronous and allocates nothing unless a
 * rule fires. Rules are indexed by a field they require (e.g. `class` in {DDL, MAIN}, `sqlCommand` in
 * {GRANT, REVOKE}): a rule is tried only on events whose value of that field can make it fire. Correlation rules
 * (stateful) are never matched here: `baseMatches` says which correlations an event feeds, and the record driver's
 * in-order step (src/pipeline/Correlator.ts) runs them. A base rule that only feeds correlations (`generate: false`,
 * CompiledRule.feedsOnly) is left out of `evaluate`; its predicate still feeds them through `baseMatches`.
 */
import type { Engine } from 'json-rules-engine';
import { BaseIndex } from './BaseIndex.js';
import { toEngineRoot, type Event, type Requirements } from './compile.js';
import type { RuleTarget } from './fields.js';
import { newEngine } from './operators.js';
import { DEFAULT_TIME_ZONE, LOCAL_TIME_FIELDS, localTimeOf } from './localTime.js';
import type { CompiledRule, EngineRuleJson, RuleInfo, RuleMatch, RuleSet, RuleSourceText } from './types.js';
import { contextOf, renderMessage } from '../redaction/index.js';

interface Group {
  field: string;
  byValue: Map<unknown, CompiledRule[]>;
}

interface TargetIndex {
  always: CompiledRule[];
  groups: Group[];
  /** How many rules each event can skip on average is up to the data; this is how many are indexed. */
  indexed: number;
}

/** Fields preferred for indexing when several constrain a rule equally well. */
const INDEX_PREFERENCE = ['class', 'sqlCommand', 'command', 'eventId', 'engine', 'serverType'];
/** A requirement with more values than this is not worth a group. */
const MAX_INDEX_VALUES = 256;

export class CompiledRuleSet implements RuleSet {
  readonly rules: readonly RuleInfo[];
  readonly #compiled: readonly CompiledRule[];
  readonly #byId: ReadonlyMap<string, CompiledRule>;
  readonly #index: Record<RuleTarget, TargetIndex>;
  /** The enabled correlation rules, in load order. */
  readonly correlations: readonly CompiledRule[];
  readonly #bases: BaseIndex;
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
    this.#index = {
      activity: buildIndex(stateless.filter((c) => c.info.enabled && c.info.target === 'activity')),
      'rds-event': buildIndex(stateless.filter((c) => c.info.enabled && c.info.target === 'rds-event')),
    };
    this.correlations = compiled.filter((c) => c.correlation !== undefined && c.info.enabled);
    this.#bases = new BaseIndex(this.correlations);
  }

  /**
   * The enabled correlation rules whose base events include `event` (an activity event), in load order: those whose
   * base predicate holds (CompiledRule.basePredicate), found through their index (BaseIndex.ts).
   */
  baseMatches(event: Event): CompiledRule[] {
    return this.#bases.matches(event);
  }

  evaluate(event: Record<string, unknown>, target: RuleTarget = 'activity'): RuleMatch[] {
    const idx = this.#index[target];
    let hits: CompiledRule[] | undefined;
    let sources = 0;
    const always = idx.always;
    for (let i = 0; i < always.length; i++) {
      const r = always[i] as CompiledRule;
      if (r.predicate(event)) {
        if (hits === undefined) {
          hits = [];
          sources++;
        }
        hits.push(r);
      }
    }
    const groups = idx.groups;
    for (let g = 0; g < groups.length; g++) {
      const group = groups[g] as Group;
      const list = group.byValue.get(event[group.field]);
      if (list === undefined) continue;
      let counted = false;
      for (let i = 0; i < list.length; i++) {
        const r = list[i] as CompiledRule;
        if (r.predicate(event)) {
          if (hits === undefined) hits = [];
          if (!counted) {
            counted = true;
            sources++;
          }
          hits.push(r);
        }
      }
    }
    if (hits === undefined) return [];
    if (sources > 1) hits.sort((a, b) => a.order - b.order);
    const out: RuleMatch[] = new Array(hits.length);
    for (let i = 0; i < hits.length; i++) {
      const r = hits[i] as CompiledRule;
      out[i] = match(r, event);
    }
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
    const idx = this.#index[target];
    return { indexed: idx.indexed, always: idx.always.length, fields: idx.groups.map((g) => g.field) };
  }
}

function match(r: CompiledRule, event: Event): RuleMatch {
  const parts = r.template(event, r.info);
  return { rule: r.info, parts, message: renderMessage(parts, contextOf(event), 'literals') };
}

function buildIndex(rules: readonly CompiledRule[]): TargetIndex {
  const always: CompiledRule[] = [];
  const groups = new Map<string, Group>();
  let indexed = 0;
  for (const r of rules) {
    const field = pickField(r.requirements);
    if (field === undefined) {
      always.push(r);
      continue;
    }
    indexed++;
    let g = groups.get(field);
    if (g === undefined) {
      g = { field, byValue: new Map() };
      groups.set(field, g);
    }
    for (const v of r.requirements.get(field) as Set<unknown>) {
      const list = g.byValue.get(v);
      if (list === undefined) g.byValue.set(v, [r]);
      else list.push(r);
    }
  }
  return { always, groups: [...groups.values()], indexed };
}

/** The required field with the fewest values (NaN, the one value === and Map disagree on, is rejected at load). */
function pickField(req: Requirements): string | undefined {
  let best: string | undefined;
  let bestSize = Infinity;
  for (const [field, values] of req) {
    if (values.size > MAX_INDEX_VALUES) continue;
    const better =
      values.size < bestSize ||
      (values.size === bestSize && rank(field) < rank(best as string));
    if (better) {
      best = field;
      bestSize = values.size;
    }
  }
  return best;
}

function rank(field: string): number {
  const i = INDEX_PREFERENCE.indexOf(field);
  return i < 0 ? INDEX_PREFERENCE.length : i;
}
