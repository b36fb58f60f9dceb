/**
 * One rule of a rule file (a mapping under `rules:`) -> a CompiledRule, or undefined after reporting every
 * problem with its position and the rule's id: its keys (schema.ts), id, severity, tags, target, its `when:`
 * condition (condition.ts, compiled by compile.ts), its `correlation:` (correlation.ts), its message template
 * (template.ts) and its `tests:` (timed sequences of a correlation: sequenceTests.ts).
 * load.ts reads the files and calls this once per rule, after the lists, macros and fields of every file are known.
 */
import { Severities, type Severity } from '../types.js';
import { compilePredicate } from './compile.js';
import { parseRuleCondition } from './condition.js';
import { resolveField, type ConditionEnv } from './conditionEnv.js';
import { RuleTargets, type RuleTarget } from './fields.js';
import type { operatorTable } from './operators.js';
import { didYouMean } from '../config/didYouMean.js';
import { isError, type Pos } from '../config/problems.js';
import { RULE_ID_PATTERN, RULE_KEYS, TEST_KEYS } from './schema.js';
import type { CompiledRule, RuleInfo } from './types.js';
import { isLocalTimeField, timeZoneProblem } from './localTime.js';
import { compileTemplate } from './template.js';
import { compileSteps, parseCorrelation, type CorrelationRefs } from './correlation.js';
import { parseSequences } from './sequenceTests.js';
import { describeNode, toJs, type YMap, type YNode } from '../config/yamlTree.js';

const TEST_ENGINES = ['postgresql', 'mysql', 'oracle', 'sqlserver', 'unknown'] as const;
const RULE_ID_RE = new RegExp(RULE_ID_PATTERN);

/** A rule's mapping and the file it is in. */
export interface RuleNode {
  node: YNode;
  file: string;
}

