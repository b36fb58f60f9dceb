/**
 * Loading rules = read -> parse (YAML, with positions: src/config/yamlTree.ts) -> validate -> compile, collecting
 * EVERY problem with its file, line and rule id. Nothing about a rule can fail later, at run time. The keys and
 * patterns of a rule file are those of its spec (schema.ts); the checks word each problem for the rule.
 *
 * This file reads the files and their top level (lists, macros, declared fields: global, so read first);
 * compileRule.ts checks and compiles each rule.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join, relative, sep } from 'node:path';
import { checkUnusedMacro } from './condition.js';
import type { ConditionEnv, Macro, NamedList } from './conditionEnv.js';
import { compileRule, type RuleNode } from './compileRule.js';
import { baseRuleIds, linkCorrelations, type CorrelationRefs } from './correlation.js';
import {
  ACTIVITY_FIELDS,
  FieldTypes,
  IDENTIFIER_RE,
  RDS_EVENT_FIELDS,
  RESERVED_NAMES,
  RuleTargets,
  type FieldType,
  type RuleTarget,
} from './fields.js';
import { operatorTable } from './operators.js';
import { DEFAULT_TIME_ZONE, timeZoneProblem } from './localTime.js';
import { applyListMacroAppends, applyRuleOverrides, collectOverrides } from './overrides.js';
import { didYouMean } from '../config/didYouMean.js';
import { ProblemList, isError, type Pos, type Problem } from '../config/problems.js';
import { NAME_PATTERN, TOP_KEYS } from './schema.js';
import { CompiledRuleSet } from './RuleSet.js';
import type { CompiledRule, RuleSet } from './types.js';
import { describeNode, parseYamlFile, type YNode } from '../config/yamlTree.js';

export interface LoadResult {
  /** Undefined when any problem is an error. */
  ruleSet: RuleSet | undefined;
  /** Errors and warnings, in file order. */
  problems: Problem[];
  /** The rule files read, in load order. */
  files: string[];
}

/**
 * The headline of a load that gave no rule set: `N problems in the rule files[ (PATHS)]; nothing was evaluated`,
 * N counting every problem reported with it (errors and warnings, as they are listed). The one place it is built,
 * for the CLI (after the problems, on stderr) and the Lambda (before them, in its init failure).
 */
export function rulesFailedMessage(problems: readonly Problem[], paths?: readonly string[]): string {
  const n = problems.length;
  return `${n} problem${n === 1 ? '' : 's'} in the rule files${paths ? ` (${paths.join(', ')})` : ''}; nothing was evaluated`;
}

const NAME_RE = new RegExp(NAME_PATTERN);

/**
 * Loads rule files. `paths` are files or directories (searched recursively for *.yaml / *.yml, in sorted
 * order; hidden directories skipped). Lists, macros and declared fields are global across all files.
 */
export async function loadRules(paths: string[]): Promise<LoadResult> {
  const problems = new ProblemList();
  const found = await expandPaths(paths, problems);
  const sources: RuleSource[] = [];
  for (const { file, name } of found) {
    try {
      sources.push({ file, name, text: await readFile(file, 'utf8') });
    } catch (err) {
      problems.add({ file, line: 0, column: 0 }, `cannot read: ${(err as Error).message}`);
    }
  }
  const ruleSet = loadRuleSources(sources, problems);
  return { ruleSet, problems: problems.items, files: found.map((f) => f.file) };
}

/**
 * The same from texts already in memory (tests, the docs examples). Each text is named by its `file` in the version
 * (rulesVersion), unless it gives its `name` (its path relative to the rule directory, as loadRules names files).
 */
export function loadRuleTexts(sources: readonly { file: string; text: string; name?: string }[]): { ruleSet: RuleSet | undefined; problems: Problem[] } {
  const problems = new ProblemList();
  const ruleSet = loadRuleSources(sources.map((s) => ({ file: s.file, name: s.name ?? s.file, text: s.text })), problems);
  return { ruleSet, problems: problems.items };
}

/** A rule file read: where it is, the name it has in the version (see rulesVersion), its text. */
interface RuleSource {
  file: string;
  name: string;
  text: string;
}

