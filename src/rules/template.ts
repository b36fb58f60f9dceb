/**
 * Alert message templates: text with `{{field}}` placeholders (`{{ engineNativeAuditFields.OS_USERNAME }}`,
 * `{{rule.id}}`). Checked at load time; rendering is a concatenation of prepared parts.
 *
 * SQL is redacted by default: literals in commandText (and the SQL text of Oracle / SQL Server native audit
 * fields) become `?`, and every bind value in paramList becomes `?`. `{{commandText|raw}}` opts out.
 * A missing or null field renders as an empty string; objects and lists as JSON; each value is cut at
 * MAX_VALUE_CHARS characters.
 */
import type { DbEngine } from '../types.js';
import { redactParams, redactSql } from '../redact.js';
import { accessorOf, type Event } from './compile.js';
import type { FieldRef } from './condition.js';
import { PARAM_FIELDS, SQL_TEXT_FIELDS } from './fields.js';
import type { RuleInfo } from './RuleSet.js';

export const MAX_VALUE_CHARS = 1000;

export type Template = (event: Event, rule: RuleInfo) => string;

type Part = string | ((event: Event, rule: RuleInfo) => string);

const RULE_KEYS = ['id', 'severity', 'description', 'tags'] as const;

/**
 * Parses a template. `resolve` checks a field name (reporting a problem itself and returning undefined when
 * it is unknown); `problem` reports syntax errors. Returns undefined when the template has a mistake.
 */
export function compileTemplate(
  text: string,
  resolve: (name: string) => FieldRef | undefined,
  problem: (message: string) => void,
): Template | undefined {
  const parts: Part[] = [];
  let ok = true;
  let i = 0;
  while (i < text.length) {
    const open = text.indexOf('{{', i);
    if (open < 0) {
      parts.push(text.slice(i));
      break;
    }
    if (open > i) parts.push(text.slice(i, open));
    const close = text.indexOf('}}', open + 2);
    if (close < 0) {
      problem(`message: '{{' at character ${open + 1} is never closed with '}}'`);
      return undefined;
    }
    const expr = text.slice(open + 2, close).trim();
    i = close + 2;
    const m = /^([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*(?:\|\s*([A-Za-z]+))?$/.exec(expr);
    if (m === null || m[1] === undefined) {
      problem(`message: '{{${expr}}}' is not a field name (write {{field}} or {{field|raw}})`);
      ok = false;
      continue;
    }
    const name = m[1];
    const filter = m[2];
    if (filter !== undefined && filter !== 'raw') {
      problem(`message: unknown filter '|${filter}' in '{{${expr}}}' (the only filter is |raw)`);
      ok = false;
      continue;
    }
    if (name.startsWith('rule.')) {
      const key = name.slice(5);
      if (!(RULE_KEYS as readonly string[]).includes(key)) {
        problem(`message: unknown '{{${name}}}' (rule.id, rule.severity, rule.description, rule.tags)`);
        ok = false;
        continue;
      }
      parts.push((_e, rule) => {
        const v = rule[key as (typeof RULE_KEYS)[number]];
        return Array.isArray(v) ? v.join(', ') : String(v);
      });
      continue;
    }
    const ref = resolve(name);
    if (ref === undefined) {
      ok = false;
      continue;
    }
    const get = accessorOf(ref);
    const raw = filter === 'raw';
    if (!raw && SQL_TEXT_FIELDS.has(name)) {
      parts.push((e) => {
        const v = get(e);
        return typeof v === 'string' ? cut(redactSql(v, engineOf(e))) : show(v);
      });
    } else if (!raw && PARAM_FIELDS.has(name)) {
      parts.push((e) => show(redactParams(get(e))));
    } else {
      parts.push((e) => show(get(e)));
    }
  }
  if (!ok) return undefined;
  if (parts.every((p) => typeof p === 'string')) {
    const constant = parts.join('');
    return () => constant;
  }
  return (event, rule) => {
    let out = '';
    for (const p of parts) out += typeof p === 'string' ? p : p(event, rule);
    return out;
  };
}

const ENGINES: ReadonlySet<string> = new Set(['postgresql', 'mysql', 'oracle', 'sqlserver']);

function engineOf(e: Event): DbEngine {
  const v = e.engine;
  return typeof v === 'string' && ENGINES.has(v) ? (v as DbEngine) : 'unknown';
}

function show(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return cut(v);
  if (typeof v === 'object') {
    // Events come from JSON: no cycles, no bigint.
    return cut(JSON.stringify(v));
  }
  return String(v);
}

function cut(s: string): string {
  return s.length > MAX_VALUE_CHARS ? s.slice(0, MAX_VALUE_CHARS) + '…' : s;
}
