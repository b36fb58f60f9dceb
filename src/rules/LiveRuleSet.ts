/**
 * The rule set of a process that reloads its rules (`run`: SIGHUP, --watch-rules; src/commands/ruleReload.ts): one
 * RuleSet whose contents `swap` replaces. A record is evaluated with ONE set from its start to its end: processRecord
 * `pin`s the set running when the record's turn to be processed comes (in record order), so a swap takes effect
 * between records; records already in flight finish with the set they started with.
 */
import type { RuleTarget } from './fields.js';
import type { ActivityMatches, CompiledRule, RuleInfo, RuleMatch, RuleSet } from './types.js';

export class LiveRuleSet implements RuleSet {
  #current: RuleSet;

  constructor(initial: RuleSet) {
    this.#current = initial.pin?.() ?? initial;
  }

  /** The set running now (what a record processed from now on is evaluated with). */
  pin(): RuleSet {
    return this.#current;
  }

  /** From now on, records are evaluated with `next`; returns the set it replaces. */
  swap(next: RuleSet): RuleSet {
    const old = this.#current;
    this.#current = next.pin?.() ?? next;
    return old;
  }

  get rules(): readonly RuleInfo[] {
    return this.#current.rules;
  }

  get packVersion(): string | undefined {
    return this.#current.packVersion;
  }

  get version(): string | undefined {
    return this.#current.version;
  }

  get sources(): RuleSet['sources'] {
    return this.#current.sources;
  }

  get correlations(): readonly CompiledRule[] | undefined {
    return this.#current.correlations;
  }

  evaluate(event: Record<string, unknown>, target?: RuleTarget): RuleMatch[] {
    return this.#current.evaluate(event, target);
  }

  baseMatches(event: Record<string, unknown>): readonly CompiledRule[] {
    return this.#current.baseMatches?.(event) ?? [];
  }

  evaluateActivity(event: Record<string, unknown>): ActivityMatches {
    const current = this.#current;
    return current.evaluateActivity?.(event) ?? { matches: current.evaluate(event), bases: current.baseMatches?.(event) ?? [] };
  }
}
