/**
 * The spec engine for YAML files: walks a YAML tree (yamlTree.ts) against a Spec (spec.ts), adding EVERY problem at
 * the line of the node at fault, and returns the plain value as far as it checked. Used by dasguard.yaml, the
 * loss-window patterns and the rule files' shape. `checkText` (one text value against a string, integer, boolean or
 * duration spec) is shared with the environment checker (checkEnv.ts), so both say the same thing of a value.
 */
import { didYouMean } from './didYouMean.js';
import { DURATION_HINT, durationProblem, parseDuration } from './duration.js';
import type { Pos, ProblemList } from './problems.js';
import type { Spec, StringSpec } from './spec.js';
import { describeNode, type YNode } from './yamlTree.js';

export interface YamlCheckOptions {
  problems: ProblemList;
  /**
   * How a problem names where it is: 'path' (`lossWindow.open[0].message: ...`, the default), or 'entry' (the
   * name of the closest entry of a `map` spec, a sink name: dasguard.yaml's messages, kept as users know them).
   */
  labels?: 'path' | 'entry';
  /** When given, `${VAR}` in text values is replaced from it (`$$` is a literal `$`): dasguard.yaml. */
  env?: NodeJS.ProcessEnv;
  /** Every value of a `secret` spec is added here, to mask in logs and errors. */
  secrets?: string[];
  /** Named on every problem (a rule's keys). */
  ruleId?: string;
}

/**
 * Checks `node` against `spec`. Returns the plain value as far as it is right: undefined for a node that is wrong
 * itself (a wrong type, a bad value), and for a mapping or a list the parts that checked (a wrong entry left out, a
 * wrong item `undefined`), so that cross-checks can still run on the rest. The value is whole exactly when no error
 * was added. Durations come back in milliseconds, `parse` hooks' values as they made them.
 */
export function checkYaml(node: YNode, spec: Spec, opts: YamlCheckOptions): unknown {
  return new YamlChecker(opts).check(node, spec, [], '');
}

