/**
 * A checked condition (Cond) compiled twice, from the same values:
 * - to json-rules-engine rule JSON (what a json-rules-engine Engine runs: the reference semantics);
 * - to a synchronous closure that calls the SAME json-rules-engine Operator objects and reproduces the
 *   Engine's all/any/not and fact lookup, without promises, almanacs or JSONPath. The differential test
 *   (test/e2e/rules-differential.test.ts) holds the two to the same answers.
 *
 * What the closure reproduces of json-rules-engine 7 (node_modules/json-rules-engine/dist):
 * - a fact the event lacks is `undefined` (the Engine runs with `allowUndefinedFacts`);
 * - `path` ($.a.b) on a fact that is null or not an object yields the fact value itself (Almanac.factValue);
 *   otherwise each key is followed while the current value is truthy and has it as an OWN property
 *   (JSONPath-plus), else undefined;
 * - a condition holds when `operator.evaluate(fact, value)` (validator && callback) is true; all/any/not as
 *   usual (our operators all return booleans; empty all/any are rejected at load);
 * - a value `{fact: name}` is that fact's value;
 * - the local-time fields (hour, minute, weekday, date, timeOfDay: localTime.ts) are dynamic facts of the Engine
 *   (RuleSet.ts referenceEngine) with the rule's zone as `params.timeZone`; the closure computes them the same way.
 */
import type { Cond, FieldRef } from './conditionEnv.js';
import type { EngineOperator } from './operators.js';
import { fieldReader } from '../util/fieldReader.js';
import { ACTIVITY_FIELD_SPECS } from './fields.js';
import { DEFAULT_TIME_ZONE, isLocalTimeField, localTimeField } from './localTime.js';

export type Event = Record<string, unknown>;
export type Predicate = (event: Event) => boolean;
export type Accessor = (event: Event) => unknown;

/** json-rules-engine condition JSON. */
export type EngineCondition =
  | { all: EngineCondition[] }
  | { any: EngineCondition[] }
  | { not: EngineCondition }
  | { fact: string; operator: string; value: unknown; path?: string; params?: { timeZone: string } };

function toEngineCondition(c: Cond, timeZone: string): EngineCondition {
  switch (c.kind) {
    case 'all':
      return { all: c.items.map((i) => toEngineCondition(i, timeZone)) };
    case 'any':
      return { any: c.items.map((i) => toEngineCondition(i, timeZone)) };
    case 'not':
      return { not: toEngineCondition(c.item, timeZone) };
    case 'fact': {
      const value =
        c.valueRef !== undefined
          ? c.valueRef.path.length > 0
            ? { fact: c.valueRef.fact, path: jsonPath(c.valueRef) }
            : isLocalTime(c.valueRef)
              ? { fact: c.valueRef.fact, params: { timeZone } }
              : { fact: c.valueRef.fact }
          : c.value;
      const out: { fact: string; operator: string; value: unknown; path?: string; params?: { timeZone: string } } = { fact: c.ref.fact, operator: c.operator, value };
      if (c.ref.path.length > 0) out.path = jsonPath(c.ref);
      if (isLocalTime(c.ref)) out.params = { timeZone };
      return out;
    }
  }
}

/** A rule's top-level conditions: json-rules-engine wants all/any/not at the root. */
export function toEngineRoot(c: Cond, timeZone: string = DEFAULT_TIME_ZONE): EngineCondition {
  const e = toEngineCondition(c, timeZone);
  return c.kind === 'fact' ? { all: [e] } : e;
}

function jsonPath(ref: FieldRef): string {
  return '$.' + ref.path.join('.');
}

function isLocalTime(ref: FieldRef): boolean {
  return ref.path.length === 0 && isLocalTimeField(ref.fact);
}

/** How a field is read; a local-time field is computed in `timeZone` (the rule's). */
export function accessorOf(ref: FieldRef, timeZone: string = DEFAULT_TIME_ZONE): Accessor {
  const fact = ref.fact;
  const path = ref.path;
  if (path.length === 0 && isLocalTimeField(fact)) return (e) => localTimeField(e, fact, timeZone);
  if (path.length === 0) return fieldReader(fact);
  if (path.length === 1) {
    const k = path[0] as string;
    return (e) => {
      const base = e[fact];
      if (base === null || typeof base !== 'object') return base;
      return Object.hasOwn(base, k) ? (base as Record<string, unknown>)[k] : undefined;
    };
  }
  return (e) => {
    const base = e[fact];
    if (base === null || typeof base !== 'object') return base;
    let cur: unknown = base;
    for (const k of path) {
      if (cur && Object.hasOwn(cur as object, k)) cur = (cur as Record<string, unknown>)[k];
      else return undefined;
    }
    return cur;
  };
}