export function compileRule(
  rn: RuleNode,
  env: ConditionEnv,
  ids: Map<string, Pos>,
  operators: ReturnType<typeof operatorTable>,
  order: number,
  correlations?: Map<string, CorrelationRefs>,
): CompiledRule | undefined {
  const problems = env.problems;
  const node = rn.node;
  if (node.kind !== 'map') {
    problems.add(node.pos, `a rule is a mapping (id:, severity:, when: ...), got ${describeNode(node)}`);
    return undefined;
  }
  const get = (k: string): YMap['entries'][number] | undefined => node.entries.find((e) => e.key === k);

  // The id first: every other problem names it.
  const idEntry = get('id');
  let id: string | undefined;
  let ok = true;
  if (idEntry === undefined) {
    problems.add(node.pos, 'rule has no id');
    ok = false;
  } else if (idEntry.value.kind !== 'scalar' || typeof idEntry.value.value !== 'string' || !RULE_ID_RE.test(idEntry.value.value)) {
    problems.add(idEntry.value.pos, `rule id must be text of letters, digits and . _ : / - (got ${describeNode(idEntry.value)})`);
    ok = false;
  } else {
    id = idEntry.value.value;
    const prev = ids.get(id);
    if (prev !== undefined) {
      problems.add(idEntry.value.pos, `duplicate rule id '${id}' (first defined at ${prev.file}:${prev.line})`, id);
      ok = false;
    } else ids.set(id, idEntry.value.pos);
  }
  const err = (pos: Pos, message: string): void => {
    problems.add(pos, message, id);
    ok = false;
  };

  for (const e of node.entries) {
    if (!RULE_KEYS.includes(e.key)) err(e.keyPos, `unknown key '${e.key}' in a rule${didYouMean(e.key, RULE_KEYS)}`);
  }

  const text = (k: string): string | undefined => {
    const e = get(k);
    if (e === undefined) return undefined;
    if (e.value.kind !== 'scalar' || typeof e.value.value !== 'string') {
      err(e.value.pos, `'${k}' must be text, got ${describeNode(e.value)}`);
      return undefined;
    }
    return e.value.value;
  };

  const description = text('description') ?? '';
  const runbook = text('runbook');

  let severity: Severity | undefined;
  const sevEntry = get('severity');
  if (sevEntry === undefined) err(node.pos, `rule has no severity (one of ${Severities.join(', ')})`);
  else {
    const v = sevEntry.value.kind === 'scalar' ? sevEntry.value.value : undefined;
    if (typeof v === 'string' && (Severities as readonly string[]).includes(v)) severity = v as Severity;
    else {
      const hint = typeof v === 'string' ? didYouMean(v, Severities) : '';
      err(sevEntry.value.pos, `bad severity ${describeNode(sevEntry.value)}${hint}: one of ${Severities.join(', ')}`);
    }
  }

  let enabled = true;
  const enEntry = get('enabled');
  if (enEntry !== undefined) {
    if (enEntry.value.kind === 'scalar' && typeof enEntry.value.value === 'boolean') enabled = enEntry.value.value;
    else err(enEntry.value.pos, `'enabled' must be true or false, got ${describeNode(enEntry.value)}`);
  }

  const tags: string[] = [];
  const tagEntry = get('tags');
  if (tagEntry !== undefined) {
    if (tagEntry.value.kind !== 'seq') err(tagEntry.value.pos, `'tags' must be a list of text, got ${describeNode(tagEntry.value)}`);
    else {
      for (const t of tagEntry.value.items) {
        if (t.kind === 'scalar' && typeof t.value === 'string' && t.value !== '') tags.push(t.value);
        else err(t.pos, `a tag is text (quote it: '${t.kind === 'scalar' ? String(t.value) : '...'}'), got ${describeNode(t)}`);
      }
    }
  }

  let target: RuleTarget = 'activity';
  const tgtEntry = get('target');
  if (tgtEntry !== undefined) {
    const v = tgtEntry.value.kind === 'scalar' ? tgtEntry.value.value : undefined;
    if (typeof v === 'string' && (RuleTargets as readonly string[]).includes(v)) target = v as RuleTarget;
    else err(tgtEntry.value.pos, `bad target ${describeNode(tgtEntry.value)}${typeof v === 'string' ? didYouMean(v, RuleTargets) : ''}: one of ${RuleTargets.join(', ')}`);
  }

  // A correlation (stateful rule, correlation.ts) is built on its own when: and/or the base rules it lists.
  const corrEntry = get('correlation');
  let correlation: CompiledRule['correlation'];
  let corrType: CorrelationRefs['type'];
  if (corrEntry !== undefined) {
    if (target !== 'activity') err(corrEntry.keyPos, `correlation: only activity rules can correlate (this rule's target is ${target})`);
    else {
      const parsed = parseCorrelation(corrEntry.value, env, id);
      correlation = parsed.spec;
      corrType = parsed.refs.type;
      if (correlation === undefined) ok = false;
      // Its base ids are checked by linkCorrelations even when another part of it is wrong (every mistake at once).
      if (id !== undefined) correlations?.set(id, parsed.refs);
    }
  }
  const whenEntry = get('when');
  let cond: CompiledRule['cond'] | undefined;
  if (corrType === 'sequence' && whenEntry !== undefined) {
    err(whenEntry.keyPos, "correlation: a sequence's events are its steps': put this condition in a step ({when: ...}) of correlation.steps");
  }
  if (whenEntry === undefined) {
    if (correlation !== undefined && (correlation.rules.length > 0 || correlation.type === 'sequence')) cond = { kind: 'any', items: [] };
    else if (corrEntry === undefined || correlation !== undefined) err(node.pos, corrEntry === undefined ? "rule has no 'when' condition" : "correlation: no base events: give the rule a 'when' condition or list base rules in correlation.rules");
  } else {
    const before = problems.items.length;
    cond = parseRuleCondition(whenEntry.value, env, target, id);
    if (cond === undefined) {
      ok = false;
      // A broken macro or an unknown list in a file that failed to parse may leave nothing reported here.
      if (problems.items.length === before && !env.incomplete) err(whenEntry.keyPos, "the 'when' condition is invalid");
    }
  }

  let timeZone = env.timeZone;
  const tzEntry = get('timeZone');
  if (tzEntry !== undefined) {
    const v = tzEntry.value.kind === 'scalar' ? tzEntry.value.value : undefined;
    const bad = timeZoneProblem(v);
    if (bad !== undefined) err(tzEntry.value.pos, bad);
    else timeZone = v as string;
  }

  const messageEntry = get('message');
  const messageText = text('message') ?? (description !== '' ? '{{rule.description}}' : `{{rule.id}}`);
  const messagePos = messageEntry?.value.pos ?? node.pos;
  const template = compileTemplate(
    messageText,
    (name) => resolveField(name, messagePos, { env, target, ruleId: id }),
    (message) => err(messagePos, message),
    (message) => problems.warn(messagePos, message, id),
    timeZone,
  );
  if (template === undefined) ok = false;

  let tests: CompiledRule['tests'];
  const testsEntry = get('tests');
  if (testsEntry !== undefined) {
    const t = parseTests(testsEntry.value, env, target, id, corrEntry !== undefined);
    if (t === undefined) ok = false;
    else tests = t;
  }

  if (!ok || id === undefined || severity === undefined || cond === undefined || template === undefined) return undefined;
  // With a mistake anywhere, no rule set is built: compiling (macros expanded) would be work for nothing.
  if (problems.items.some(isError)) return undefined;
  const info: RuleInfo = { id, description, severity, tags, target, file: rn.file, line: node.pos.line, enabled };
  if (runbook !== undefined && runbook !== '') info.runbook = runbook;
  const compiled: CompiledRule = {
    info,
    order,
    cond,
    predicate: compilePredicate(cond, operators, timeZone),
    template,
    timeZone,
    tests,
  };
  if (correlation !== undefined) {
    compileSteps(correlation, operators, timeZone);
    Object.assign(compiled, { correlation, hasWhen: whenEntry !== undefined });
  }
  return compiled;
}

