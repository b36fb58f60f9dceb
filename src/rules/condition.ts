/**
 * `when:` conditions, from the YAML tree to a checked intermediate form (Cond), reporting every mistake with
 * its position. Accepted forms (docs/rules.md has examples):
 *
 *   all: [cond, ...]   any: [cond, ...]   not: cond   macro: name
 *   field: value                  equal (a `$list` or a YAML list means `in`)
 *   field: {operator: value, ...} several operators: all of them
 *   {fact, operator, value, path} json-rules-engine's own form
 *   several `field:` keys in one mapping: all of them
 *
 * This file parses the structure (all/any/not/macro, the two field-test forms) and bounds the tests a rule holds
 * once its macros are expanded; operands.ts checks the values compared with, conditionEnv.ts holds the shared
 * types, the problem reporting and field resolution.
 */
import { OPERATORS_BY_NAME, type OperatorSpec } from './operators.js';
import { IDENTIFIER_RE, type RuleTarget } from './fields.js';
import { MAX_CONDITION_TESTS, MAX_RULE_SET_TESTS } from '../limits.js';
import { didYouMean } from '../config/didYouMean.js';
import type { Pos } from '../config/problems.js';
import { describeNode, type YMap, type YNode } from '../config/yamlTree.js';
import {
  problem,
  resolveField,
  type Cond,
  type ConditionCtx,
  type ConditionEnv,
  type FieldRef,
  type Macro,
} from './conditionEnv.js';
import { checkFieldType, convertValue, INVALID, isListRef } from './operands.js';

const BOOLEAN_KEYS = ['all', 'any', 'not', 'macro'] as const;
const RAW_KEYS = new Set(['fact', 'operator', 'value', 'path']);

export function parseRuleCondition(node: YNode, env: ConditionEnv, target: RuleTarget, ruleId: string | undefined): Cond | undefined {
  const ctx: ConditionCtx = { env, target, ruleId, macro: undefined };
  const cond = parseCond(node, ctx);
  if (cond === undefined) return undefined;
  const tests = testCount(cond);
  if (tests > MAX_CONDITION_TESTS) {
    problem(ctx, node.pos, `the condition holds more than ${MAX_CONDITION_TESTS.toLocaleString('en-US')} tests once its macros are expanded (a macro bomb?)`);
    return undefined;
  }
  // The rules together are bounded too: each one is compiled with its macros expanded.
  const before = env.ruleSetTests;
  env.ruleSetTests += tests;
  if (before <= MAX_RULE_SET_TESTS && env.ruleSetTests > MAX_RULE_SET_TESTS) {
    problem(ctx, node.pos, `the rules hold more than ${MAX_RULE_SET_TESTS.toLocaleString('en-US')} tests in all once their macros are expanded (a macro bomb spread over many rules?)`);
    return undefined;
  }
  return cond;
}

/** Conditions are never changed once parsed, so a shared (macro) condition is counted once. */
const testCounts = new WeakMap<Cond, number>();

function testCount(c: Cond): number {
  let n = testCounts.get(c);
  if (n !== undefined) return n;
  n = c.kind === 'fact' ? 1 : c.kind === 'not' ? testCount(c.item) : c.items.reduce((sum, item) => sum + testCount(item), 0);
  testCounts.set(c, n);
  return n;
}

/** Checks a macro no rule uses, so its mistakes are reported anyway. */
export function checkUnusedMacro(macro: Macro, env: ConditionEnv): void {
  expandMacro(macro.name, macro.pos, { env, target: 'activity', ruleId: undefined, macro: undefined });
}
function parseCond(node: YNode, ctx: ConditionCtx): Cond | undefined {
  if (node.kind !== 'map') {
    if (node.kind === 'seq') {
      problem(ctx, node.pos, 'a condition is a mapping, not a list: write `all:` (or `any:`) above the list');
    } else {
      problem(ctx, node.pos, `a condition is a mapping (field: value, all:, any:, not:, macro:), got ${describeNode(node)}`);
    }
    return undefined;
  }
  if (node.entries.length === 0) {
    problem(ctx, node.pos, 'empty condition');
    return undefined;
  }
  const boolKey = node.entries.find((e) => (BOOLEAN_KEYS as readonly string[]).includes(e.key));
  if (boolKey !== undefined) {
    if (node.entries.length > 1) {
      const other = node.entries.find((e) => e !== boolKey) as YMap['entries'][number];
      problem(
        ctx,
        other.keyPos,
        `'${other.key}' cannot sit beside '${boolKey.key}' in one condition: put each condition in its own list item under all:/any:`,
      );
      return undefined;
    }
    return parseBoolean(boolKey.key, boolKey.value, boolKey.keyPos, ctx);
  }
  if (node.entries.some((e) => e.key === 'fact')) return parseRaw(node, ctx);

  const items: Cond[] = [];
  let ok = true;
  for (const e of node.entries) {
    const ref = resolveField(e.key, e.keyPos, ctx);
    if (ref === undefined) {
      ok = false;
      continue;
    }
    const c = parseFieldTest(ref, e.key, e.value, ctx);
    if (c === undefined) ok = false;
    else items.push(c);
  }
  if (!ok) return undefined;
  return items.length === 1 ? items[0] : { kind: 'all', items };
}