/** `a.b[2].c` */
export function formatPath(path: readonly (string | number)[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

type Path = readonly (string | number)[];

class YamlChecker {
  constructor(private readonly o: YamlCheckOptions) {}

  #add(pos: Pos, message: string): undefined {
    this.o.problems.add(pos, message, this.o.ruleId);
    return undefined;
  }

  check(node: YNode, spec: Spec, path: Path, entry: string): unknown {
    const label = this.o.labels === 'entry' ? entry : formatPath(path);
    const prefix = label ? `${label}: ` : '';
    const bad = (what: string): undefined => this.#add(node.pos, `${prefix}expected ${what}, got ${describeNode(node)}`);
    switch (spec.type) {
      case 'any':
        return node;
      case 'string':
      case 'duration': {
        if (node.kind !== 'scalar' || node.value === null || typeof node.value === 'boolean') return bad(spec.type === 'string' ? 'text' : DURATION_HINT);
        const text = this.#substitute(String(node.value), node.pos);
        if (text === undefined) return undefined;
        const r = checkText(text.value, spec, text.substituted);
        if ('problem' in r) return this.#add(node.pos, `${prefix}${r.problem}`);
        if (spec.type === 'string' && spec.secret) this.o.secrets?.push(text.value);
        return r.value;
      }
      case 'integer': {
        const v = node.kind === 'scalar' ? node.value : undefined;
        if (typeof v !== 'number' || !Number.isInteger(v)) return bad('a whole number');
        if (v < spec.minimum || (spec.maximum !== undefined && v > spec.maximum)) {
          return this.#add(node.pos, `${prefix}${v} is out of range (${spec.minimum}..${spec.maximum ?? '∞'})`);
        }
        return v;
      }
      case 'boolean':
        if (node.kind !== 'scalar' || typeof node.value !== 'boolean') return bad('true or false');
        return node.value;
      case 'array': {
        if (spec.nullIsEmpty && node.kind === 'scalar' && node.value === null) return [];
        if (node.kind !== 'seq') return bad('a list');
        if (spec.minItems !== undefined && node.items.length < spec.minItems) {
          this.#add(node.pos, `${prefix}expected at least ${spec.minItems} item${spec.minItems === 1 ? '' : 's'}`);
        }
        return node.items.map((it, i) => this.check(it, spec.items, [...path, i], entry));
      }
      case 'map': {
        if (node.kind !== 'map') return bad('a mapping');
        const out: Record<string, unknown> = {};
        for (const e of node.entries) {
          if (!new RegExp(spec.keyPattern).test(e.key)) {
            this.#add(e.keyPos, `bad name '${e.key}' (expected ${spec.keyHint ?? `text matching ${spec.keyPattern}`})`);
            continue;
          }
          const v = this.check(e.value, spec.values, [...path, e.key], e.key);
          // defined, not assigned: a user's name `__proto__` (a header) is an entry, not the object's prototype
          if (v !== undefined) Object.defineProperty(out, e.key, { value: v, enumerable: true, writable: true, configurable: true });
        }
        return out;
      }
      case 'tagged': {
        if (node.kind !== 'map') return bad('a mapping');
        const typeEntry = node.entries.find((e) => e.key === 'type');
        const kinds = Object.keys(spec.variants);
        if (!typeEntry) return this.#add(node.pos, `${prefix}missing 'type' (one of ${kinds.join(', ')})`);
        const t = typeEntry.value.kind === 'scalar' ? String(typeEntry.value.value) : '';
        const variant = Object.hasOwn(spec.variants, t) ? spec.variants[t] : undefined;
        if (!variant) {
          return this.#add(typeEntry.value.pos, `${prefix}unknown ${spec.what} ${describeNode(typeEntry.value)}${didYouMean(t, kinds)} (expected ${kinds.join(', ')})`);
        }
        return this.check(node, variant, path, entry);
      }
      case 'object': {
        if (node.kind !== 'map') return bad('a mapping');
        const out: Record<string, unknown> = {};
        const keys = Object.keys(spec.properties);
        for (const e of node.entries) {
          const sub = Object.hasOwn(spec.properties, e.key) ? spec.properties[e.key] : undefined;
          if (!sub) {
            if (spec.otherKeys !== 'ignored') this.#add(e.keyPos, `${prefix}unknown key '${e.key}'${didYouMean(e.key, keys)} (expected ${keys.join(', ')})`);
            continue;
          }
          const v = this.check(e.value, sub, [...path, e.key], entry);
          if (v !== undefined) out[e.key] = v;
        }
        for (const r of spec.required ?? []) {
          if (!node.entries.some((e) => e.key === r)) this.#add(node.pos, `${prefix}missing '${r}'`);
        }
        const oneOf = spec.needsOneOf;
        if (oneOf && !node.entries.some((e) => oneOf.includes(e.key))) this.#add(node.pos, `${prefix}needs ${oneOf.join(' or ')}`);
        return out;
      }
    }
  }

  /** `${VAR}` replaced from env; each unset or malformed variable is a problem at `pos` (then undefined). */
  #substitute(text: string, pos: Pos): { value: string; substituted: boolean } | undefined {
    const env = this.o.env;
    if (env === undefined) return { value: text, substituted: false };
    let substituted = false;
    let ok = true;
    const value = text.replace(ENV_RE, (m, name: string | undefined) => {
      if (name === undefined) return '$';
      substituted = true;
      if (!ENV_NAME_RE.test(name)) {
        ok = false;
        this.#add(pos, `bad environment variable reference \${${name}}: expected \${NAME} (letters, digits, _)`);
        return '';
      }
      const v = env[name];
      if (v === undefined || v === '') {
        ok = false;
        this.#add(pos, `environment variable ${name} is not set (referenced as \${${name}})`);
        return '';
      }
      return v;
    });
    return ok ? { value, substituted } : undefined;
  }
}

const ENV_RE = /\$\{([^}]*)\}|\$\$/g;
const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * One text value against a text-valued spec: the value (a duration in ms, a `parse` hook's result), or the problem
 * without a prefix. `hidden`: the text came from the environment; like a secret, it is not shown in the problem.
 */
export function checkText(text: string, spec: StringSpec | { type: 'duration'; minimumMs?: number }, hidden = false): { value: unknown } | { problem: string } {
  if (spec.type === 'duration') {
    const problem = durationProblem(text, spec.minimumMs ?? 1);
    // durationProblem accepts exactly the texts parseDuration reads
    return problem === undefined ? { value: parseDuration(text) as number } : { problem };
  }
  if (spec.enum && !spec.enum.includes(text)) return { problem: `"${text}" is not one of ${spec.enum.join(', ')}${didYouMean(text, spec.enum)}` };
  if (spec.known && !spec.known.values.includes(text)) return { problem: `unknown ${spec.known.what} '${text}'${didYouMean(text, spec.known.values)}` };
  if (spec.pattern && !new RegExp(spec.pattern).test(text)) {
    const shown = spec.secret || hidden ? '(value hidden)' : `"${text}"`;
    return { problem: `expected ${spec.patternHint ?? `text matching ${spec.pattern}`}, got ${shown}` };
  }
  return spec.parse ? spec.parse(text) : { value: text };
}
