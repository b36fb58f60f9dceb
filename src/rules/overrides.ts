/**
 * Exceptions, appends and overrides (the Falco model, docs/rules.md "Exceptions and overrides"):
 * - a rule's `exceptions:` are named tuples of fields and values that silence it (each tuple matches when EVERY
 *   field equals its value); they are folded into the rule's condition as `all: [when, not: any: [tuples]]` (the
 *   json-rules-engine reference runs that), while the compiled predicate tests them through one Set of tuple keys
 *   per exception (exceptionTest: O(1) per event however many tuples a file appends, the same answers as `===`),
 *   only once `when` holds;
 * - a file's top-level `overrides:` list appends to a list or macro defined in any file (a macro appended to
 *   becomes `any: [its condition, the appended one]`) and sets a rule's `severity` or `enabled`, or appends to or
 *   replaces its `exceptions`, without editing the file that defines it.
 * Overrides apply after every definition, in load order (files in order, then position in the file); appends
 * compose; a replace of `exceptions` drops those before it; a second override of the same replaced property (severity, enabled, exceptions: replace) is an error
 * naming the first, so no file silently wins. Every property's origin is recorded for `validate --explain`.
 * load.ts calls collectOverrides (pass 1), applyListMacroAppends (before the rules) and applyRuleOverrides (after).
 */
import { Severities, type Severity } from '../types.js';
import { exceptionTest, unlessExcepted } from './exceptionTest.js';
import { resolveField, type Cond, type ConditionEnv, type FieldRef, type Macro, type NamedList } from './conditionEnv.js';
import { RuleTargets, type RuleTarget } from './fields.js';
import { didYouMean } from '../config/didYouMean.js';
import type { Pos, ProblemList } from '../config/problems.js';
import { NAME_PATTERN } from './schema.js';
import type { CompiledRule, RuleOrigin } from './types.js';
import { describeNode, type Scalar, type YMap, type YNode } from '../config/yamlTree.js';

const NAME_RE = new RegExp(NAME_PATTERN);
const EXCEPTION_KEYS = ['name', 'fields', 'values'];
const RULE_OVERRIDE_KEYS = ['rule', 'severity', 'enabled', 'exceptions'];
const APPEND_OVERRIDE_KEYS = ['append'];

/** One checked exception: its fields resolved, every tuple of the same arity. */
export interface RuleException {
  name: string;
  fields: string[];
  values: Scalar[][];
  pos: Pos;
}

interface ParsedException extends RuleException {
  refs: FieldRef[];
}

type Override =
  | { kind: 'rule'; id: string; pos: Pos; node: YMap }
  | { kind: 'list'; name: string; pos: Pos; items: Scalar[]; itemsPos: Pos }
  | { kind: 'macro'; name: string; pos: Pos; cond: YNode };