/**
 * The rule set's version (RuleSet.version, `rulesVersion` in every alert a rule raises): `sha256:` and the first 12
 * hex digits of a SHA-256 over the rule files, each as its name and its bytes, in the order of the names. A file's
 * name is its path relative to the directory given (`--rules rules/` and `rules/auth.yaml` is `auth.yaml`), or its
 * base name when the file itself was given (always with `/`): the same files give the same version in `replay`,
 * `run` and the Lambda, wherever the directory is; one byte changed gives another. The ONE place it is computed.
 */
export function rulesVersion(sources: readonly { name: string; text: string }[]): string {
  const h = createHash('sha256');
  const sorted = [...sources].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const { name, text } of sorted) {
    const bytes = Buffer.from(text, 'utf8');
    // Lengths first, so no two different lists of files hash the same bytes.
    h.update(`${Buffer.byteLength(name)}:${name}\n${bytes.length}\n`).update(bytes);
  }
  return `sha256:${h.digest('hex').slice(0, 12)}`;
}

async function expandPaths(paths: readonly string[], problems: ProblemList): Promise<{ file: string; name: string }[]> {
  const out: { file: string; name: string }[] = [];
  const seen = new Set<string>();
  const add = (f: string, name: string): void => {
    if (!seen.has(f)) {
      seen.add(f);
      out.push({ file: f, name: name.split(sep).join('/') });
    }
  };
  for (const p of paths) {
    let st;
    try {
      st = await stat(p);
    } catch (err) {
      problems.add({ file: p, line: 0, column: 0 }, `cannot read rules: ${(err as Error).message}`);
      continue;
    }
    if (st.isDirectory()) {
      const found = await walk(p);
      if (found.length === 0) problems.warn({ file: p, line: 0, column: 0 }, 'no *.yaml or *.yml rule files in this directory');
      for (const f of found) add(f, relative(p, f));
    } else add(p, basename(p));
  }
  return out;
}

async function walk(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const names = entries.map((e) => e.name).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const out: string[] = [];
  for (const name of names) {
    const e = entries.find((x) => x.name === name);
    if (e === undefined || name.startsWith('.')) continue;
    const full = join(dir, name);
    if (e.isDirectory()) out.push(...(await walk(full)));
    else if (/\.ya?ml$/i.test(name)) out.push(full);
  }
  return out;
}

