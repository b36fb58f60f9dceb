/**
 * The `correlation:` part of a rule (stateful rules, docs/rules.md "Correlation rules"): parsing and checking it
 * (parseCorrelation, called by compileRule.ts), and linking correlations to the base rules they are built on once
 * every rule is compiled (linkCorrelations, called by load.ts): unknown base ids and cycles of rules built on rules
 * are reported there, all at once, with file:line and the rule id. The vocabulary follows Sigma's correlation rules
 * (`event_count`, `value_count`, Sigma v2's `value_sum`, and `sequence` for its `temporal_ordered` with a count per
 * step; `group-by` is `groupBy`, `timespan` is `window`, `condition: {gte: N}` is `gte: N`), and ElastAlert's
 * `new_term` for `first_seen`. The state machine that runs them is CorrelationEngine.ts.
 */
import { parseDuration, durationProblem } from '../config/duration.js';
import { didYouMean } from '../config/didYouMean.js';
import type { Pos, ProblemList } from '../config/problems.js';
import { describeNode, type YNode } from '../config/yamlTree.js';
import { MAX_ENTRIES } from './CorrelationEngine.js';
import { ACTIVITY_FIELD_SPECS } from './fields.js';
import { compilePredicate, type Predicate } from './compile.js';
import type { EngineOperator } from './operators.js';
import { parseRuleCondition } from './condition.js';
import type { ConditionEnv } from './conditionEnv.js';
import type { CompiledRule, CorrelationSpec, CorrelationType, SequenceStep, ThresholdType } from './types.js';

export const CORRELATION_TYPES: readonly CorrelationType[] = ['event_count', 'value_count', 'value_sum', 'sequence', 'first_seen'];
export const CORRELATION_KEYS = ['type', 'rules', 'steps', 'groupBy', 'window', 'field', 'gte', 'learning', 'forget', 'realert', 'generate'] as const;
const STEP_KEYS = ['rules', 'when', 'gte'] as const;
/** first_seen's learning period when it says none. */
export const DEFAULT_LEARNING = '7d';
/** Which types take which keys (beyond type, rules, groupBy, realert): a key of another type is a mistake named as such. */
const KEYS_OF: Record<CorrelationType, readonly string[]> = {
  event_count: ['window', 'gte'],
  value_count: ['window', 'field', 'gte'],
  value_sum: ['window', 'field', 'gte'],
  sequence: ['window', 'steps'],
  first_seen: ['field', 'learning', 'forget'],
};

/**
 * Parses `correlation:`; undefined after reporting every problem (each names `id`). A sequence step's `when:` is
 * checked here like a rule's (macros, lists, operators); compileSteps compiles it once the rule's time zone is known.
 */
export function parseCorrelation(node: YNode, env: ConditionEnv, id: string | undefined): { spec?: CorrelationSpec; refs: CorrelationRefs } {
  const refs: CorrelationRefs = { rules: [] };
  const spec = parseSpec(node, env, id, refs);
  return spec !== undefined ? { spec, refs: spec } : { refs };
}

/**
 * The base rule ids a correlation names, each where it is written: linkCorrelations checks them, even when another
 * part of the correlation is wrong; and its type when it is a known one (compileRule's checks of the rule around it).
 */
export interface CorrelationRefs {
  rules: { id: string; pos: Pos }[];
  type?: CorrelationType;
}