/** The `overrides:` of every file, checked for shape (targets are checked once every definition is known). */
export function collectOverrides(nodes: readonly YNode[], problems: ProblemList): Override[] {
  const out: Override[] = [];
  for (const node of nodes) {
    if (node.kind === 'scalar' && node.value === null) continue;
    if (node.kind !== 'seq') {
      problems.add(node.pos, `'overrides' is a list of {rule: ID, ...}, {list: NAME, append: [...]} or {macro: NAME, append: CONDITION}, got ${describeNode(node)}`);
      continue;
    }
    for (const it of node.items) {
      if (it.kind !== 'map') {
        problems.add(it.pos, `an override is a mapping with rule:, list: or macro:, got ${describeNode(it)}`);
        continue;
      }
      const kinds = it.entries.filter((e) => e.key === 'rule' || e.key === 'list' || e.key === 'macro');
      const head = kinds[0];
      if (head === undefined || kinds.length > 1) {
        problems.add(it.pos, 'an override names exactly one of rule:, list: or macro:');
        continue;
      }
      const name = head.value.kind === 'scalar' && typeof head.value.value === 'string' ? head.value.value : undefined;
      const ruleId = head.key === 'rule' ? name : undefined;
      if (name === undefined) {
        problems.add(head.value.pos, `override: '${head.key}' takes a name, got ${describeNode(head.value)}`);
        continue;
      }
      const allowed = head.key === 'rule' ? RULE_OVERRIDE_KEYS : [head.key, ...APPEND_OVERRIDE_KEYS];
      // An unknown key is reported and the known ones still checked (its mistakes are all listed at once).
      for (const e of it.entries) {
        if (!allowed.includes(e.key)) problems.add(e.keyPos, `unknown key '${e.key}' in a ${head.key} override${didYouMean(e.key, allowed)} (expected ${allowed.join(', ')})`, ruleId);
      }
      if (head.key === 'rule') {
        if (it.entries.length === 1) problems.add(it.pos, `override of rule '${name}' changes nothing (give severity:, enabled: or exceptions:)`, name);
        else out.push({ kind: 'rule', id: name, pos: head.value.pos, node: it });
        continue;
      }
      const append = it.entries.find((e) => e.key === 'append');
      if (append === undefined) {
        problems.add(it.pos, `override of ${head.key} '${name}' has no append:`);
        continue;
      }
      if (head.key === 'macro') {
        out.push({ kind: 'macro', name, pos: head.value.pos, cond: append.value });
        continue;
      }
      if (append.value.kind !== 'seq' || append.value.items.some((x) => x.kind !== 'scalar')) {
        problems.add(append.value.pos, `append to list '${name}' is a list of single values, got ${describeNode(append.value)}`);
        continue;
      }
      out.push({ kind: 'list', name, pos: head.value.pos, items: append.value.items.map((x) => (x as { value: Scalar }).value), itemsPos: append.value.pos });
    }
  }
  return out;
}

/** Appends to lists and macros, in load order; an unknown name is an error. Returns where each one was changed. */
export function applyListMacroAppends(
  overrides: readonly Override[],
  lists: Map<string, NamedList>,
  macros: Map<string, Macro>,
  problems: ProblemList,
  incomplete: boolean,
): Map<string, Pos[]> {
  const changed = new Map<string, Pos[]>();
  const note = (key: string, pos: Pos): void => {
    const l = changed.get(key);
    if (l === undefined) changed.set(key, [pos]);
    else l.push(pos);
  };
  for (const o of overrides) {
    if (o.kind === 'list') {
      const l = lists.get(o.name);
      if (l === undefined) {
        if (!incomplete) problems.add(o.pos, `append to unknown list '${o.name}'${didYouMean(o.name, lists.keys())}`);
        continue;
      }
      lists.set(o.name, { ...l, values: [...l.values, ...o.items] });
      note(`list:${o.name}`, o.pos);
    } else if (o.kind === 'macro') {
      const m = macros.get(o.name);
      if (m === undefined) {
        if (!incomplete) problems.add(o.pos, `append to unknown macro '${o.name}'${didYouMean(o.name, macros.keys())}`);
        continue;
      }
      const node: YNode = { kind: 'map', pos: m.node.pos, entries: [{ key: 'any', keyPos: m.node.pos, value: { kind: 'seq', pos: m.node.pos, items: [m.node, o.cond] } }] };
      macros.set(o.name, { ...m, node });
      note(`macro:${o.name}`, o.pos);
    }
  }
  return changed;
}

/**
 * Each rule's own `exceptions:` and the rule overrides, applied to the compiled rules (those that compiled: with
 * an error anywhere the result is discarded, but every mistake is still reported). Returns the rules, changed.
 */
