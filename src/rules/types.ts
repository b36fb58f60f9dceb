/**
 * The shapes the rules modules share: a rule's identity (RuleInfo), a match, the RuleSet port the pipeline
 * evaluates through, a compiled rule and its message Template. Types only, imported by load.ts, compileRule.ts,
 * RuleSet.ts, template.ts and ruleTests.ts, so that none of them imports another just for a type (no import cycle).
 */
import type { Severity } from '../types.js';
import type { MessagePart } from '../redaction/index.js';
import type { EngineCondition, Event, Predicate, Requirements } from './compile.js';
import type { Cond } from './conditionEnv.js';
import type { RuleTarget } from './fields.js';
import type { Pos } from '../config/problems.js';

export interface RuleInfo {
  id: string;
  description: string;
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
  /** The enabled rules of `target` (default `activity`) that fire on `event`, in load order. */
  evaluate(event: Record<string, unknown>, target?: RuleTarget): RuleMatch[];
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
  requirements: Requirements;
  /** The IANA zone of its local-time fields (hour, weekday...): its `timeZone:`, else the files', else UTC. */
  timeZone: string;
  tests: { fires: RuleTestCase[]; doesNotFire: RuleTestCase[] } | undefined;
  /** What `validate --explain` shows (overrides.ts): the condition before exceptions, the exceptions, each property's origin. */
  explain?: { when: Cond; exceptions: { name: string; fields: string[]; values: unknown[][]; pos: Pos }[]; origins: RuleOrigin[] };
}

/** Where a property of a rule was set or changed: `how` is 'set', 'default', 'override: …' or 'append to …'. */
export interface RuleOrigin {
  property: string;
  pos: Pos;
  how: string;
}

/** json-rules-engine rule JSON (what `new Rule(...)` / `engine.addRule(...)` takes). */
export interface EngineRuleJson {
  name: string;
  conditions: EngineCondition;
  event: { type: string };
}

/** A compiled message template (template.ts `compileTemplate`): the message's parts for one event. */
export type Template = (event: Event, rule: RuleInfo) => MessagePart[];
