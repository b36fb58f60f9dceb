/**
 * The spec engine for a flat environment map (the Lambda's DASGUARD_* variables): each setting names its variable
 * and a spec (spec.ts: text, integer, boolean, duration, or a comma-separated list of text). `checkEnv` reads them
 * all and returns the typed settings, or EVERY problem at once, each naming its variable. A variable with the
 * spec's prefix that no setting reads but that is close to one is a warning with a did-you-mean (a typo would
 * otherwise be ignored).
 */
import { checkText } from './checkYaml.js';
import { didYouMean } from './didYouMean.js';
import { ProblemList, isError, type Problem } from './problems.js';
import type { BooleanSpec, DurationSpec, IntegerSpec, StringSpec } from './spec.js';

/** A comma-separated list; blank items are dropped. */
export interface EnvListSpec {
  type: 'array';
  description: string;
  items: StringSpec;
  minItems?: number;
}
/** One setting: its variable, its spec and, optionally, the value when the variable is unset or blank. */
export type EnvSetting = { env: string; default?: unknown } & (StringSpec | IntegerSpec | BooleanSpec | DurationSpec | EnvListSpec);

export interface EnvSpec {
  /** Variables with this prefix are expected to be settings: an unknown one is a warning. */
  prefix: string;
  settings: Record<string, EnvSetting>;
}

/** The value type of one setting. */
type ValueOf<S> = S extends { type: 'string'; enum: readonly (infer E)[] }
  ? E
  : S extends { type: 'string'; parse: (text: string) => unknown }
    ? unknown
    : S extends { type: 'string' }
      ? string
      : S extends { type: 'integer' | 'duration' }
        ? number
        : S extends { type: 'boolean' }
          ? boolean
          : S extends { type: 'array' }
            ? string[]
            : never;

/** The typed settings of a spec: a setting with a default is always there, the others may be undefined. */
export type EnvSettings<T extends Record<string, EnvSetting>> = {
  readonly [K in keyof T]: T[K] extends { default: unknown } ? ValueOf<T[K]> : ValueOf<T[K]> | undefined;
};

export interface EnvCheckResult<T> {
  /** Undefined when any problem is an error. */
  settings: T | undefined;
  /** The settings that checked, even when others did not (so a caller can go on and report more problems). */
  partial: Partial<T>;
  /** Errors and warnings; `variable` names the variable, `file` is `environment`. */
  problems: Problem[];
}

/** Reads every setting of `spec` from `env` (values trimmed; blank = unset). */
export function checkEnv<T extends Record<string, EnvSetting>>(env: NodeJS.ProcessEnv, spec: { prefix: string; settings: T }): EnvCheckResult<EnvSettings<T>> {
  const problems = new ProblemList();
  const out: Record<string, unknown> = {};
  for (const [key, s] of Object.entries(spec.settings)) {
    const text = env[s.env]?.trim() ?? '';
    if (text === '') {
      if (s.default !== undefined) out[key] = s.default;
      continue;
    }
    const r = checkEnvText(text, s);
    if ('problem' in r) problems.addVariable(s.env, r.problem);
    else if (Array.isArray(r.value) && r.value.length === 0) {
      // a list of blanks (`DASGUARD_RULES=","`) is unset
      if (s.default !== undefined) out[key] = s.default;
    } else out[key] = r.value;
  }
  const names = Object.values(spec.settings).map((s) => s.env);
  for (const name of Object.keys(env).sort()) {
    if (!name.startsWith(spec.prefix) || names.includes(name)) continue;
    // only a likely typo: other variables with the prefix may be meant for `${VAR}` in a config file
    const hint = didYouMean(name, names);
    if (hint !== '') problems.addVariable(name, `not a setting: ignored${hint}`, 'warning');
  }
  const items = problems.items;
  return { settings: items.some(isError) ? undefined : (out as EnvSettings<T>), partial: out as Partial<EnvSettings<T>>, problems: items };
}

function checkEnvText(text: string, s: EnvSetting): { value: unknown } | { problem: string } {
  switch (s.type) {
    case 'string':
    case 'duration':
      return checkText(text, s);
    case 'integer': {
      if (!/^-?[0-9]+$/.test(text)) return { problem: `expected a whole number, got "${text}"` };
      const v = Number(text);
      if (v < s.minimum || (s.maximum !== undefined && v > s.maximum)) return { problem: `${v} is out of range (${s.minimum}..${s.maximum ?? '∞'})` };
      return { value: v };
    }
    case 'boolean':
      if (text === 'true' || text === 'false') return { value: text === 'true' };
      return { problem: `expected true or false, got "${text}"` };
    case 'array': {
      const items = text.split(',').map((t) => t.trim()).filter((t) => t !== '');
      if (s.minItems !== undefined && items.length < s.minItems) return { problem: `expected at least ${s.minItems} comma-separated item${s.minItems === 1 ? '' : 's'}` };
      const values: unknown[] = [];
      for (const it of items) {
        const r = checkText(it, s.items);
        if ('problem' in r) return { problem: `item "${it}": ${r.problem}` };
        values.push(r.value);
      }
      return { value: values };
    }
  }
}
