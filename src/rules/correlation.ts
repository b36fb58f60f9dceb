/**
 * The `correlation:` part of a rule (stateful rules, docs/rules.md "Correlation rules"): parsing and checking it
 * (parseCorrelation, called by compileRule.ts), and linking correlations to the base rules they are built on once
 * every rule is compiled (linkCorrelations, called by load.ts): unknown base ids and cycles of rules built on rules
 * are reported there, all at once, with file:line and the rule id. The vocabulary follows Sigma's correlation rules
 * (`event_count`, `value_count`, and Sigma v2's `value_sum`; `group-by` is `groupBy`, `timespan` is `window`,
 * `condition: {gte: N}` is `gte: N`). The state machine that runs them is CorrelationEngine.ts.
 */
import { parseDuration, durationProblem } from '../config/duration.js';
import { didYouMean } from '../config/didYouMean.js';
import type { Pos, ProblemList } from '../config/problems.js';
import { describeNode, type YNode } from '../config/yamlTree.js';
import { ACTIVITY_FIELD_SPECS, type FieldType } from './fields.js';
import type { Predicate } from './compile.js';
import type { CompiledRule, CorrelationSpec, CorrelationType } from './types.js';

export const CORRELATION_TYPES: readonly CorrelationType[] = ['event_count', 'value_count', 'value_sum'];
export const CORRELATION_KEYS = ['type', 'rules', 'groupBy', 'window', 'field', 'gte', 'realert', 'generate'] as const;

/** Parses `correlation:`; undefined after reporting every problem (each names `id`). */
export function parseCorrelation(
  node: YNode,
  fields: ReadonlyMap<string, FieldType>,
  problems: ProblemList,
  id: string | undefined,
): CorrelationSpec | undefined {
  let ok = true;
  const err = (pos: Pos, message: string): void => {
    problems.add(pos, `correlation: ${message}`, id);
    ok = false;
  };
  if (node.kind !== 'map') {
    err(node.pos, `a mapping (type:, groupBy:, window:, gte: ...), got ${describeNode(node)}`);
    return undefined;
  }
  const get = (k: string) => node.entries.find((e) => e.key === k);
  for (const e of node.entries) {
    if (!(CORRELATION_KEYS as readonly string[]).includes(e.key)) err(e.keyPos, `unknown key '${e.key}'${didYouMean(e.key, CORRELATION_KEYS)} (expected ${CORRELATION_KEYS.join(', ')})`);
  }
  const scalar = (k: string) => {
    const e = get(k);
    return e === undefined ? undefined : { e, v: e.value.kind === 'scalar' ? e.value.value : undefined };
  };
  // A field usable as a group key, a distinct value or a summand: known, and not one that carries secrets (its
  // value would be shown in the alert and kept in the state file unredacted).
  const field = (name: unknown, pos: Pos, what: string): string | undefined => {
    if (typeof name !== 'string') {
      err(pos, `${what} is a field name, got ${JSON.stringify(name)}`);
      return undefined;
    }
    if (!fields.has(name)) {
      err(pos, `${what}: unknown field '${name}'${didYouMean(name, fields.keys())}`);
      return undefined;
    }
    if (ACTIVITY_FIELD_SPECS[name]?.carries !== undefined) {
      err(pos, `${what}: '${name}' can carry secrets (${ACTIVITY_FIELD_SPECS[name]?.carries}) and cannot be grouped, counted or summed`);
      return undefined;
    }
    return name;
  };

  const t = scalar('type');
  let type: CorrelationType | undefined;
  if (t === undefined) err(node.pos, `no type (one of ${CORRELATION_TYPES.join(', ')})`);
  else if (typeof t.v === 'string' && (CORRELATION_TYPES as readonly string[]).includes(t.v)) type = t.v as CorrelationType;
  else err(t.e.value.pos, `bad type ${describeNode(t.e.value)}${typeof t.v === 'string' ? didYouMean(t.v, CORRELATION_TYPES) : ''}: one of ${CORRELATION_TYPES.join(', ')}`);

  const rules: { id: string; pos: Pos }[] = [];
  const rulesEntry = get('rules');
  if (rulesEntry !== undefined) {
    const items = rulesEntry.value.kind === 'seq' ? rulesEntry.value.items : [rulesEntry.value];
    for (const it of items) {
      if (it.kind === 'scalar' && typeof it.value === 'string' && it.value !== '') rules.push({ id: it.value, pos: it.pos });
      else err(it.pos, `rules lists rule ids, got ${describeNode(it)}`);
    }
    if (items.length === 0) err(rulesEntry.value.pos, 'rules is empty: list the ids of the rules whose events it correlates');
  }

  const groupBy: string[] = [];
  const gb = get('groupBy');
  if (gb !== undefined) {
    const items = gb.value.kind === 'seq' ? gb.value.items : [gb.value];
    for (const it of items) {
      const f = field(it.kind === 'scalar' ? it.value : undefined, it.pos, 'groupBy');
      if (f !== undefined) groupBy.push(f);
    }
  }

  const duration = (k: string, required: boolean): { ms: number; text: string } | undefined => {
    const s = scalar(k);
    if (s === undefined) {
      if (required) err(node.pos, `no ${k} (${'a duration such as 1m'})`);
      return undefined;
    }
    const text = typeof s.v === 'string' ? s.v : String(s.v);
    const p = durationProblem(text);
    if (p !== undefined) {
      err(s.e.value.pos, `${k} ${p}`);
      return undefined;
    }
    return { ms: parseDuration(text) as number, text };
  };
  const window = duration('window', true);
  const realert = duration('realert', false);

  let fieldName: string | undefined;
  const f = scalar('field');
  if (type === 'value_count' || type === 'value_sum') {
    if (f === undefined) err(node.pos, `${type} needs field: (the field whose ${type === 'value_sum' ? 'values are summed' : 'distinct values are counted'})`);
    else {
      fieldName = field(f.v, f.e.value.pos, 'field');
      if (fieldName !== undefined && type === 'value_sum' && fields.get(fieldName) !== 'number') {
        err(f.e.value.pos, `value_sum: field '${fieldName}' is not numeric (it holds ${fields.get(fieldName)})`);
        fieldName = undefined;
      }
    }
  } else if (f !== undefined && type !== undefined) err(f.e.keyPos, `field: is for value_count and value_sum, not ${type}`);

  // Sigma's `generate`: do the base rules it lists also alert on their own? (default false, as in Sigma)
  const gen = scalar('generate');
  if (gen !== undefined && typeof gen.v !== 'boolean') err(gen.e.value.pos, `generate must be true or false, got ${describeNode(gen.e.value)}`);

  const g = scalar('gte');
  let gte: number | undefined;
  if (g === undefined) err(node.pos, 'no gte (the threshold: it fires when the count, distinct count or sum reaches it)');
  else if (typeof g.v === 'number' && Number.isFinite(g.v) && g.v > 0 && (type === 'value_sum' || Number.isInteger(g.v))) gte = g.v;
  else err(g.e.value.pos, `gte must be a positive ${type === 'value_sum' ? 'number' : 'whole number'}, got ${describeNode(g.e.value)}`);

  if (!ok || type === undefined || window === undefined || gte === undefined) return undefined;
  const spec: CorrelationSpec = {
    type,
    rules,
    groupBy,
    windowMs: window.ms,
    window: window.text,
    gte,
    realertMs: realert?.ms ?? window.ms,
    generate: gen?.v === true,
  };
  if (fieldName !== undefined) spec.field = fieldName;
  return spec;
}

