/**
 * The shapes the rules modules share: a rule's identity (RuleInfo), a match, the RuleSet port the pipeline
 * evaluates through, a compiled rule and its message Template. Types only, imported by load.ts, compileRule.ts,
 * RuleSet.ts, template.ts and ruleTests.ts, so that none of them imports another just for a type (no import cycle).
 */
import type { Severity } from '../types.js';
import type { MessagePart } from '../redaction/index.js';
import type { EngineCondition, Event, Predicate } from './compile.js';
import type { Cond } from './conditionEnv.js';
import type { RuleTarget } from './fields.js';
import type { Pos } from '../config/problems.js';

export interface RuleInfo {
  id: string;
  description: string;
  /** One line: what to check first when it fires (the rule's `runbook:`), or undefined. */
  runbook?: string;
  severity: Severity;
  tags: string[];
  target: RuleTarget;
  file: string;
  line: number;
  enabled: boolean;
}

export interface RuleMatch {
  rule: RuleInfo;
  /** The message template's parts, values as the event holds them: render them with src/redaction. */
  parts: MessagePart[];
  /** The message rendered under the default redaction (`literals`). */
  message: string;
}

export interface RuleSet {
  /** Every rule, enabled and disabled, in load order (files sorted, then position in the file). */
  readonly rules: readonly RuleInfo[];
  /** The files' top-level `packVersion:` (one value across the files), when one sets it. */
  readonly packVersion?: string | undefined;
  /**
   * What the rule files hold, as a digest (`sha256:` and 12 hex digits: rulesVersion in load.ts): the same files give
   * the same version wherever they are. Every alert a rule raises carries it (`rulesVersion`).
   */
  readonly version?: string | undefined;
  /**
   * The rule files it was compiled from (absent for a set built in code): what a worker thread compiles the same set
   * from (src/pipeline/workers/), loadRuleTexts giving the same rules and version.
   */
  readonly sources?: readonly RuleSourceText[] | undefined;
  /**
   * The rule set to evaluate one record (or one poll of RDS events) with, from its start to its end: this set, or
   * for a LiveRuleSet (hot reload, `run`) the one running now. Absent: this set.
   */
  pin?(): RuleSet;
  /**
   * The enabled rules of `target` (default `activity`) that fire on `event`, in load order; not those that only
   * feed correlations (`generate: false`, CompiledRule.feedsOnly).
   */
  evaluate(event: Record<string, unknown>, target?: RuleTarget): RuleMatch[];
  /** The enabled correlation rules an activity event feeds (absent: the set has no correlations). */
  baseMatches?(event: Record<string, unknown>): readonly CompiledRule[];
  /** `evaluate(event)` and `baseMatches(event)` of an activity event in one pass (absent: the two calls). Never changed by the caller. */
  evaluateActivity?(event: Record<string, unknown>): ActivityMatches;
  /** The enabled correlation rules. */
  readonly correlations?: readonly CompiledRule[];
}

/** What an activity event meets: the rules that fire on it and the correlations it feeds, in load order each. */
export interface ActivityMatches {
  readonly matches: readonly RuleMatch[];
  readonly bases: readonly CompiledRule[];
}

/** A rule file as loaded: its path, its name in the version (rulesVersion), its text. */
export interface RuleSourceText {
  file: string;
  name: string;
  text: string;
}

export interface RuleTestCase {
  event: Record<string, unknown>;
  pos: Pos;
}

export interface CompiledRule {
  info: RuleInfo;
  /** Position in load order. */
  order: number;
  cond: Cond;
  predicate: Predicate;
  template: Template;
  /** The IANA zone of its local-time fields (hour, weekday...): its `timeZone:`, else the files', else UTC. */
  timeZone: string;
  tests: { fires: RuleTestCase[]; doesNotFire: RuleTestCase[]; sequences?: SequenceTest[] } | undefined;
  /** What `validate --explain` shows (overrides.ts): the condition before exceptions, the exceptions, each property's origin. */
  explain?: { when: Cond; exceptions: { name: string; fields: string[]; values: unknown[][]; pos: Pos }[]; origins: RuleOrigin[] };
  /**
   * Its exceptions as one test (true: an exception silences the event), set by overrides.ts when it has any; already
   * part of `predicate`, and applied by linkCorrelations to a correlation's base events from its `rules:` and steps.
   */
  excepted?: Predicate;
  /** A correlation rule (stateful: src/rules/correlation.ts); never matched event by event. */
  correlation?: CorrelationSpec;
  /** The rule has its own `when:` (a correlation may have only `rules:`). */
  hasWhen?: boolean;
  /** A correlation's base events: its `when:` or any of its base rules (set by linkCorrelations). */
  basePredicate?: Predicate;
  /**
   * basePredicate in parts, set with it: it holds when one of the parts does and `excepted` does not. A part is its
   * `when:`, a base rule's or a step's predicate with the condition it was compiled from (what the rule set's index
   * of base events reads: RuleSet.ts); a base rule feeding several correlations is one part, tried once per event.
   */
  baseParts?: { predicate: Predicate; cond: Cond }[];
  /**
   * Set (load.ts, after overrides and linking) on a rule that does not alert on its own: the enabled correlations
   * that reference it, all with `generate: false` (none says true). Its predicate still feeds them, and its tests run.
   */
  feedsOnly?: string[];
}