function parseBoolean(key: string, value: YNode, keyPos: Pos, ctx: ConditionCtx): Cond | undefined {
  if (key === 'all' || key === 'any') {
    if (value.kind !== 'seq') {
      problem(ctx, value.pos, `'${key}' takes a list of conditions, got ${describeNode(value)}`);
      return undefined;
    }
    if (value.items.length === 0) {
      // json-rules-engine holds an empty all AND an empty any true: never what the author meant.
      problem(ctx, value.pos, `'${key}' has no conditions`);
      return undefined;
    }
    const items: Cond[] = [];
    let ok = true;
    for (const it of value.items) {
      const c = parseCond(it, ctx);
      if (c === undefined) ok = false;
      else items.push(c);
    }
    return ok ? { kind: key, items } : undefined;
  }
  if (key === 'not') {
    if (value.kind === 'seq') {
      problem(ctx, value.pos, "'not' takes one condition, not a list: write `not: {any: [...]}` or `not: {all: [...]}`");
      return undefined;
    }
    const item = parseCond(value, ctx);
    return item === undefined ? undefined : { kind: 'not', item };
  }
  // macro
  if (value.kind !== 'scalar' || typeof value.value !== 'string' || value.value === '') {
    problem(ctx, value.pos, `'macro' takes a macro name, got ${describeNode(value)}`);
    return undefined;
  }
  return expandMacro(value.value, keyPos, ctx);
}

function expandMacro(name: string, pos: Pos, ctx: ConditionCtx): Cond | undefined {
  const env = ctx.env;
  const macro = env.macros.get(name);
  if (macro === undefined) {
    if (!env.incomplete) problem(ctx, pos, `unknown macro '${name}'${didYouMean(name, env.macros.keys())}`);
    return undefined;
  }
  if (env.macroStack.includes(name)) {
    const cycle = [...env.macroStack.slice(env.macroStack.indexOf(name)), name].join(' -> ');
    problem(ctx, pos, `macro cycle: ${cycle}`);
    return undefined;
  }
  const key = `${ctx.target}\0${name}`;
  if (env.macroCache.has(key)) return env.macroCache.get(key);
  env.macroStack.push(name);
  const c = parseCond(macro.node, { env, target: ctx.target, ruleId: ctx.ruleId, macro: name });
  env.macroStack.pop();
  env.macroCache.set(key, c);
  return c;
}

