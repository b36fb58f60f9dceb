/**
 * `when:` conditions, from the YAML tree to a checked intermediate form (Cond), reporting every mistake with
 * its position. Accepted forms (docs/rules.md has examples):
 *
 *   all: [cond, ...]   any: [cond, ...]   not: cond   macro: name
 *   field: value                  equal (a `$list` or a YAML list means `in`)
 *   field: {operator: value, ...} several operators: all of them
 *   {fact, operator, value, path} json-rules-engine's own form
 *   several `field:` keys in one mapping: all of them
 */
import { OPERATORS_BY_NAME, parseCidr, type OperatorSpec, type RegexValue, regexOf } from './operators.js';
import {
  IDENTIFIER_RE,
  NATIVE_AUDIT_FIELDS,
  RESERVED_NAMES,
  type FieldType,
  type RuleTarget,
} from './fields.js';
import { MAX_CONDITION_TESTS, MAX_RULE_SET_TESTS } from '../limits.js';
import { didYouMean } from '../config/didYouMean.js';
import type { Pos, ProblemList } from '../config/problems.js';
import { describeNode, type Scalar, type YMap, type YNode } from '../config/yamlTree.js';

/** A field reference: top-level fact and the keys below it (`engineNativeAuditFields.OS_USERNAME`). */
export interface FieldRef {
  fact: string;
  path: readonly string[];
  type: FieldType;
}

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
}

interface Ctx {
  env: ConditionEnv;
  target: RuleTarget;
  ruleId: string | undefined;
  /** Set inside a macro: problems there name the macro, not the rule that uses it. */
  macro: string | undefined;
}

const BOOLEAN_KEYS = ['all', 'any', 'not', 'macro'] as const;
const RAW_KEYS = new Set(['fact', 'operator', 'value', 'path']);