function parseSpec(node: YNode, env: ConditionEnv, id: string | undefined, refs: CorrelationRefs): CorrelationSpec | undefined {
  const fields = env.fields.activity;
  let ok = true;
  const err = (pos: Pos, message: string): void => {
    env.problems.add(pos, `correlation: ${message}`, id);
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
  const ruleIds = (n: YNode, what: string): { id: string; pos: Pos }[] => {
    const out: { id: string; pos: Pos }[] = [];
    const items = n.kind === 'seq' ? n.items : [n];
    for (const it of items) {
      if (it.kind === 'scalar' && typeof it.value === 'string' && it.value !== '') out.push({ id: it.value, pos: it.pos });
      else err(it.pos, `${what} lists rule ids, got ${describeNode(it)}`);
    }
    if (items.length === 0) err(n.pos, `${what} is empty: list the ids of the rules whose events it correlates`);
    return out;
  };

  const t = scalar('type');
  let type: CorrelationType | undefined;
  if (t === undefined) err(node.pos, `no type (one of ${CORRELATION_TYPES.join(', ')})`);
  else if (typeof t.v === 'string' && (CORRELATION_TYPES as readonly string[]).includes(t.v)) type = t.v as CorrelationType;
  else err(t.e.value.pos, `bad type ${describeNode(t.e.value)}${typeof t.v === 'string' ? didYouMean(t.v, CORRELATION_TYPES) : ''}: one of ${CORRELATION_TYPES.join(', ')}`);
  if (type !== undefined) {
    refs.type = type;
    for (const e of node.entries) {
      if (!(Object.values(KEYS_OF).flat() as string[]).includes(e.key) || KEYS_OF[type].includes(e.key)) continue;
      const owners = CORRELATION_TYPES.filter((x) => KEYS_OF[x].includes(e.key));
      const why =
        type === 'first_seen' && (e.key === 'window' || e.key === 'gte')
          ? `first_seen has no ${e.key}: it fires on each new combination of field once its learning period is over (learning:, default ${DEFAULT_LEARNING}), and forget: makes a combination not seen for that long new again`
          : type === 'sequence' && e.key === 'gte'
            ? 'a sequence counts per step: steps: [{rules: [...], gte: 5}, {rules: [...]}]'
            : `${e.key}: is for ${owners.join(', ')}, not ${type}`;
      err(e.keyPos, why);
    }
  }

  const rulesEntry = get('rules');
  let rules: { id: string; pos: Pos }[] = rulesEntry !== undefined ? ruleIds(rulesEntry.value, 'rules') : [];
  refs.rules = rules;

  const groupBy: string[] = [];
  const gb = get('groupBy');
  if (gb !== undefined) {
    const items = gb.value.kind === 'seq' ? gb.value.items : [gb.value];
    for (const it of items) {
      const f = field(it.kind === 'scalar' ? it.value : undefined, it.pos, 'groupBy');
      if (f !== undefined) groupBy.push(f);
    }
  }

  const duration = (k: string, required: boolean, min = 1): { ms: number; text: string } | undefined => {
    const s = scalar(k);
    if (s === undefined) {
      if (required) err(node.pos, `no ${k} (${'a duration such as 1m'})`);
      return undefined;
    }
    const text = typeof s.v === 'string' ? s.v : String(s.v);
    const p = durationProblem(text, min);
    if (p !== undefined) {
      err(s.e.value.pos, `${k} ${p}`);
      return undefined;
    }
    return { ms: parseDuration(text) as number, text };
  };
  // Sigma's `generate`: do the base rules it lists also alert on their own? (default false, as in Sigma)
  const gen = scalar('generate');
  if (gen !== undefined && typeof gen.v !== 'boolean') err(gen.e.value.pos, `generate must be true or false, got ${describeNode(gen.e.value)}`);
  const generate = gen?.v === true;
  const windowed = type !== 'first_seen';
  const window = windowed ? duration('window', type !== undefined) : undefined;
  const realert = duration('realert', false, 0); // 0s: no quiet period, every firing alerts

  if (type === 'first_seen') {
    const f = get('field');
    const combo: string[] = [];
    if (f === undefined) err(node.pos, 'first_seen needs field: (the field, or list of fields, whose new values or combination of values fire)');
    else {
      const items = f.value.kind === 'seq' ? f.value.items : [f.value];
      if (items.length === 0) err(f.value.pos, 'field is empty: name the field (or fields) whose new values fire');
      for (const it of items) {
        const name = field(it.kind === 'scalar' ? it.value : undefined, it.pos, 'field');
        if (name !== undefined && combo.includes(name)) err(it.pos, `field: '${name}' is listed twice`);
        else if (name !== undefined) combo.push(name);
      }
    }
    const learning = duration('learning', false, 0);
    const forget = duration('forget', false);
    if (!ok) return undefined;
    const spec: CorrelationSpec = {
      type,
      rules,
      groupBy,
      fields: combo,
      learningMs: learning?.ms ?? (parseDuration(DEFAULT_LEARNING) as number),
      learning: learning?.text ?? DEFAULT_LEARNING,
      realertMs: realert?.ms ?? 0,
      generate,
    };
    if (forget !== undefined) Object.assign(spec, { forgetMs: forget.ms, forget: forget.text });
    return spec;
  }

  if (type === 'sequence') {
    const stepsEntry = get('steps');
    let steps: SequenceStep[] = [];
    if (stepsEntry !== undefined) {
      if (rulesEntry !== undefined) err(rulesEntry.keyPos, 'a sequence lists its rules in steps: (each step its rules: or when:), or as rules: [a, b, c] without steps:, not both');
      const sn = stepsEntry.value;
      if (sn.kind !== 'seq') err(sn.pos, `steps is a list of steps ({rules: [ids], gte: N} or {when: condition}), got ${describeNode(sn)}`);
      else {
        const parsed = parseSteps(sn.items, env, id, err, ruleIds);
        steps = parsed.steps;
        if (!parsed.ok) ok = false;
        if (sn.items.length < 2) err(sn.pos, `a sequence has 2 or more steps, got ${sn.items.length}`);
      }
    } else if (rulesEntry !== undefined) {
      // Sigma's temporal_ordered: `rules: [a, b, c]` is three steps of one event each.
      steps = rules.map((r) => ({ pos: r.pos, rules: [r], gte: 1 }));
      if (rulesEntry.value.kind !== 'seq' || rules.length < 2) err(rulesEntry.value.pos, 'a sequence has 2 or more steps: rules: [first, then, ...] or steps:');
    } else err(node.pos, 'a sequence needs steps: (2 or more, in order: {rules: [ids], gte: N} or {when: condition}), or rules: [first, then, ...]');
    rules = steps.flatMap((s) => s.rules);
    refs.rules = rules;
    const total = steps.reduce((n, s) => n + s.gte, 0);
    if (total > MAX_ENTRIES && stepsEntry !== undefined) {
      err(stepsEntry.keyPos, `the steps' gte add up to ${total}: a group keeps the last ${MAX_ENTRIES} events of a sequence, so it could never complete (at most ${MAX_ENTRIES} in all)`);
    }
    if (!ok || window === undefined) return undefined;
    return { type, rules, groupBy, windowMs: window.ms, window: window.text, steps, realertMs: realert?.ms ?? window.ms, generate };
  }

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
  }

  const g = scalar('gte');
  let gte: number | undefined;
  if (g === undefined) err(node.pos, 'no gte (the threshold: it fires when the count, distinct count or sum reaches it)');
  else if (typeof g.v === 'number' && Number.isFinite(g.v) && g.v > 0 && (type === 'value_sum' || Number.isInteger(g.v))) gte = g.v;
  else err(g.e.value.pos, `gte must be a positive ${type === 'value_sum' ? 'number' : 'whole number'}, got ${describeNode(g.e.value)}`);
  if (gte !== undefined && type === 'value_count' && gte > MAX_ENTRIES) {
    err((g as NonNullable<typeof g>).e.value.pos, `gte ${gte} is more distinct values than a group keeps (${MAX_ENTRIES}): it could never fire; at most ${MAX_ENTRIES}`);
    gte = undefined;
  }

  if (!ok || type === undefined || window === undefined || gte === undefined) return undefined;
  const spec: CorrelationSpec = {
    type: type as ThresholdType,
    rules,
    groupBy,
    windowMs: window.ms,
    window: window.text,
    gte,
    realertMs: realert?.ms ?? window.ms,
    generate,
  };
  if (fieldName !== undefined) spec.field = fieldName;
  return spec;
}

