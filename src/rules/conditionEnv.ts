/**
 * The checked form of a `when:` condition (Cond, with FieldRef for each field it tests) and what every check of a
 * load shares: the environment (fields, lists, macros, the problem list), the context of one check (the rule, or
 * the macro being expanded: problems found inside a macro name the macro) and field names resolved to FieldRef.
 * condition.ts parses the structure of a condition, operands.ts the values it compares with; both report here.
 */
import {
  IDENTIFIER_RE,
  NATIVE_AUDIT_FIELDS,
  RESERVED_NAMES,
  type FieldType,
  type RuleTarget,
} from './fields.js';
import { didYouMean } from '../config/didYouMean.js';
import type { Pos, ProblemList } from '../config/problems.js';
import type { Scalar, YNode } from '../config/yamlTree.js';

/** A field reference: top-level fact and the keys below it (`engineNativeAuditFields.OS_USERNAME`). */
export interface FieldRef {
  fact: string;
  path: readonly string[];
  type: FieldType;
}

/** A checked condition: what compile.ts turns into json-rules-engine JSON and a closure. */
export type Cond =
  | { kind: 'all' | 'any'; items: Cond[] }
  | { kind: 'not'; item: Cond }
  | { kind: 'fact'; ref: FieldRef; operator: string; value: unknown; valueRef?: FieldRef };

export interface NamedList {
  name: string;
  values: Scalar[];
  pos: Pos;
}

export interface Macro {
  name: string;
  node: YNode;
  pos: Pos;
}

/** What condition parsing needs to know, shared by every rule of a load. */
export interface ConditionEnv {
  problems: ProblemList;
  /** Top-level fields per target (built-in + declared). */
  fields: Record<RuleTarget, Map<string, FieldType>>;
  /** Declared keys below object fields (`engineNativeAuditFields.NEW_KEY`). */
  nestedFields: Map<string, FieldType>;
  lists: Map<string, NamedList>;
  macros: Map<string, Macro>;
  /** Some file could not be parsed: a list or macro it may define is not reported as unknown. */
  incomplete: boolean;
  /** Macros compiled per target (`target\0name`); undefined while in progress or when broken. */
  macroCache: Map<string, Cond | undefined>;
  macroStack: string[];
  /** Field tests of the rules parsed so far, macros expanded (bounded by MAX_RULE_SET_TESTS). */
  ruleSetTests: number;
  /** The rule files' `timeZone:` (UTC when none sets it): the zone of a rule without its own. */
  timeZone: string;
}

/** One check: the load's environment, the rule's target and id, the macro being expanded (if any). */
export interface ConditionCtx {
  env: ConditionEnv;
  target: RuleTarget;
  ruleId: string | undefined;
  /** Set inside a macro: problems there name the macro, not the rule that uses it. */
  macro: string | undefined;
}

/** An error of this check; inside a macro it names the macro (and no rule: every user shares the mistake). */
export function problem(ctx: ConditionCtx, pos: Pos, message: string): void {
  const msg = ctx.macro !== undefined ? `macro '${ctx.macro}': ${message}` : message;
  ctx.env.problems.add(pos, msg, ctx.macro !== undefined ? undefined : ctx.ruleId);
}

function warning(ctx: ConditionCtx, pos: Pos, message: string): void {
  const msg = ctx.macro !== undefined ? `macro '${ctx.macro}': ${message}` : message;
  ctx.env.problems.warn(pos, msg, ctx.macro !== undefined ? undefined : ctx.ruleId);
}

/** `name` or `object.key.key` -> FieldRef, or undefined after reporting why not. */
export function resolveField(name: string, pos: Pos, ctx: { env: ConditionEnv; target: RuleTarget; ruleId: string | undefined; macro?: string | undefined }): FieldRef | undefined {
  const c: ConditionCtx = { env: ctx.env, target: ctx.target, ruleId: ctx.ruleId, macro: ctx.macro };
  const fields = ctx.env.fields[ctx.target];
  const parts = name.split('.');
  const top = parts[0] as string;
  const type = fields.get(top);
  if (type === undefined || RESERVED_NAMES.has(top)) {
    const where = ctx.target === 'rds-event' ? ' of an RDS event' : '';
    const hint = didYouMean(top, fields.keys()) || (ctx.target === 'activity' ? ' (declare fields AWS adds later under `fields:`)' : '');
    problem(c, pos, `unknown field '${top}'${where}${hint}`);
    return undefined;
  }
  const path = parts.slice(1);
  if (path.length === 0) return { fact: top, path, type };
  if (type !== 'object' && type !== 'any') {
    problem(c, pos, `${top} is ${type === 'array' ? 'a list' : type === 'string' ? 'text' : `a ${type}`}: it has no keys to test ('${name}')`);
    return undefined;
  }
  for (const p of path) {
    if (!IDENTIFIER_RE.test(p)) {
      problem(c, pos, `'${name}': '${p}' is not a plain key name (letters, digits, _)`);
      return undefined;
    }
  }
  const declared = ctx.env.nestedFields.get(name);
  if (declared !== undefined) return { fact: top, path, type: declared };
  if (top === 'engineNativeAuditFields') {
    const key = path[0] as string;
    if (!NATIVE_AUDIT_FIELDS.includes(key)) {
      const sameIgnoringCase = NATIVE_AUDIT_FIELDS.find((k) => k.toLowerCase() === key.toLowerCase());
      if (sameIgnoringCase !== undefined) {
        problem(c, pos, `unknown key '${key}' of engineNativeAuditFields (keys are case-sensitive: did you mean '${sameIgnoringCase}'?)`);
        return undefined;
      }
      warning(c, pos, `'${name}' is not a key AWS documents${didYouMean(key, NATIVE_AUDIT_FIELDS)}; declare it under \`fields:\` to silence this`);
    }
  }
  return { fact: top, path, type: 'any' };
}