function parseRaw(node: YMap, ctx: ConditionCtx): Cond | undefined {
  let ok = true;
  const get = (k: string): YMap['entries'][number] | undefined => node.entries.find((e) => e.key === k);
  for (const e of node.entries) {
    if (!RAW_KEYS.has(e.key)) {
      problem(ctx, e.keyPos, `unknown key '${e.key}' in a {fact, operator, value} condition${didYouMean(e.key, RAW_KEYS)}`);
      ok = false;
    }
  }
  const fact = get('fact');
  const operator = get('operator');
  const value = get('value');
  const path = get('path');
  for (const [k, e] of [['operator', operator], ['value', value]] as const) {
    if (e === undefined) {
      problem(ctx, node.pos, `a {fact, operator, value} condition needs '${k}'`);
      ok = false;
    }
  }
  if (!ok || fact === undefined || operator === undefined || value === undefined) return undefined;
  if (fact.value.kind !== 'scalar' || typeof fact.value.value !== 'string') {
    problem(ctx, fact.value.pos, `'fact' takes a field name, got ${describeNode(fact.value)}`);
    return undefined;
  }
  let fieldName = fact.value.value;
  if (path !== undefined) {
    const p = path.value.kind === 'scalar' ? path.value.value : null;
    const m = typeof p === 'string' ? /^\$((?:\.[A-Za-z_][A-Za-z0-9_]*)+)$/.exec(p) : null;
    if (m === null || m[1] === undefined) {
      problem(ctx, path.value.pos, "'path' supports only simple paths like '$.OS_USERNAME' or '$.a.b'");
      return undefined;
    }
    fieldName += m[1];
  }
  const ref = resolveField(fieldName, fact.value.pos, ctx);
  if (ref === undefined) return undefined;
  if (operator.value.kind !== 'scalar' || typeof operator.value.value !== 'string') {
    problem(ctx, operator.value.pos, `'operator' takes an operator name, got ${describeNode(operator.value)}`);
    return undefined;
  }
  const spec = lookupOperator(operator.value.value, operator.value.pos, ref, fieldName, ctx);
  if (spec === undefined) return undefined;
  // json-rules-engine compares with another fact when the value is {fact: name}.
  if (value.value.kind === 'map' && value.value.entries.some((e) => e.key === 'fact')) {
    const inner = value.value.entries;
    const f = inner.find((e) => e.key === 'fact');
    const bad = inner.find((e) => e.key !== 'fact' && e.key !== 'path');
    if (bad !== undefined || f === undefined || f.value.kind !== 'scalar' || typeof f.value.value !== 'string') {
      problem(ctx, value.value.pos, "a fact value is written {fact: fieldName} (optionally with path: '$.key')");
      return undefined;
    }
    if (spec.value !== 'scalar' && spec.value !== 'number' && spec.value !== 'string') {
      problem(ctx, value.value.pos, `'${spec.name}' cannot compare with another field`);
      return undefined;
    }
    let otherName = f.value.value;
    const vp = inner.find((e) => e.key === 'path');
    if (vp !== undefined) {
      const p = vp.value.kind === 'scalar' ? vp.value.value : null;
      const m = typeof p === 'string' ? /^\$((?:\.[A-Za-z_][A-Za-z0-9_]*)+)$/.exec(p) : null;
      if (m === null || m[1] === undefined) {
        problem(ctx, vp.value.pos, "'path' supports only simple paths like '$.OS_USERNAME'");
        return undefined;
      }
      otherName += m[1];
    }
    const valueRef = resolveField(otherName, f.value.pos, ctx);
    if (valueRef === undefined) return undefined;
    return { kind: 'fact', ref, operator: spec.name, value: undefined, valueRef };
  }
  const v = convertValue(spec, ref, fieldName, value.value, ctx);
  if (v === INVALID) return undefined;
  return { kind: 'fact', ref, operator: spec.name, value: v };
}

function parseFieldTest(ref: FieldRef, fieldName: string, node: YNode, ctx: ConditionCtx): Cond | undefined {
  if (node.kind === 'scalar') {
    const v = node.value;
    if (typeof v === 'string' && isListRef(v)) {
      const spec = OPERATORS_BY_NAME.get('in') as OperatorSpec;
      if (!checkFieldType(spec, ref, fieldName, node.pos, ctx)) return undefined;
      const value = convertValue(spec, ref, fieldName, node, ctx);
      return value === INVALID ? undefined : { kind: 'fact', ref, operator: 'in', value };
    }
    const spec = OPERATORS_BY_NAME.get('equal') as OperatorSpec;
    if (!checkFieldType(spec, ref, fieldName, node.pos, ctx)) return undefined;
    const value = convertValue(spec, ref, fieldName, node, ctx);
    return value === INVALID ? undefined : { kind: 'fact', ref, operator: 'equal', value };
  }
  if (node.kind === 'seq') {
    const spec = OPERATORS_BY_NAME.get('in') as OperatorSpec;
    if (!checkFieldType(spec, ref, fieldName, node.pos, ctx)) return undefined;
    const value = convertValue(spec, ref, fieldName, node, ctx);
    return value === INVALID ? undefined : { kind: 'fact', ref, operator: 'in', value };
  }
  if (node.entries.length === 0) {
    problem(ctx, node.pos, `no operator for '${fieldName}'`);
    return undefined;
  }
  const items: Cond[] = [];
  let ok = true;
  for (const e of node.entries) {
    const spec = lookupOperator(e.key, e.keyPos, ref, fieldName, ctx);
    if (spec === undefined) {
      ok = false;
      continue;
    }
    const value = convertValue(spec, ref, fieldName, e.value, ctx);
    if (value === INVALID) ok = false;
    else items.push({ kind: 'fact', ref, operator: spec.name, value });
  }
  if (!ok) return undefined;
  return items.length === 1 ? items[0] : { kind: 'all', items };
}

function lookupOperator(name: string, pos: Pos, ref: FieldRef, fieldName: string, ctx: ConditionCtx): OperatorSpec | undefined {
  const spec = OPERATORS_BY_NAME.get(name);
  if (spec === undefined) {
    let hint = didYouMean(name, OPERATORS_BY_NAME.keys());
    if (hint === '' && (ref.type === 'object' || ref.type === 'any') && IDENTIFIER_RE.test(name)) {
      hint = ` (to test a key of ${fieldName}, write '${fieldName}.${name}: ...')`;
    }
    problem(ctx, pos, `unknown operator '${name}'${hint}`);
    return undefined;
  }
  return checkFieldType(spec, ref, fieldName, pos, ctx) ? spec : undefined;
}