/** A sequence's steps: each {rules: [ids]} or {when: condition} (not both), gte a positive whole number (default 1). */
function parseSteps(
  items: readonly YNode[],
  env: ConditionEnv,
  id: string | undefined,
  err: (pos: Pos, message: string) => void,
  ruleIds: (n: YNode, what: string) => { id: string; pos: Pos }[],
): { steps: SequenceStep[]; ok: boolean } {
  const steps: SequenceStep[] = [];
  let ok = true;
  items.forEach((sn, i) => {
    const what = `step ${i + 1}`;
    if (sn.kind !== 'map') return err(sn.pos, `${what} is a mapping ({rules: [ids], gte: N} or {when: condition}), got ${describeNode(sn)}`);
    for (const e of sn.entries) {
      if (!(STEP_KEYS as readonly string[]).includes(e.key)) err(e.keyPos, `${what}: unknown key '${e.key}'${didYouMean(e.key, STEP_KEYS)} (expected ${STEP_KEYS.join(', ')})`);
    }
    const get = (k: string) => sn.entries.find((e) => e.key === k);
    const r = get('rules');
    const w = get('when');
    if (r !== undefined && w !== undefined) err(sn.pos, `${what} has both rules: and when: (one of them: a step is a set of rules or one condition)`);
    if (r === undefined && w === undefined) err(sn.pos, `${what} has neither rules: nor when: (which events are this step's?)`);
    const step: SequenceStep = { pos: sn.pos, rules: r !== undefined ? ruleIds(r.value, `${what}: rules`) : [], gte: 1 };
    if (w !== undefined && r === undefined) {
      const before = env.problems.items.length;
      const cond = parseRuleCondition(w.value, env, 'activity', id);
      if (cond !== undefined) step.when = cond;
      else {
        ok = false; // reported by parseRuleCondition, except a broken macro of a file that failed to parse
        if (env.problems.items.length === before && !env.incomplete) err(w.keyPos, `${what}: the 'when' condition is invalid`);
      }
    }
    const g = get('gte');
    if (g !== undefined) {
      const v = g.value.kind === 'scalar' ? g.value.value : undefined;
      if (typeof v === 'number' && Number.isInteger(v) && v > 0) step.gte = v;
      else err(g.value.pos, `${what}: gte must be a positive whole number (how many of its events), got ${describeNode(g.value)}`);
    }
    steps.push(step);
  });
  return { steps, ok };
}

