/**
 * The operand of a field test, checked against its operator and field: one value, a list (YAML, `$list` or
 * `{list: name}`), a number, text, a regular expression (compiled here, once) or a boolean, converted to what
 * json-rules-engine will receive. Every mistake is reported with its position (conditionEnv.ts `problem`), and the
 * value is then INVALID. condition.ts calls these for each `field: value` or `{fact, operator, value}` it parses.
 */
import { parseCidr, type ObjectMatch, type OperatorSpec, type RegexValue, regexOf } from './operators.js';
import { STATEMENT_OBJECT_KEYS } from './fields.js';
import { didYouMean } from '../config/didYouMean.js';
import { parseTimeRange, WEEKDAYS } from './localTime.js';
import type { Pos } from '../config/problems.js';
import { describeNode, type Scalar, type YNode } from '../config/yamlTree.js';
import { problem, type ConditionCtx, type FieldRef } from './conditionEnv.js';

export function checkFieldType(spec: OperatorSpec, ref: FieldRef, fieldName: string, pos: Pos, ctx: ConditionCtx): boolean {
  if (ref.fact === 'objects' && ref.path.length === 0 && (spec.name === 'contains' || spec.name === 'doesNotContain')) {
    // A list of {name, command, ...} never holds a plain value: the test could never be true (or never false).
    problem(ctx, pos, `operator '${spec.name}' cannot test objects: its entries are {${STATEMENT_OBJECT_KEYS.join(', ')}}, not names; use hasObject: {name: …}`);
    return false;
  }
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

/** What convertValue returns when it reported a problem. */
export const INVALID = Symbol('invalid');

/** `$name` names a list; `$$` starts a literal `$`. */
export function isListRef(s: string): boolean {
  return s.startsWith('$') && !s.startsWith('$$');
}

function unescapeDollar(v: Scalar): Scalar {
  return typeof v === 'string' && v.startsWith('$$') ? v.slice(1) : v;
}

/** The value of a condition as json-rules-engine will receive it, or INVALID (a problem was reported). */
export function convertValue(spec: OperatorSpec, ref: FieldRef, fieldName: string, node: YNode, ctx: ConditionCtx): unknown {
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
    case 'timeRange': {
      if (node.kind !== 'scalar' || typeof node.value !== 'string') {
        problem(ctx, node.pos, `'${op}' takes a time range in quotes, "HH:MM-HH:MM" (e.g. "22:00-06:00"), got ${describeNode(node)}`);
        return INVALID;
      }
      const r = parseTimeRange(node.value);
      if (typeof r === 'string') {
        problem(ctx, node.pos, `'${op}': ${r}`);
        return INVALID;
      }
      return r;
    }
    case 'objectMatch':
      return objectMatchOf(ref, fieldName, node, ctx, op);
    case 'boolean': {
      if (node.kind !== 'scalar' || typeof node.value !== 'boolean') {
        problem(ctx, node.pos, `'${op}' takes true or false, got ${describeNode(node)}`);
        return INVALID;
      }
      return node.value;
    }
  }
}

/**
 * The value of `hasObject`: a mapping of object keys (name, command, type, database) to one text, a YAML list of
 * texts, a `$list` or `{list: name}`; every mistake reported.
 */
function objectMatchOf(ref: FieldRef, fieldName: string, node: YNode, ctx: ConditionCtx, op: string): ObjectMatch | typeof INVALID {
  if (ref.fact !== 'objects' || ref.path.length > 0) {
    problem(ctx, node.pos, `'${op}' tests objects (the objects of a MySQL statement), not ${fieldName}`);
    return INVALID;
  }
  const keys = STATEMENT_OBJECT_KEYS.join(', ');
  if (node.kind !== 'map' || node.entries.length === 0) {
    problem(ctx, node.pos, `'${op}' takes a mapping of ${keys} to the values they may have (e.g. {name: $sensitive_tables, command: READ}), got ${describeNode(node)}`);
    return INVALID;
  }
  const out: Record<string, readonly string[]> = {};
  let ok = true;
  for (const e of node.entries) {
    if (!STATEMENT_OBJECT_KEYS.includes(e.key)) {
      problem(ctx, e.keyPos, `'${op}': unknown object key '${e.key}' (${keys})${didYouMean(e.key, STATEMENT_OBJECT_KEYS)}`);
      ok = false;
      continue;
    }
    let values: { v: Scalar; pos: Pos }[] | undefined;
    if (e.value.kind === 'scalar' && !(typeof e.value.value === 'string' && isListRef(e.value.value))) {
      values = [{ v: unescapeDollar(e.value.value), pos: e.value.pos }];
    } else values = listValues(e.value, ctx, `${op}: ${e.key}`);
    if (values === undefined) {
      ok = false;
      continue;
    }
    const texts: string[] = [];
    for (const { v, pos } of values) {
      if (typeof v !== 'string' || v === '') {
        problem(ctx, pos, `'${op}': ${e.key} takes text values, got ${v === '' ? 'empty text' : `${typeof v} ${String(v)}`}${typeof v === 'number' || typeof v === 'boolean' ? ': write it in quotes' : ''}`);
        ok = false;
      } else texts.push(v);
    }
    out[e.key] = texts;
  }
  return ok ? out : INVALID;
}

/** The values of a list operand: a YAML list (items may be `$list`), a `$list`, or `{list: name}`. */
function listValues(node: YNode, ctx: ConditionCtx, op: string): { v: Scalar; pos: Pos }[] | undefined {
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
function checkScalarType(v: Scalar, ref: FieldRef, fieldName: string, pos: Pos, ctx: ConditionCtx, op: string): boolean {
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
  if (ref.fact === 'weekday' && ref.path.length === 0 && !(WEEKDAYS as readonly unknown[]).includes(v)) {
    problem(ctx, pos, `weekday is one of ${WEEKDAYS.join(', ')}, and ${JSON.stringify(v)} never equals it${didYouMean(String(v).slice(0, 3).toLowerCase(), WEEKDAYS)}`);
    return false;
  }
  return true;
}