function parseTests(node: YNode, env: ConditionEnv, target: RuleTarget, id: string | undefined, isCorrelation: boolean): CompiledRule['tests'] | undefined {
  const problems = env.problems;
  if (node.kind !== 'map') {
    problems.add(node.pos, `'tests' is a mapping with fires: and doesNotFire: lists, got ${describeNode(node)}`, id);
    return undefined;
  }
  let ok = true;
  const out: NonNullable<CompiledRule['tests']> = { fires: [], doesNotFire: [] };
  const fields = env.fields[target];
  for (const e of node.entries) {
    if (!TEST_KEYS.includes(e.key)) {
      problems.add(e.keyPos, `unknown key '${e.key}' in tests${didYouMean(e.key, TEST_KEYS)}`, id);
      ok = false;
      continue;
    }
    if (e.key === 'sequences' || isCorrelation) {
      // A correlation is tested by timed sequences only; a stateless rule by fires/doesNotFire only.
      if (e.key !== 'sequences' || !isCorrelation) {
        problems.add(e.keyPos, isCorrelation ? `a correlation rule is tested by tests.sequences (timed events), not tests.${e.key}` : 'tests.sequences is for correlation rules; this rule has no correlation:', id);
        ok = false;
        continue;
      }
      const seqs = parseSequences(e.value, fields, problems, id);
      if (seqs === undefined) ok = false;
      else out.sequences = seqs;
      continue;
    }
    if (e.value.kind !== 'seq') {
      problems.add(e.value.pos, `tests.${e.key} is a list of events, got ${describeNode(e.value)}`, id);
      ok = false;
      continue;
    }
    for (const ev of e.value.items) {
      if (ev.kind !== 'map') {
        problems.add(ev.pos, `a test event is a mapping of fields, got ${describeNode(ev)}`, id);
        ok = false;
        continue;
      }
      for (const f of ev.entries) {
        if (!fields.has(f.key)) {
          problems.add(f.keyPos, `test event: unknown field '${f.key}'${didYouMean(f.key, fields.keys())}`, id);
          ok = false;
        } else if (target === 'activity' && isLocalTimeField(f.key)) {
          problems.add(f.keyPos, `test event: ${f.key} is computed from the event's time: set logTime instead (e.g. logTime: '2024-05-01 23:30:00.000000+00')`, id);
          ok = false;
        } else if (target === 'activity' && f.key === 'engine') {
          const v = f.value.kind === 'scalar' ? f.value.value : undefined;
          if (typeof v !== 'string' || !(TEST_ENGINES as readonly string[]).includes(v)) {
            const hint = typeof v === 'string' ? didYouMean(v, TEST_ENGINES) : '';
            problems.add(f.value.pos, `test event: engine must be one of ${TEST_ENGINES.join(', ')}, got ${describeNode(f.value)}${hint}`, id);
            ok = false;
          }
        }
      }
      (out[e.key as 'fires' | 'doesNotFire']).push({ event: toJs(ev) as Record<string, unknown>, pos: ev.pos });
    }
  }
  return ok ? out : undefined;
}