export function parseRuleCondition(node: YNode, env: ConditionEnv, target: RuleTarget, ruleId: string | undefined): Cond | undefined {
  const ctx: Ctx = { env, target, ruleId, macro: undefined };
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

function problem(ctx: Ctx, pos: Pos, message: string): void {
  const msg = ctx.macro !== undefined ? `macro '${ctx.macro}': ${message}` : message;
  ctx.env.problems.add(pos, msg, ctx.macro !== undefined ? undefined : ctx.ruleId);
}

function warning(ctx: Ctx, pos: Pos, message: string): void {
  const msg = ctx.macro !== undefined ? `macro '${ctx.macro}': ${message}` : message;
  ctx.env.problems.warn(pos, msg, ctx.macro !== undefined ? undefined : ctx.ruleId);
}

function parseCond(node: YNode, ctx: Ctx): Cond | undefined {
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

function parseBoolean(key: string, value: YNode, keyPos: Pos, ctx: Ctx): Cond | undefined {
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

function expandMacro(name: string, pos: Pos, ctx: Ctx): Cond | undefined {
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

function parseRaw(node: YMap, ctx: Ctx): Cond | undefined {
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

function parseFieldTest(ref: FieldRef, fieldName: string, node: YNode, ctx: Ctx): Cond | undefined {
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

function lookupOperator(name: string, pos: Pos, ref: FieldRef, fieldName: string, ctx: Ctx): OperatorSpec | undefined {
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

function checkFieldType(spec: OperatorSpec, ref: FieldRef, fieldName: string, pos: Pos, ctx: Ctx): boolean {
  if (spec.fieldTypes.includes(ref.type)) return true;
  let hint = '';
  if (ref.type === 'string' && (spec.name === 'contains' || spec.name === 'doesNotContain')) {
    hint = ": json-rules-engine's contains tests list membership; for text use containsText (case-insensitive) or matches";
  } else if (ref.type === 'string' && spec.value === 'number') {
    hint = fieldName.endsWith('Time') ? ` (compare ${fieldName}Ms, epoch milliseconds)` : '';
    hint = `: ${fieldName} is text${hint}`;
  } else if (ref.type === 'number' && spec.fieldTypes.includes('string')) {
    hint = `: ${fieldName} is a number; use eq, in, gt, lt...`;
  } else if (ref.type === 'object') {
    hint = `: ${fieldName} is an object; test one of its keys with '${fieldName}.KEY'`;
  } else if (ref.type === 'array') {
    hint = `: ${fieldName} is a list; use contains / doesNotContain / exists`;
  }
  problem(ctx, pos, `operator '${spec.name}' cannot test ${fieldName} (${ref.type})${hint}`);
  return false;
}

const INVALID = Symbol('invalid');

function isListRef(s: string): boolean {
  return s.startsWith('$') && !s.startsWith('$$');
}

function unescapeDollar(v: Scalar): Scalar {
  return typeof v === 'string' && v.startsWith('$$') ? v.slice(1) : v;
}

/** The value of a condition as json-rules-engine will receive it, or INVALID (a problem was reported). */
function convertValue(spec: OperatorSpec, ref: FieldRef, fieldName: string, node: YNode, ctx: Ctx): unknown {
  const op = spec.name;
  switch (spec.value) {
    case 'scalar': {
      if (node.kind !== 'scalar') {
        problem(ctx, node.pos, `'${op}' takes one value, got ${describeNode(node)}${op === 'equal' ? ' (for several values use in:)' : ''}`);
        return INVALID;
      }
      if (typeof node.value === 'string' && isListRef(node.value)) {
        problem(ctx, node.pos, `'${op}' takes one value; to test a list write in: ${node.value}`);
        return INVALID;
      }
      const v = unescapeDollar(node.value);
      return checkScalarType(v, ref, fieldName, node.pos, ctx, op) ? v : INVALID;
    }
    case 'scalarList':
    case 'stringList':
    case 'cidrList': {
      const values = listValues(node, ctx, op);
      if (values === undefined) return INVALID;
      let ok = true;
      for (const { v, pos } of values) {
        if (spec.value === 'scalarList') {
          if (!checkScalarType(v, ref, fieldName, pos, ctx, op)) ok = false;
        } else if (typeof v !== 'string') {
          problem(ctx, pos, `'${op}' takes text values, got ${typeof v} ${String(v)}${v === null ? '' : ": write it in quotes"}`);
          ok = false;
        } else if (spec.value === 'cidrList' && parseCidr(v) === undefined) {
          problem(ctx, pos, `'${op}': ${JSON.stringify(v)} is not an IPv4/IPv6 address or CIDR (e.g. 10.0.0.0/8, fd00::/8)`);
          ok = false;
        }
      }
      return ok ? values.map((x) => x.v) : INVALID;
    }
    case 'number': {
      if (node.kind !== 'scalar' || typeof node.value !== 'number' || !Number.isFinite(node.value)) {
        const quoted = node.kind === 'scalar' && typeof node.value === 'string' && /^-?\d+(\.\d+)?$/.test(node.value);
        problem(ctx, node.pos, `'${op}' takes a number, got ${describeNode(node)}${quoted ? ': write it without quotes' : ''}`);
        return INVALID;
      }
      return node.value;
    }
    case 'string': {
      if (node.kind !== 'scalar' || typeof node.value !== 'string') {
        const hint = node.kind === 'scalar' && typeof node.value === 'number' ? ': write it in quotes' : '';
        problem(ctx, node.pos, `'${op}' takes text, got ${describeNode(node)}${hint}`);
        return INVALID;
      }
      if (node.value === '' && op !== 'equalIgnoreCase' && op !== 'notEqualIgnoreCase') {
        problem(ctx, node.pos, `'${op}' with empty text is always true for text: use exists:`);
        return INVALID;
      }
      return node.value;
    }
    case 'regex': {
      let pattern: Scalar | undefined;
      let flags = '';
      let flagsPos = node.pos;
      if (node.kind === 'scalar') pattern = node.value;
      else if (node.kind === 'map') {
        for (const e of node.entries) {
          if (e.key === 'pattern' && e.value.kind === 'scalar') pattern = e.value.value;
          else if (e.key === 'flags' && e.value.kind === 'scalar' && typeof e.value.value === 'string') {
            flags = e.value.value;
            flagsPos = e.value.pos;
          } else {
            problem(ctx, e.keyPos, `'${op}' takes a pattern or {pattern, flags}; unexpected '${e.key}'`);
            return INVALID;
          }
        }
      }
      if (typeof pattern !== 'string' || pattern === '') {
        problem(ctx, node.pos, `'${op}' takes a regular expression (text) or {pattern, flags}, got ${describeNode(node)}`);
        return INVALID;
      }
      if (!/^[imsuv]*$/.test(flags) || new Set(flags).size !== flags.length) {
        problem(ctx, flagsPos, `'${op}': bad regex flags '${flags}' (allowed: i, m, s, u, v; g and y would make matching depend on the previous event)`);
        return INVALID;
      }
      const value: RegexValue = { regex: pattern, flags };
      try {
        regexOf(value); // compiled once, here; cached on the value object
      } catch (err) {
        problem(ctx, node.pos, `'${op}': invalid regular expression /${pattern}/${flags}: ${(err as Error).message}`);
        return INVALID;
      }
      return value;
    }
    case 'boolean': {
      if (node.kind !== 'scalar' || typeof node.value !== 'boolean') {
        problem(ctx, node.pos, `'${op}' takes true or false, got ${describeNode(node)}`);
        return INVALID;
      }
      return node.value;
    }
  }
}

/** The values of a list operand: a YAML list (items may be `$list`), a `$list`, or `{list: name}`. */
function listValues(node: YNode, ctx: Ctx, op: string): { v: Scalar; pos: Pos }[] | undefined {
  const out: { v: Scalar; pos: Pos }[] = [];
  const addList = (name: string, pos: Pos): boolean => {
    const list = ctx.env.lists.get(name);
    if (list === undefined) {
      if (!ctx.env.incomplete) problem(ctx, pos, `unknown list '${name}'${didYouMean(name, ctx.env.lists.keys())}`);
      return false;
    }
    for (const v of list.values) out.push({ v, pos: list.pos });
    return true;
  };
  let ok = true;
  if (node.kind === 'scalar') {
    if (typeof node.value === 'string' && isListRef(node.value)) ok = addList(node.value.slice(1), node.pos);
    else if (op === 'inCidr' || op === 'notInCidr') out.push({ v: node.value, pos: node.pos });
    else {
      problem(ctx, node.pos, `'${op}' takes a list ([a, b] or $listName), got ${describeNode(node)}`);
      return undefined;
    }
  } else if (node.kind === 'map') {
    const e = node.entries[0];
    if (node.entries.length !== 1 || e === undefined || e.key !== 'list' || e.value.kind !== 'scalar' || typeof e.value.value !== 'string') {
      problem(ctx, node.pos, `'${op}' takes a list ([a, b], $listName or {list: listName}), got ${describeNode(node)}`);
      return undefined;
    }
    ok = addList(e.value.value, e.value.pos);
  } else {
    for (const it of node.items) {
      if (it.kind !== 'scalar') {
        problem(ctx, it.pos, `list items are single values, got ${describeNode(it)}`);
        ok = false;
      } else if (typeof it.value === 'string' && isListRef(it.value)) {
        if (!addList(it.value.slice(1), it.pos)) ok = false;
      } else out.push({ v: unescapeDollar(it.value), pos: it.pos });
    }
  }
  if (!ok) return undefined;
  if (out.length === 0) {
    problem(ctx, node.pos, `'${op}' has an empty list`);
    return undefined;
  }
  return out;
}

/** A scalar compared by === with a field of this type: reject what can never be equal. */
function checkScalarType(v: Scalar, ref: FieldRef, fieldName: string, pos: Pos, ctx: Ctx, op: string): boolean {
  if (typeof v === 'number' && !Number.isFinite(v)) {
    problem(ctx, pos, `'${op}': ${String(v)} is not a usable value`);
    return false;
  }
  if (v === null || ref.type === 'any') return true;
  const t = typeof v;
  if (ref.type === 'string' && t !== 'string') {
    problem(ctx, pos, `${fieldName} is text and ${t} ${String(v)} never equals it: write '${String(v)}' in quotes`);
    return false;
  }
  if (ref.type === 'number' && t !== 'number') {
    const numeric = t === 'string' && /^-?\d+(\.\d+)?$/.test(v as string);
    problem(ctx, pos, `${fieldName} is a number and ${t} ${JSON.stringify(v)} never equals it${numeric ? ': write it without quotes' : ''}`);
    return false;
  }
  if (ref.type === 'boolean' && t !== 'boolean') {
    problem(ctx, pos, `${fieldName} is true/false and ${t} ${JSON.stringify(v)} never equals it`);
    return false;
  }
  return true;
}

/** `name` or `object.key.key` -> FieldRef, or undefined after reporting why not. */
export function resolveField(name: string, pos: Pos, ctx: { env: ConditionEnv; target: RuleTarget; ruleId: string | undefined; macro?: string | undefined }): FieldRef | undefined {
  const c: Ctx = { env: ctx.env, target: ctx.target, ruleId: ctx.ruleId, macro: ctx.macro };
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