/** Where a property of a rule was set or changed: `how` is 'set', 'default', 'override: …' or 'append to …'. */
export interface RuleOrigin {
  property: string;
  pos: Pos;
  how: string;
}

export type CorrelationType = 'event_count' | 'value_count' | 'value_sum' | 'sequence' | 'first_seen';
/** The types that fire when a count, distinct count or sum over a window reaches `gte`. */
export type ThresholdType = 'event_count' | 'value_count' | 'value_sum';

/** What every correlation has (docs/rules.md "Correlation rules"). */
interface CorrelationBase {
  /**
   * Base rule ids, each where it is written (with the rule's own `when:`, either matching is a base event). For a
   * sequence: every step's ids, in step order (each step's own are in `steps`).
   */
  rules: { id: string; pos: Pos }[];
  groupBy: string[];
  /** After firing, quiet for this long per group (default: the window; first_seen: 0). */
  realertMs: number;
  /**
   * Sigma's `generate` (default false): whether the base rules it references also alert on their own. A base rule
   * listed by an enabled correlation only feeds it, unless an enabled correlation listing it says true. Absent: false.
   */
  generate?: boolean;
}

/** event_count, value_count, value_sum: a threshold over a sliding window. */
export interface ThresholdCorrelation extends CorrelationBase {
  type: ThresholdType;
  windowMs: number;
  /** The window as written (shown in alerts). */
  window: string;
  /** value_count: the field whose distinct values count; value_sum: the numeric field summed. */
  field?: string;
  gte: number;
}

/** One step of a sequence: its base events are those of its rules or of its own `when:`, `gte` of them. */
export interface SequenceStep {
  pos: Pos;
  rules: { id: string; pos: Pos }[];
  /** Its inline `when:` (checked like a rule's), compiled to `predicate` by compileRule.ts in the rule's time zone. */
  when?: Cond;
  gte: number;
  /** Whether an event is one of this step's (its when:, or one of its rules: set by compileRule.ts and linkCorrelations). */
  predicate?: Predicate;
}

/** sequence: the steps in order within the window (Sigma's temporal_ordered, with a count per step). */
export interface SequenceCorrelation extends CorrelationBase {
  type: 'sequence';
  windowMs: number;
  window: string;
  steps: SequenceStep[];
}

/** first_seen: a combination of `fields` values not seen before for its group (ElastAlert's new_term). */
export interface FirstSeenCorrelation extends CorrelationBase {
  type: 'first_seen';
  /** The fields whose values make a combination (`field: remoteHost` is one). */
  fields: string[];
  /** From the rule's first base event (event time), nothing fires for this long. */
  learningMs: number;
  learning: string;
  /** A combination not seen for this long is new again (absent: never forgotten). */
  forgetMs?: number;
  forget?: string;
}

/** A rule's `correlation:` (docs/rules.md "Correlation rules"). */
export type CorrelationSpec = ThresholdCorrelation | SequenceCorrelation | FirstSeenCorrelation;

/** A timed sequence of `tests.sequences`: events at offsets, and the alerts expected. */
export interface SequenceTest {
  name: string;
  pos: Pos;
  events: { atMs: number; event: Record<string, unknown>; pos: Pos }[];
  /** Each expected alert: after which event (1-based), and optionally its group values. */
  expect: { after: number; group?: Record<string, unknown>; pos: Pos }[];
}

/** A correlation rule that fired (CorrelationEngine), before it becomes an alert. */
export interface CorrelationFiring {
  rule: RuleInfo;
  spec: CorrelationSpec;
  /** The groupBy fields' values (null: the event had no such field, the "missing" group). */
  group: Record<string, unknown>;
  /** The count, distinct count or sum that reached `gte` (sequence: the number of steps; first_seen: 1). */
  value: number;
  /** sequence: the contributing events of each step, in step order. */
  steps?: number[];
  /** first_seen: the new combination, each field's value (null: missing). */
  values?: Record<string, unknown>;
  /** Contributing events in the window. */
  events: number;
  firstTimeMs: number;
  lastTimeMs: number;
  /** The identity of the first contributing event (part of the alert id). */
  firstKey: string;
  /** The first and last contributing events as the state keeps them (shownEvent.ts: identity, who/where, the
   *  statement cut to 512 characters; redacted by the pipeline). */
  first: Record<string, unknown>;
  last: Record<string, unknown>;
}

/** json-rules-engine rule JSON (what `new Rule(...)` / `engine.addRule(...)` takes). */
export interface EngineRuleJson {
  name: string;
  conditions: EngineCondition;
  event: { type: string };
}

/** A compiled message template (template.ts `compileTemplate`): the message's parts for one event. */
export type Template = (event: Event, rule: RuleInfo) => MessagePart[];