/** Compiles the `when:` of a sequence's steps, with the same compiler and time zone as the rule's own `when:`. */
export function compileSteps(spec: CorrelationSpec, operators: ReadonlyMap<string, EngineOperator>, timeZone: string): void {
  if (spec.type !== 'sequence') return;
  for (const s of spec.steps) if (s.when !== undefined) s.predicate = compilePredicate(s.when, operators, timeZone);
}

/**
 * After every rule is compiled: each correlation's base predicate (its own `when:`, or any of its `rules:`),
 * reporting unknown base ids and bases that are themselves correlations (a cycle is named as one). `specs` holds
 * every correlation's base ids, parsed or not, compiled or not (a file with another mistake still gets these checks). Sets
 * `basePredicate` on each compiled correlation rule.
 */
export function linkCorrelations(
  compiled: readonly CompiledRule[],
  ids: ReadonlyMap<string, Pos>,
  specs: ReadonlyMap<string, CorrelationRefs>,
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
        else if (base.info.target !== 'activity') {
          problems.add(ref.pos, `correlation: base rule '${ref.id}' tests ${base.info.target} events, not activity; a correlation counts activity events`, id);
          ok = false;
        } else if (base.info.enabled) preds.push(base.predicate); // a disabled rule is never evaluated: it feeds nothing
      }
    }
    linked.set(id, ok ? preds : undefined);
  }
  // A base predicate's parts (CompiledRule.baseParts): each enabled base rule, with the condition it was compiled from.
  const partsOf = (refs: readonly { id: string }[]) => refs.map((r) => byId.get(r.id) as CompiledRule).filter((b) => b.info.enabled).map((b) => ({ predicate: b.predicate, cond: b.cond }));
  for (const c of compiled) {
    const preds = linked.get(c.info.id);
    const spec = c.correlation;
    if (spec === undefined || preds === undefined) continue;
    // The correlation's own exceptions silence its base events, whichever rule or step they come from.
    const excepted = c.excepted;
    const unless = (p: Predicate): Predicate => (excepted === undefined ? p : (e) => p(e) && !excepted(e));
    if (spec.type === 'sequence') {
      // Each step's events: its when:, or any of its enabled rules; the sequence's base events: those of any step.
      const parts = spec.steps.map((s) => (s.when !== undefined && s.predicate !== undefined ? [{ predicate: s.predicate, cond: s.when }] : partsOf(s.rules)));
      const steps = parts.map((p) => unless(anyOf(p.map((x) => x.predicate))));
      spec.steps.forEach((s, i) => (s.predicate = steps[i]));
      c.basePredicate = anyOf(steps);
      c.baseParts = parts.flat();
      continue;
    }
    const parts = [...(c.hasWhen ? [{ predicate: c.predicate, cond: c.cond }] : []), ...partsOf(spec.rules)];
    c.basePredicate = unless(anyOf(parts.map((p) => p.predicate)));
    c.baseParts = parts;
  }
}

const NONE: Predicate = () => false;

function anyOf(preds: readonly Predicate[]): Predicate {
  if (preds.length === 0) return NONE; // every base rule disabled: nothing feeds it
  return preds.length === 1 ? (preds[0] as Predicate) : (e) => preds.some((p) => p(e));
}

/**
 * The ids of the base rules a correlation references (its `rules:`), in the order written, each once: the rules
 * whose own alerts its `generate` governs (load.ts). Every kind of reference to a base rule belongs here.
 */
export function baseRuleIds(spec: CorrelationSpec): string[] {
  return [...new Set(spec.rules.map((r) => r.id))];
}

function findCycle(start: string, specs: ReadonlyMap<string, CorrelationRefs>): string[] | undefined {
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