function loadRuleSources(sources: readonly RuleSource[], problems: ProblemList): RuleSet | undefined {
  const lists = new Map<string, NamedList>();
  const macros = new Map<string, Macro>();
  const declared = new Map<string, { type: FieldType; pos: Pos }>();
  const ruleNodes: RuleNode[] = [];
  const overrideNodes: YNode[] = [];
  let incomplete = false;
  // One zone for every file loaded, so the company's zone is set in one place (docs/rules.md "Time of day").
  let timeZone: { name: string; pos: Pos } | undefined;
  // The pack's version (`dasguard validate` shows it): one value, like timeZone.
  let packVersion: { name: string; pos: Pos } | undefined;

  // Pass 1: the top level of every file (lists, macros and fields are global, so they come first).
  for (const { file, text } of sources) {
    const { docs, ok } = parseYamlFile(file, text, problems);
    if (!ok) incomplete = true;
    for (const doc of docs) {
      if (doc.kind !== 'map') {
        problems.add(doc.pos, `a rule file is a mapping with rules:, lists:, macros:, fields:; got ${describeNode(doc)}`);
        continue;
      }
      for (const e of doc.entries) {
        if (e.key === 'rules') {
          if (e.value.kind === 'seq') for (const r of e.value.items) ruleNodes.push({ node: r, file });
          else if (!(e.value.kind === 'scalar' && e.value.value === null)) problems.add(e.value.pos, `'rules' is a list of rules, got ${describeNode(e.value)}`);
        } else if (e.key === 'lists') collectLists(e.value, lists, problems);
        else if (e.key === 'macros') collectMacros(e.value, macros, problems);
        else if (e.key === 'fields') collectFields(e.value, declared, problems);
        else if (e.key === 'timeZone') {
          const v = e.value.kind === 'scalar' ? e.value.value : undefined;
          const bad = timeZoneProblem(v);
          if (bad !== undefined) problems.add(e.value.pos, bad);
          else if (timeZone !== undefined && timeZone.name !== v) {
            problems.add(e.value.pos, `timeZone ${String(v)} here and ${timeZone.name} at ${timeZone.pos.file}:${timeZone.pos.line}: the rule files have one timeZone (a rule may set its own)`);
          } else timeZone ??= { name: v as string, pos: e.value.pos };
        }
        else if (e.key === 'packVersion') {
          const v = e.value.kind === 'scalar' ? e.value.value : undefined;
          if (typeof v !== 'string' || v.trim() === '') problems.add(e.value.pos, `packVersion is a text, e.g. '2026.12.0', got ${describeNode(e.value)}`);
          else if (packVersion !== undefined && packVersion.name !== v) {
            problems.add(e.value.pos, `packVersion ${v} here and ${packVersion.name} at ${packVersion.pos.file}:${packVersion.pos.line}: the rule files have one packVersion`);
          } else packVersion ??= { name: v, pos: e.value.pos };
        }
        else if (e.key === 'overrides') overrideNodes.push(e.value);
        else problems.add(e.keyPos, `unknown top-level key '${e.key}'${didYouMean(e.key, TOP_KEYS)} (expected ${TOP_KEYS.join(', ')})`);
      }
    }
  }

  const fields: Record<RuleTarget, Map<string, FieldType>> = {
    activity: new Map(Object.entries(ACTIVITY_FIELDS)),
    'rds-event': new Map(Object.entries(RDS_EVENT_FIELDS)),
  };
  const nestedFields = new Map<string, FieldType>();
  for (const [name, d] of declared) {
    if (name.includes('.')) {
      nestedFields.set(name, d.type);
      continue;
    }
    for (const t of RuleTargets) fields[t].set(name, d.type);
  }
  const overrides = collectOverrides(overrideNodes, problems);
  const appended = applyListMacroAppends(overrides, lists, macros, problems, incomplete);
  const env: ConditionEnv = { problems, fields, nestedFields, lists, macros, incomplete, macroCache: new Map(), macroStack: [], ruleSetTests: 0, timeZone: timeZone?.name ?? DEFAULT_TIME_ZONE };

  // Pass 2: the rules.
  const operators = operatorTable();
  const compiled: CompiledRule[] = [];
  const ids = new Map<string, Pos>();
  const correlations = new Map<string, CorrelationRefs>();
  for (const rn of ruleNodes) {
    const c = compileRule(rn, env, ids, operators, compiled.length, correlations);
    if (c !== undefined) compiled.push(c);
  }
  const effective = applyRuleOverrides(overrides, ruleNodes, compiled, env, appended);
  // After the overrides: a correlation's base events are its base rules as they finally are (exceptions included).
  linkCorrelations(effective, ids, correlations, problems);
  for (const m of macros.values()) {
    if (![...env.macroCache.keys()].some((k) => k.endsWith(`\0${m.name}`))) checkUnusedMacro(m, env);
  }
  problems.items.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line || (a.column ?? 0) - (b.column ?? 0)));
  if (problems.items.some(isError)) return undefined;
  markFeedOnly(effective);
  return new CompiledRuleSet(effective, packVersion?.name, rulesVersion(sources), sources);
}

/**
 * Sigma's `generate` (docs/rules.md "Correlation rules"), once overrides have set each rule's `enabled`: a rule that
 * enabled correlations reference only feeds them (`feedsOnly`: no alert of its own) unless one of them says
 * `generate: true`. Disabled correlations do not count: a rule they alone reference alerts as before.
 */
function markFeedOnly(rules: readonly CompiledRule[]): void {
  const feeds = new Map<string, { by: string[]; generate: boolean }>();
  for (const c of rules) {
    if (c.correlation === undefined || !c.info.enabled) continue;
    for (const id of baseRuleIds(c.correlation)) {
      const f = feeds.get(id);
      if (f === undefined) feeds.set(id, { by: [c.info.id], generate: c.correlation.generate === true });
      else {
        f.by.push(c.info.id);
        f.generate ||= c.correlation.generate === true;
      }
    }
  }
  for (const r of rules) {
    const f = feeds.get(r.info.id);
    if (f !== undefined && !f.generate) r.feedsOnly = f.by;
  }
}