/**
 * After every rule is compiled: each correlation's base predicate (its own `when:`, or any of its `rules:`),
 * reporting unknown base ids and bases that are themselves correlations (a cycle is named as one). `specs` holds
 * every correlation parsed, compiled or not (a file with another mistake still gets these checks). Sets
 * `basePredicate` on each compiled correlation rule.
 */
export function linkCorrelations(
  compiled: readonly CompiledRule[],
  ids: ReadonlyMap<string, Pos>,
  specs: ReadonlyMap<string, CorrelationSpec>,
  problems: ProblemList,
): void {
  const byId = new Map(compiled.map((c) => [c.info.id, c]));
  const linked = new Map<string, Predicate[] | undefined>();
  for (const [id, spec] of specs) {
    const preds: Predicate[] | undefined = [];
    let ok = true;
    for (const ref of spec.rules) {
      if (!ids.has(ref.id)) {
        problems.add(ref.pos, `correlation: unknown base rule '${ref.id}'${didYouMean(ref.id, ids.keys())}`, id);
        ok = false;
      } else if (specs.has(ref.id)) {
        const cycle = findCycle(id, specs);
        problems.add(
          ref.pos,
          cycle !== undefined
            ? `correlation: a cycle of rules built on rules: ${cycle.join(' -> ')}`
            : `correlation: base rule '${ref.id}' is itself a correlation; a correlation is built on stateless rules (or its own when:)`,
          id,
        );
        ok = false;
      } else {
        const base = byId.get(ref.id);
        if (base === undefined) ok = false; // it failed to compile: reported already
        else preds.push(base.predicate);
      }
    }
    linked.set(id, ok ? preds : undefined);
  }
  for (const c of compiled) {
    const preds = linked.get(c.info.id);
    if (c.correlation === undefined || preds === undefined) continue;
    if (c.hasWhen) preds.unshift(c.predicate);
    c.basePredicate = preds.length === 1 ? (preds[0] as Predicate) : (e) => preds.some((p) => p(e));
  }
}

/**
 * The ids of the base rules a correlation references (its `rules:`), in the order written, each once: the rules
 * whose own alerts its `generate` governs (load.ts). Every kind of reference to a base rule belongs here.
 */
export function baseRuleIds(spec: CorrelationSpec): string[] {
  return [...new Set(spec.rules.map((r) => r.id))];
}

function findCycle(start: string, specs: ReadonlyMap<string, CorrelationSpec>): string[] | undefined {
  const path: string[] = [];
  const walk = (id: string): string[] | undefined => {
    if (path.includes(id)) return [...path.slice(path.indexOf(id)), id];
    const spec = specs.get(id);
    if (spec === undefined) return undefined;
    path.push(id);
    for (const ref of spec.rules) {
      const found = walk(ref.id);
      if (found !== undefined) return found;
    }
    path.pop();
    return undefined;
  };
  const c = walk(start);
  return c !== undefined && c[0] === start ? c : undefined;
}
