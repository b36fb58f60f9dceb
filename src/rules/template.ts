/**
 * Alert message templates: text with `{{field}}` placeholders (`{{ engineNativeAuditFields.OS_USERNAME }}`,
 * `{{rule.id}}`). Checked at load time. A template renders to message PARTS (text and field values), not to a
 * string: the redaction policy (src/redaction) turns them into text under the output's mode, so a template can
 * never put statement text, bind values or server messages into an alert in clear. A missing or null field
 * renders as an empty string; objects and lists as JSON; each value is cut at MAX_VALUE_CHARS (src/redaction) characters.
 */
import { type MessagePart } from '../redaction/index.js';
import { accessorOf, type Event } from './compile.js';
import type { FieldRef } from './conditionEnv.js';
import { DEFAULT_TIME_ZONE } from './localTime.js';
import type { RuleInfo, Template } from './types.js';

type Part = string | ((event: Event, rule: RuleInfo) => MessagePart);

const RULE_KEYS = ['id', 'severity', 'description', 'tags'] as const;

/**
 * Parses a template. `resolve` checks a field name (reporting a problem itself and returning undefined when
 * it is unknown); `problem` reports syntax errors, `warn` what is accepted but ignored. Returns undefined when
 * the template has a mistake.
 */
export function compileTemplate(
  text: string,
  resolve: (name: string) => FieldRef | undefined,
  problem: (message: string) => void,
  warn: (message: string) => void = () => undefined,
  timeZone: string = DEFAULT_TIME_ZONE,
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
      problem(`message: '{{${expr}}}' is not a field name (write {{field}})`);
      ok = false;
      continue;
    }
    const name = m[1];
    const filter = m[2];
    if (filter === 'raw') {
      warn(`message: '|raw' in '{{${expr}}}' is ignored: messages follow the redaction policy (--redaction none shows values as written)`);
    } else if (filter !== undefined) {
      problem(`message: unknown filter '|${filter}' in '{{${expr}}}' (templates take no filters)`);
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
    const get = accessorOf(ref, timeZone);
    parts.push((e) => ({ field: name, value: get(e) }));
  }
  if (!ok) return undefined;
  if (parts.every((p) => typeof p === 'string')) {
    const constant = [parts.join('')];
    return () => constant;
  }
  return (event, rule) => parts.map((p) => (typeof p === 'string' ? p : p(event, rule)));
}