export function compilePredicate(c: Cond, operators: ReadonlyMap<string, EngineOperator>, timeZone: string = DEFAULT_TIME_ZONE): Predicate {
  switch (c.kind) {
    case 'all': {
      const items = c.items.map((i) => compilePredicate(i, operators, timeZone));
      if (items.length === 1) return items[0] as Predicate;
      if (items.length === 2) {
        const [a, b] = items as [Predicate, Predicate];
        return (e) => a(e) && b(e);
      }
      return (e) => {
        for (let i = 0; i < items.length; i++) if (!(items[i] as Predicate)(e)) return false;
        return true;
      };
    }
    case 'any': {
      const items = c.items.map((i) => compilePredicate(i, operators, timeZone));
      if (items.length === 1) return items[0] as Predicate;
      if (items.length === 2) {
        const [a, b] = items as [Predicate, Predicate];
        return (e) => a(e) || b(e);
      }
      return (e) => {
        for (let i = 0; i < items.length; i++) if ((items[i] as Predicate)(e)) return true;
        return false;
      };
    }
    case 'not': {
      const inner = compilePredicate(c.item, operators, timeZone);
      return (e) => !inner(e);
    }
    case 'fact': {
      const op = operators.get(c.operator);
      if (op === undefined) throw new Error(`no operator '${c.operator}'`); // validated at load: a bug if reached
      const get = accessorOf(c.ref, timeZone);
      if (c.valueRef !== undefined) {
        const other = accessorOf(c.valueRef, timeZone);
        return (e) => op.evaluate(get(e), other(e)) === true;
      }
      const value = c.value;
      return (e) => op.evaluate(get(e), value) === true;
    }
  }
}

/**
 * Values a field MUST hold for the condition to be true, per field (from equal / in conditions on plain
 * values): what alternativesOf falls back on (the rule index, RuleIndex.ts, skips the rules an event cannot fire). `all` intersects; `any` keeps the fields
 * every branch constrains and unites their values; `not` and the rest constrain nothing, nor do the local-time
 * fields (the index reads the event's own fields; those are computed). An operator that holds only for text (or a
 * number: `matches`) on a sparse field (fields.ts: errorMessage, exitCode) requires `true` of the field's textKey
 * (requirementReader): `errorMessage: {matches: ...}` is never true of an event without an error message. (Of a field
 * every event holds, commandText, that would cost a read per event and skip nothing.) `iin` requires one of its
 * values in lower case of the field's lowerKey: `dbUserName: {iin: $privileged_users}` is not tried on pgbench's.
 */
export type Requirements = Map<string, Set<unknown>>;

/** Operators whose validator (operators.ts isText, isTextOrNumber) refuses anything but text or a number. */
const TEXT_OPERATORS: ReadonlySet<string> = new Set(['matches', 'startsWith', 'endsWith', 'containsText', 'equalIgnoreCase', 'inIgnoreCase', 'inCidr', 'between']);
/** Begins a requirement's key that is not a field's value (no field name holds this character). */
const DERIVED = '\u0000';

/** The requirement key of "`field` holds text or a number" (its value `true`). */
export function textKey(field: string): string {
  return `${DERIVED}text:${field}`;
}

/** The requirement key of "`field` holds text that, in lower case, is one of these" (`iin`: its values in lower case). */
export function lowerKey(field: string): string {
  return `${DERIVED}lower:${field}`;
}

/**
 * What a requirement's key reads of an event: the field's value; for a textKey whether it holds text or a number;
 * for a lowerKey its text in lower case (as inIgnoreCase compares it), undefined when it holds none.
 */
export function requirementReader(key: string): Accessor {
  if (!key.startsWith(DERIVED)) return fieldReader(key);
  const [kind, field] = derivedKey(key);
  const read = fieldReader(field);
  if (kind === 'lower') {
    return (e) => {
      const v = read(e);
      return typeof v === 'string' ? v.toLowerCase() : undefined;
    };
  }
  return (e) => {
    const v = read(e);
    return typeof v === 'string' || typeof v === 'number';
  };
}

/** A requirement's key as people read it (the index's stats): `errorMessage (text)`, `dbUserName (lower case)`. */
export function requirementName(key: string): string {
  if (!key.startsWith(DERIVED)) return key;
  const [kind, field] = derivedKey(key);
  return `${field} (${kind === 'lower' ? 'lower case' : 'text'})`;
}

