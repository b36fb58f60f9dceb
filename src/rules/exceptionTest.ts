/**
 * The compiled test of a rule's exceptions (overrides.ts folds them into the rule): one Set of tuple keys per
 * exception, so an event costs one lookup per exception however many tuples the files list (docs/rules.md
 * "Exceptions and overrides": why there is no cap), with the answers of json-rules-engine's `equal` (===) on each
 * field of a tuple, which is what the rule's condition JSON runs.
 */
import { accessorOf, type Predicate } from './compile.js';
import type { FieldRef } from './conditionEnv.js';
import type { Scalar } from '../config/yamlTree.js';

/** What the test needs of an exception: its fields, resolved, and its tuples (one value per field). */
export interface ExceptionTuples {
  refs: readonly FieldRef[];
  values: readonly (readonly Scalar[])[];
}

/**
 * `when` and not `excepted`. Built here, not in applyRuleOverrides: a closure made there would hold that function's
 * scope, and with it every rule file's YAML nodes, for as long as the rule set lives.
 */
export function unlessExcepted(when: Predicate, excepted: Predicate): Predicate {
  return (e) => when(e) && !excepted(e);
}

/**
 * Whether an event matches a tuple of any of `exceptions`, in O(1) per exception: a Set of each tuple's key, and
 * the key of the event's values of its fields. It gives the answers of the folded `equal` (===) conditions: a key
 * is made of primitives only (keyPart), so NaN, undefined (a missing field), objects and arrays never match, and
 * 0 matches -0. Allocates only when called, which is only once the rule's `when` holds.
 */
export function exceptionTest(exceptions: readonly ExceptionTuples[], timeZone: string): Predicate {
  const tests: Predicate[] = [];
  for (const x of exceptions) {
    const gets = x.refs.map((ref) => accessorOf(ref, timeZone));
    if (gets.length === 1) {
      // One field: its values themselves (a Set compares as === does, but for NaN, which is left out).
      const set = new Set<unknown>(x.values.map((t) => t[0]).filter((v) => !Number.isNaN(v)));
      const get = gets[0] as (e: Record<string, unknown>) => unknown;
      if (set.size > 0) tests.push((e) => set.has(get(e)));
      continue;
    }
    const keys = new Set<string>();
    for (const t of x.values) {
      const k = tupleKey(t.length, (i) => t[i]);
      if (k !== undefined) keys.add(k);
    }
    if (keys.size > 0) tests.push((e) => keys.has(tupleKey(gets.length, (i) => (gets[i] as (e: Record<string, unknown>) => unknown)(e)) as string));
  }
  if (tests.length === 0) return () => false;
  if (tests.length === 1) return tests[0] as Predicate;
  return (e) => tests.some((t) => t(e));
}

/** The key of a tuple of n values (undefined when one of them can equal nothing: see keyPart). */
function tupleKey(n: number, value: (i: number) => unknown): string | undefined {
  const parts: string[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const p = keyPart(value(i));
    if (p === undefined) return undefined;
    parts[i] = p;
  }
  return parts.join(','); // one flat string (a Set of 100k keys built by += would hold 100k string trees)
}

/**
 * One value in a tuple key: two values have the same part exactly when they are === (text quoted as JSON, so a
 * comma in it cannot shift the parts; a number as String writes it, which makes -0 and 0 one; NaN and anything that
 * is not a string, number, boolean or null: none).
 */
function keyPart(v: unknown): string | undefined {
  switch (typeof v) {
    case 'string':
      return JSON.stringify(v);
    case 'number':
      return Number.isNaN(v) ? undefined : String(v);
    case 'boolean':
      return v ? 'true' : 'false';
    default:
      return v === null ? 'null' : undefined;
  }
}