export function applyRuleOverrides(
  overrides: readonly Override[],
  ruleNodes: readonly { node: YNode; file: string }[],
  compiled: readonly CompiledRule[],
  env: ConditionEnv,
  appended: ReadonlyMap<string, Pos[]>,
): CompiledRule[] {
  const problems = env.problems;
  // Every rule by id, compiled or not (a broken rule's override is not also "unknown").
  const defs = new Map<string, { node: YMap; target: RuleTarget }>();
  for (const rn of ruleNodes) {
    if (rn.node.kind !== 'map') continue;
    const id = scalarOf(rn.node, 'id');
    if (typeof id !== 'string' || defs.has(id)) continue;
    const t = scalarOf(rn.node, 'target');
    const target = typeof t === 'string' && (RuleTargets as readonly string[]).includes(t) ? (t as RuleTarget) : 'activity';
    defs.set(id, { node: rn.node, target });
  }
  const state = new Map<string, { exceptions: ParsedException[]; severity?: { value: Severity; pos: Pos }; enabled?: { value: boolean; pos: Pos }; replacedAt?: Pos; origins: RuleOrigin[] }>();
  for (const [id, d] of defs) {
    const entry = d.node.entries.find((e) => e.key === 'exceptions');
    const exceptions = entry === undefined ? [] : parseExceptions(entry.value, env, d.target, id, []);
    state.set(id, { exceptions, origins: exceptions.map((x) => ({ property: `exceptions.${x.name}`, pos: x.pos, how: 'set' })) });
  }

  for (const o of overrides) {
    if (o.kind !== 'rule') continue;
    const d = defs.get(o.id);
    const s = state.get(o.id);
    if (d === undefined || s === undefined) {
      if (!env.incomplete) problems.add(o.pos, `override of unknown rule '${o.id}'${didYouMean(o.id, defs.keys())}`, o.id);
      continue;
    }
    const again = (what: string, prev: Pos | undefined, pos: Pos): boolean => {
      if (prev === undefined) return false;
      problems.add(pos, `${what} of rule '${o.id}' is already overridden at ${prev.file}:${prev.line} (one override per property: merge them)`, o.id);
      return true;
    };
    for (const e of o.node.entries) {
      if (e.key === 'severity') {
        const v = e.value.kind === 'scalar' ? e.value.value : undefined;
        if (typeof v !== 'string' || !(Severities as readonly string[]).includes(v)) {
          problems.add(e.value.pos, `bad severity ${describeNode(e.value)}${typeof v === 'string' ? didYouMean(v, Severities) : ''}: one of ${Severities.join(', ')}`, o.id);
        } else if (!again('severity', s.severity?.pos, e.value.pos)) {
          s.severity = { value: v as Severity, pos: e.value.pos };
          s.origins.push({ property: 'severity', pos: e.value.pos, how: `override: ${v}` });
        }
      } else if (e.key === 'enabled') {
        const v = e.value.kind === 'scalar' ? e.value.value : undefined;
        if (typeof v !== 'boolean') problems.add(e.value.pos, `'enabled' must be true or false, got ${describeNode(e.value)}`, o.id);
        else if (!again('enabled', s.enabled?.pos, e.value.pos)) {
          s.enabled = { value: v, pos: e.value.pos };
          s.origins.push({ property: 'enabled', pos: e.value.pos, how: `override: ${v}` });
        }
      } else if (e.key === 'exceptions') {
        const m = e.value;
        const mode = m.kind === 'map' && m.entries.length === 1 ? (m.entries[0] as YMap['entries'][number]) : undefined;
        if (mode === undefined || (mode.key !== 'append' && mode.key !== 'replace')) {
          problems.add(m.pos, `override exceptions: is {append: [...]} or {replace: [...]}, got ${describeNode(m)}`, o.id);
          continue;
        }
        if (mode.key === 'replace') {
          if (again('exceptions (replace)', s.replacedAt, mode.keyPos)) continue;
          s.replacedAt = mode.keyPos;
          // In load order: a replace drops every exception before it (the rule's own, earlier appends).
          s.exceptions = [];
          s.origins.push({ property: 'exceptions', pos: mode.keyPos, how: 'override: replace (the exceptions before it dropped)' });
        }
        const added = parseExceptions(mode.value, env, d.target, o.id, s.exceptions);
        s.exceptions.push(...added);
        for (const x of added) s.origins.push({ property: `exceptions.${x.name}`, pos: x.pos, how: `override: ${mode.key}` });
      }
    }
  }

  return compiled.map((c) => {
    const s = state.get(c.info.id);
    const d = defs.get(c.info.id);
    if (s === undefined || d === undefined) return c;
    const node = d.node;
    const origins: RuleOrigin[] = [
      { property: 'when', pos: node.entries.find((e) => e.key === 'when')?.keyPos ?? node.pos, how: 'set' },
      ...usedAppends(node, env, appended),
      { property: 'severity', pos: node.entries.find((e) => e.key === 'severity')?.value.pos ?? node.pos, how: 'set' },
      { property: 'enabled', pos: node.entries.find((e) => e.key === 'enabled')?.value.pos ?? node.pos, how: node.entries.some((e) => e.key === 'enabled') ? 'set' : 'default' },
      ...s.origins,
    ];
    const info = { ...c.info };
    if (s.severity !== undefined) info.severity = s.severity.value;
    if (s.enabled !== undefined) info.enabled = s.enabled.value;
    const exceptions: RuleException[] = s.exceptions.map(({ name, fields, values, pos }) => ({ name, fields, values, pos }));
    const tuples: Cond[] = [];
    for (const x of s.exceptions) {
      for (const tuple of x.values) {
        tuples.push({ kind: 'all', items: x.refs.map((ref, i) => ({ kind: 'fact', ref, operator: 'equal', value: tuple[i] ?? null })) });
      }
    }
    const explain = { when: c.cond, exceptions, origins };
    if (tuples.length === 0) return { ...c, info, explain };
    const silence: Cond = { kind: 'not', item: { kind: 'any', items: tuples } };
    const cond: Cond = c.cond.kind === 'all' ? { kind: 'all', items: [...c.cond.items, silence] } : { kind: 'all', items: [c.cond, silence] };
    // `cond` is what json-rules-engine runs; the predicate is the same test with the tuples looked up, not tried
    // one by one. `not` constrains no field, so the rule index (RuleIndex.ts) finds the rule as it finds `when`.
    const excepted = exceptionTest(s.exceptions, c.timeZone);
    return { ...c, info, cond, predicate: unlessExcepted(c.predicate, excepted), excepted, explain };
  });
}

