/**
 * `dasguard validate --explain RULE-ID`: the effective rule after every file (overrides.ts applied): its condition
 * with macros and lists expanded (an indented all/any/not tree of `field operator value`, exceptions apart), or for a
 * correlation its type, threshold, window, groups, base rules (a sequence's steps, each with its rules or its own
 * condition; first_seen's fields, learning and forget) and `generate`; severity, enabled, whether a base rule alerts
 * on its own or only feeds correlations, exceptions, and for each property the file:line that set or changed it, in
 * load order. `feedOnlyLines` is what plain `validate` says of the rules that only feed correlations.
 */
import { formatMs } from '../config/duration.js';
import { baseRuleIds } from './correlation.js';
import type { Cond } from './conditionEnv.js';
import { CompiledRuleSet } from './RuleSet.js';
import type { CompiledRule, RuleSet } from './types.js';

/** The explanation's text, or undefined when no rule has that id. */
export function explainRule(ruleSet: RuleSet, id: string): string | undefined {
  if (!(ruleSet instanceof CompiledRuleSet)) throw new Error('explainRule needs a rule set loaded by loadRules');
  const c = ruleSet.compiledRules().find((r) => r.info.id === id);
  if (c === undefined) return undefined;
  const x = c.explain;
  const lines = [`rule ${c.info.id} (${c.info.file}:${c.info.line}, target ${c.info.target})`];
  lines.push(`  severity: ${c.info.severity}`, `  enabled: ${c.info.enabled}`);
  const k = c.correlation;
  // A base rule by its id, saying when it is disabled (never evaluated: it feeds nothing).
  const enabled = new Map(ruleSet.compiledRules().map((r) => [r.info.id, r.info.enabled]));
  const named = (id: string): string => (enabled.get(id) === false ? `${id} (disabled: feeds nothing)` : id);
  if (k !== undefined) {
    // A correlation's base events are its base rules (each explained by its own id) and its own `when:`, if any.
    const per = `per [${k.groupBy.join(', ')}], ${k.realertMs === 0 ? 'no quiet period after firing' : `quiet ${formatMs(k.realertMs)} per group after firing`}`;
    if (k.type === 'sequence') {
      lines.push(`  correlation: sequence of ${k.steps.length} steps in order within ${k.window} ${per}`);
      k.steps.forEach((st, i) => {
        // Each step's events: its base rules (each explained by its own id), or its own condition shown here.
        if (st.when === undefined) lines.push(`  step ${i + 1}: ${st.gte} or more events of ${st.rules.map((r) => named(r.id)).join(', ')}${i > 0 ? ', after step ' + i : ''}`);
        else {
          lines.push(`  step ${i + 1}: ${st.gte} or more events of its when (macros and lists expanded)${i > 0 ? ', after step ' + i : ''}:`);
          condLines(st.when, '    ', lines);
        }
      });
    } else if (k.type === 'first_seen') {
      const forget = k.forget !== undefined ? `a combination not seen for ${k.forget} is new again` : 'never forgotten';
      lines.push(`  correlation: first_seen of [${k.fields.join(', ')}] ${per}; learning ${k.learning} from the rule's first base event; ${forget}`);
    } else lines.push(`  correlation: ${k.type}${k.field !== undefined ? ` of ${k.field}` : ''} >= ${k.gte} within ${k.window} ${per}`);
    if (k.rules.length > 0 && k.type !== 'sequence') lines.push(`  base rules: ${k.rules.map((r) => named(r.id)).join(', ')}`);
    const gen = k.generate === true;
    const why = baseRuleIds(k).length === 0
      ? 'no base rules'
      : !c.info.enabled
        ? 'disabled: it silences none of its base rules'
        : gen
          ? 'its base rules also alert on their own'
          : 'its base rules only feed it, unless an enabled correlation listing them says generate: true';
    lines.push(`  generate: ${gen} (${why})`);
  } else {
    const feeding = feedingLine(ruleSet.compiledRules(), c);
    if (feeding !== undefined) lines.push(`  ${feeding}`);
  }
  if (k === undefined || c.hasWhen) {
    lines.push(k === undefined ? '  when (macros and lists expanded):' : '  own when (macros and lists expanded), also a base event:');
    condLines(x?.when ?? c.cond, '    ', lines);
  }
  const exceptions = x?.exceptions ?? [];
  if (exceptions.length === 0) lines.push('  exceptions: none');
  else {
    lines.push('  exceptions (an event equal to every value of one tuple is silenced):');
    for (const e of exceptions) {
      lines.push(`    ${e.name} [${e.fields.join(', ')}]${e.values.length === 0 ? ': no tuples' : ''}`);
      for (const t of e.values) lines.push(`      ${JSON.stringify(t)}`);
    }
  }
  lines.push('  set or changed at (load order):');
  for (const o of x?.origins ?? []) lines.push(`    ${o.property.padEnd(24)} ${o.pos.file}:${o.pos.line}  ${o.how}`);
  return lines.join('\n');
}

/**
 * What `validate` says of each enabled rule that only feeds correlations: `ID does not alert on its own: feeds …
 * (generate: false)`, in load order.
 */
export function feedOnlyLines(ruleSet: RuleSet): string[] {
  if (!(ruleSet instanceof CompiledRuleSet)) return [];
  const all = ruleSet.compiledRules();
  return all.filter((r) => r.info.enabled && r.feedsOnly !== undefined).map((r) => `${r.info.id} ${feedingLine(all, r) ?? ''}`);
}

/** How a stateless rule stands with the correlations that reference it; undefined when none does. */
function feedingLine(all: readonly CompiledRule[], c: CompiledRule): string | undefined {
  if (c.feedsOnly !== undefined) return `does not alert on its own: feeds ${c.feedsOnly.join(', ')} (generate: false)`;
  const refs = all.filter((r) => r.correlation !== undefined && baseRuleIds(r.correlation).includes(c.info.id));
  if (refs.length === 0) return undefined;
  const enabled = refs.filter((r) => r.info.enabled);
  if (enabled.length === 0) return `alerts on its own: listed only by disabled correlations (${refs.map((r) => r.info.id).join(', ')})`;
  const gen = enabled.filter((r) => r.correlation?.generate === true).map((r) => r.info.id);
  return `alerts on its own and feeds ${enabled.map((r) => r.info.id).join(', ')} (generate: true on ${gen.join(', ')})`;
}

function condLines(c: Cond, indent: string, out: string[]): void {
  if (c.kind === 'fact') {
    const field = [c.ref.fact, ...c.ref.path].join('.');
    const value = c.valueRef !== undefined ? `field ${[c.valueRef.fact, ...c.valueRef.path].join('.')}` : JSON.stringify(c.value);
    out.push(`${indent}${field} ${c.operator} ${value}`);
    return;
  }
  out.push(`${indent}${c.kind}:`);
  for (const item of c.kind === 'not' ? [c.item] : c.items) condLines(item, indent + '  ', out);
}