function derivedKey(key: string): ['text' | 'lower', string] {
  const colon = key.indexOf(':');
  return [key.slice(DERIVED.length, colon) === 'lower' ? 'lower' : 'text', key.slice(colon + 1)];
}

function requirementsOf(c: Cond): Requirements {
  switch (c.kind) {
    case 'fact': {
      if (c.valueRef !== undefined || c.ref.path.length > 0 || isLocalTime(c.ref)) return new Map();
      if (c.operator === 'equal') return new Map([[c.ref.fact, new Set([c.value])]]);
      if (c.operator === 'in' && Array.isArray(c.value)) return new Map([[c.ref.fact, new Set(c.value)]]);
      if (c.operator === 'inIgnoreCase' && Array.isArray(c.value) && c.value.every((v) => typeof v === 'string')) {
        return new Map([[lowerKey(c.ref.fact), new Set((c.value as string[]).map((v) => v.toLowerCase()))]]);
      }
      if (TEXT_OPERATORS.has(c.operator) && ACTIVITY_FIELD_SPECS[c.ref.fact]?.sparse === true) return new Map([[textKey(c.ref.fact), new Set([true])]]);
      return new Map();
    }
    case 'all': {
      const out: Requirements = new Map();
      for (const item of c.items) {
        for (const [field, values] of requirementsOf(item)) {
          const prev = out.get(field);
          out.set(field, prev === undefined ? values : new Set([...prev].filter((v) => values.has(v))));
        }
      }
      return out;
    }
    case 'any': {
      const parts = c.items.map(requirementsOf);
      const out: Requirements = new Map();
      const first = parts[0];
      if (first === undefined) return out;
      for (const [field, values] of first) {
        const union = new Set(values);
        let everywhere = true;
        for (const p of parts.slice(1)) {
          const v = p.get(field);
          if (v === undefined) {
            everywhere = false;
            break;
          }
          for (const x of v) union.add(x);
        }
        if (everywhere) out.set(field, union);
      }
      return out;
    }
    case 'not':
      return new Map();
  }
}

/** Combinations `alternativesOf` builds at most; beyond, requirementsOf's one alternative. */
const MAX_ALTERNATIVES = 16;

/**
 * What a condition requires as ALTERNATIVES: it can only be true when, for one of them, each of its fields holds one
 * of its values (equal / in conditions on plain values, as requirementsOf). `any` gives each branch's alternatives,
 * `all` their combinations: successful_login is {engine: postgresql, command: CONNECT} or {engine: mysql,
 * sqlCommand: CONNECT}, where requirementsOf keeps only engine. An alternative without fields requires nothing (the
 * list is then that one alone); an empty list: the condition is never true. Beyond MAX_ALTERNATIVES combinations,
 * requirementsOf's one alternative.
 */
export function alternativesOf(c: Cond): Requirements[] {
  return alternatives(c) ?? [requirementsOf(c)];
}

const NOTHING_REQUIRED: Requirements[] = [new Map()];

/** undefined: too many. */
function alternatives(c: Cond): Requirements[] | undefined {
  switch (c.kind) {
    case 'fact': {
      const r = requirementsOf(c);
      return r.size === 0 ? NOTHING_REQUIRED : [r];
    }
    case 'not':
      return NOTHING_REQUIRED;
    case 'any': {
      const out: Requirements[] = [];
      for (const item of c.items) {
        const a = alternatives(item);
        if (a === undefined) return undefined;
        for (const r of a) {
          if (r.size === 0) return NOTHING_REQUIRED;
          out.push(r);
        }
        if (out.length > MAX_ALTERNATIVES) return undefined;
      }
      return out;
    }
    case 'all': {
      let acc: Requirements[] = NOTHING_REQUIRED;
      for (const item of c.items) {
        const a = alternatives(item);
        if (a === undefined) return undefined;
        const next: Requirements[] = [];
        for (const p of acc) {
          for (const q of a) {
            const both = bothOf(p, q);
            if (both !== undefined) next.push(both);
          }
        }
        if (next.length > MAX_ALTERNATIVES) return undefined;
        acc = next;
      }
      return acc;
    }
  }
}

/** What two alternatives require together; undefined when they cannot both hold (a field without a common value). */
function bothOf(p: Requirements, q: Requirements): Requirements | undefined {
  if (q.size === 0) return p;
  if (p.size === 0) return q;
  const out: Requirements = new Map(p);
  for (const [field, values] of q) {
    const prev = out.get(field);
    if (prev === undefined) out.set(field, values);
    else {
      const common = new Set([...prev].filter((v) => values.has(v)));
      if (common.size === 0) return undefined;
      out.set(field, common);
    }
  }
  return out;
}