function scalarOf(node: YMap, key: string): Scalar | undefined {
  const e = node.entries.find((x) => x.key === key);
  return e?.value.kind === 'scalar' ? e.value.value : undefined;
}

/** `exceptions:` (a rule's, or an override's append/replace): names unique among `existing` and these. */
function parseExceptions(node: YNode, env: ConditionEnv, target: RuleTarget, id: string, existing: readonly ParsedException[]): ParsedException[] {
  const problems = env.problems;
  if (node.kind !== 'seq') {
    problems.add(node.pos, `'exceptions' is a list of {name:, fields: [...], values: [[...], ...]}, got ${describeNode(node)}`, id);
    return [];
  }
  const out: ParsedException[] = [];
  const names = new Map<string, Pos>(existing.map((x) => [x.name, x.pos]));
  for (const it of node.items) {
    if (it.kind !== 'map') {
      problems.add(it.pos, `an exception is a mapping with name:, fields: and values:, got ${describeNode(it)}`, id);
      continue;
    }
    let ok = true;
    const err = (pos: Pos, message: string): void => {
      problems.add(pos, message, id);
      ok = false;
    };
    for (const e of it.entries) if (!EXCEPTION_KEYS.includes(e.key)) err(e.keyPos, `unknown key '${e.key}' in an exception${didYouMean(e.key, EXCEPTION_KEYS)}`);
    const get = (k: string): YNode | undefined => it.entries.find((e) => e.key === k)?.value;
    const nameNode = get('name');
    const name = nameNode?.kind === 'scalar' && typeof nameNode.value === 'string' && NAME_RE.test(nameNode.value) ? nameNode.value : undefined;
    if (name === undefined) err(nameNode?.pos ?? it.pos, `an exception needs a name: of letters, digits, _ or - (got ${nameNode === undefined ? 'none' : describeNode(nameNode)})`);
    else {
      const prev = names.get(name);
      if (prev !== undefined) err(nameNode?.pos ?? it.pos, `duplicate exception '${name}' (also at ${prev.file}:${prev.line})`);
      else names.set(name, nameNode?.pos ?? it.pos);
    }
    const fieldsNode = get('fields');
    const fields: string[] = [];
    const refs: FieldRef[] = [];
    if (fieldsNode === undefined || fieldsNode.kind !== 'seq' || fieldsNode.items.length === 0) {
      err(fieldsNode?.pos ?? it.pos, `exception '${name ?? '?'}': fields: is a non-empty list of field names`);
    } else {
      for (const f of fieldsNode.items) {
        if (f.kind !== 'scalar' || typeof f.value !== 'string') {
          err(f.pos, `exception '${name ?? '?'}': a field name is text, got ${describeNode(f)}`);
          continue;
        }
        if (fields.includes(f.value)) err(f.pos, `exception '${name ?? '?'}': field '${f.value}' is listed twice`);
        const ref = resolveField(f.value, f.pos, { env, target, ruleId: id });
        if (ref === undefined) ok = false;
        else if (ref.type === 'array' || ref.type === 'object') err(f.pos, `exception '${name ?? '?'}': field '${f.value}' is ${ref.type === 'array' ? 'an array' : 'an object'}; exceptions compare single values`);
        else refs.push(ref);
        fields.push(f.value);
      }
    }
    const valuesNode = get('values');
    const values: Scalar[][] = [];
    if (valuesNode === undefined || valuesNode.kind !== 'seq') {
      err(valuesNode?.pos ?? it.pos, `exception '${name ?? '?'}': values: is a list of tuples, one value per field ([[a, b], ...])`);
    } else {
      for (const t of valuesNode.items) {
        if (t.kind !== 'seq' || t.items.some((x) => x.kind !== 'scalar')) {
          err(t.pos, `exception '${name ?? '?'}': a values tuple is a list of single values, got ${describeNode(t)}`);
          continue;
        }
        if (fields.length > 0 && t.items.length !== fields.length) {
          err(t.pos, `exception '${name ?? '?'}': this tuple has ${t.items.length} value${t.items.length === 1 ? '' : 's'} for ${fields.length} field${fields.length === 1 ? '' : 's'} (${fields.join(', ')})`);
          continue;
        }
        values.push(t.items.map((x) => (x as { value: Scalar }).value));
      }
    }
    if (ok && name !== undefined) out.push({ name, fields, values, refs, pos: nameNode?.pos ?? it.pos });
  }
  return out;
}