function collectLists(node: YNode, lists: Map<string, NamedList>, problems: ProblemList): void {
  if (node.kind !== 'map') {
    problems.add(node.pos, `'lists' maps list names to lists of values, got ${describeNode(node)}`);
    return;
  }
  for (const e of node.entries) {
    if (!NAME_RE.test(e.key)) {
      problems.add(e.keyPos, `list name '${e.key}' must be letters, digits, _ or - (starting with a letter or _)`);
      continue;
    }
    const prev = lists.get(e.key);
    if (prev !== undefined) {
      problems.add(e.keyPos, `duplicate list '${e.key}' (also defined at ${prev.pos.file}:${prev.pos.line})`);
      continue;
    }
    if (e.value.kind !== 'seq') {
      problems.add(e.value.pos, `list '${e.key}' must be a list of values, got ${describeNode(e.value)}`);
      continue;
    }
    const values: (string | number | boolean | null)[] = [];
    let ok = true;
    for (const it of e.value.items) {
      if (it.kind !== 'scalar') {
        problems.add(it.pos, `list '${e.key}': items are single values, got ${describeNode(it)}`);
        ok = false;
      } else values.push(it.value);
    }
    if (ok) lists.set(e.key, { name: e.key, values, pos: e.keyPos });
  }
}

function collectMacros(node: YNode, macros: Map<string, Macro>, problems: ProblemList): void {
  if (node.kind !== 'map') {
    problems.add(node.pos, `'macros' maps macro names to conditions, got ${describeNode(node)}`);
    return;
  }
  for (const e of node.entries) {
    if (!NAME_RE.test(e.key)) {
      problems.add(e.keyPos, `macro name '${e.key}' must be letters, digits, _ or - (starting with a letter or _)`);
      continue;
    }
    const prev = macros.get(e.key);
    if (prev !== undefined) {
      problems.add(e.keyPos, `duplicate macro '${e.key}' (also defined at ${prev.pos.file}:${prev.pos.line})`);
      continue;
    }
    macros.set(e.key, { name: e.key, node: e.value, pos: e.keyPos });
  }
}

function collectFields(node: YNode, declared: Map<string, { type: FieldType; pos: Pos }>, problems: ProblemList): void {
  const entries: { name: string; pos: Pos; type: FieldType }[] = [];
  if (node.kind === 'seq') {
    for (const it of node.items) {
      if (it.kind !== 'scalar' || typeof it.value !== 'string') problems.add(it.pos, `a field name is text, got ${describeNode(it)}`);
      else entries.push({ name: it.value, pos: it.pos, type: 'any' });
    }
  } else if (node.kind === 'map') {
    for (const e of node.entries) {
      const t = e.value.kind === 'scalar' ? e.value.value : undefined;
      if (typeof t !== 'string' || !(FieldTypes as readonly string[]).includes(t)) {
        problems.add(e.value.pos, `field '${e.key}': type must be one of ${FieldTypes.join(', ')}, got ${describeNode(e.value)}`);
        continue;
      }
      entries.push({ name: e.key, pos: e.keyPos, type: t as FieldType });
    }
  } else {
    problems.add(node.pos, `'fields' is a list of field names or a mapping name: type, got ${describeNode(node)}`);
    return;
  }
  for (const { name, pos, type } of entries) {
    const parts = name.split('.');
    if (!parts.every((p) => IDENTIFIER_RE.test(p)) || RESERVED_NAMES.has(parts[0] as string)) {
      problems.add(pos, `'${name}' cannot be a field name (letters, digits and _, dots between keys; not a condition keyword)`);
      continue;
    }
    const top = parts[0] as string;
    if (parts.length === 1 && (top in ACTIVITY_FIELDS || top in RDS_EVENT_FIELDS)) {
      problems.add(pos, `field '${name}' is already known: no need to declare it`);
      continue;
    }
    if (parts.length > 1 && ACTIVITY_FIELDS[top] !== 'object' && ACTIVITY_FIELDS[top] !== 'any' && !declared.has(top)) {
      problems.add(pos, `'${name}': ${top} is not an object field`);
      continue;
    }
    const prev = declared.get(name);
    if (prev !== undefined && prev.type !== type) {
      problems.add(pos, `field '${name}' declared as ${type} here and as ${prev.type} at ${prev.pos.file}:${prev.pos.line}`);
      continue;
    }
    if (prev === undefined) declared.set(name, { type, pos });
  }
}