/** The appends to the lists and macros a rule's condition uses (through its macros, transitively). */
function usedAppends(rule: YMap, env: ConditionEnv, appended: ReadonlyMap<string, Pos[]>): RuleOrigin[] {
  if (appended.size === 0) return [];
  const seen = new Set<string>();
  const walk = (n: YNode): void => {
    if (n.kind === 'scalar') {
      if (typeof n.value === 'string' && n.value.startsWith('$')) seen.add(`list:${n.value.slice(1)}`);
      return;
    }
    if (n.kind === 'seq') return n.items.forEach(walk);
    for (const e of n.entries) {
      if ((e.key === 'macro' || e.key === 'list') && e.value.kind === 'scalar' && typeof e.value.value === 'string') {
        const key = `${e.key}:${e.value.value}`;
        if (seen.has(key)) continue;
        seen.add(key);
        const m = e.key === 'macro' ? env.macros.get(e.value.value) : undefined;
        if (m !== undefined) walk(m.node);
      } else walk(e.value);
    }
  };
  const when = rule.entries.find((e) => e.key === 'when');
  if (when !== undefined) walk(when.value);
  const out: RuleOrigin[] = [];
  for (const key of [...seen].sort()) for (const pos of appended.get(key) ?? []) out.push({ property: 'when', pos, how: `append to ${key.replace(':', ' ')}` });
  return out;
}
