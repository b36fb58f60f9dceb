/**
 * The operators a rule may use: json-rules-engine's built-ins (the very Operator objects its Engine uses) and
 * dasguard's own, registered as json-rules-engine Operators so that a plain Engine gives the same answers.
 *
 * Each custom operator returns a strict boolean (json-rules-engine compares results with `=== true` in some
 * paths and uses them raw in others: only booleans make both agree). Values that cost something to prepare
 * (regular expressions, CIDR sets, lower-cased lists) are prepared once per value object, at load time.
 */
import { BlockList, isIP } from 'node:net';
import { Engine, Operator } from 'json-rules-engine';
import type { FieldType } from './fields.js';
import { inTimeRange, type TimeRange } from './localTime.js';

/** What a condition's value must be, checked at load time. */
export type ValueKind = 'scalar' | 'scalarList' | 'number' | 'string' | 'stringList' | 'regex' | 'cidrList' | 'boolean' | 'timeRange' | 'objectMatch';

export interface OperatorSpec {
  /** The name json-rules-engine knows it by. */
  name: string;
  aliases: readonly string[];
  value: ValueKind;
  /** Field types the operator can be true on; others are a load error. */
  fieldTypes: readonly FieldType[];
  custom: boolean;
}

const ALL_TYPES: readonly FieldType[] = ['string', 'number', 'boolean', 'array', 'object', 'any'];
const TEXT: readonly FieldType[] = ['string', 'any'];
const TEXT_OR_NUMBER: readonly FieldType[] = ['string', 'number', 'any'];
const SCALAR_FIELDS: readonly FieldType[] = ['string', 'number', 'boolean', 'any'];

export const OPERATOR_SPECS: readonly OperatorSpec[] = [
  { name: 'equal', aliases: ['eq', 'is'], value: 'scalar', fieldTypes: SCALAR_FIELDS, custom: false },
  { name: 'notEqual', aliases: ['ne', 'neq'], value: 'scalar', fieldTypes: SCALAR_FIELDS, custom: false },
  { name: 'in', aliases: [], value: 'scalarList', fieldTypes: SCALAR_FIELDS, custom: false },
  { name: 'notIn', aliases: ['nin'], value: 'scalarList', fieldTypes: SCALAR_FIELDS, custom: false },
  { name: 'contains', aliases: ['has'], value: 'scalar', fieldTypes: ['array', 'any'], custom: false },
  { name: 'doesNotContain', aliases: ['lacks'], value: 'scalar', fieldTypes: ['array', 'any'], custom: false },
  { name: 'lessThan', aliases: ['lt'], value: 'number', fieldTypes: ['number', 'any'], custom: false },
  { name: 'lessThanInclusive', aliases: ['lte', 'le'], value: 'number', fieldTypes: ['number', 'any'], custom: false },
  { name: 'greaterThan', aliases: ['gt'], value: 'number', fieldTypes: ['number', 'any'], custom: false },
  { name: 'greaterThanInclusive', aliases: ['gte', 'ge'], value: 'number', fieldTypes: ['number', 'any'], custom: false },
  { name: 'matches', aliases: ['regex'], value: 'regex', fieldTypes: TEXT_OR_NUMBER, custom: true },
  { name: 'startsWith', aliases: [], value: 'string', fieldTypes: TEXT, custom: true },
  { name: 'endsWith', aliases: [], value: 'string', fieldTypes: TEXT, custom: true },
  { name: 'containsText', aliases: ['icontains'], value: 'string', fieldTypes: TEXT, custom: true },
  { name: 'equalIgnoreCase', aliases: ['ieq'], value: 'string', fieldTypes: TEXT, custom: true },
  { name: 'notEqualIgnoreCase', aliases: ['ine'], value: 'string', fieldTypes: TEXT, custom: true },
  { name: 'inIgnoreCase', aliases: ['iin'], value: 'stringList', fieldTypes: TEXT, custom: true },
  { name: 'notInIgnoreCase', aliases: ['notIin', 'inin'], value: 'stringList', fieldTypes: TEXT, custom: true },
  { name: 'inCidr', aliases: [], value: 'cidrList', fieldTypes: TEXT, custom: true },
  { name: 'notInCidr', aliases: [], value: 'cidrList', fieldTypes: TEXT, custom: true },
  // an HH:MM text (timeOfDay) in "HH:MM-HH:MM": start included, end excluded, wrapping midnight when start > end
  { name: 'between', aliases: ['timeBetween'], value: 'timeRange', fieldTypes: TEXT, custom: true },
  // `objects` (a MySQL statement's objects) holds one whose every given key is one of the given values, ignoring case
  { name: 'hasObject', aliases: [], value: 'objectMatch', fieldTypes: ['array'], custom: true },
  { name: 'exists', aliases: [], value: 'boolean', fieldTypes: ALL_TYPES, custom: true },
  { name: 'absent', aliases: [], value: 'boolean', fieldTypes: ALL_TYPES, custom: true },
];

/** Operator name or alias -> spec. */
export const OPERATORS_BY_NAME: ReadonlyMap<string, OperatorSpec> = new Map(
  OPERATOR_SPECS.flatMap((s) => [[s.name, s] as const, ...s.aliases.map((a) => [a, s] as const)]),
);

/** The compiled value of `matches`: a plain object (json-rules-engine would take `{fact: ...}` as a fact reference). */
export interface RegexValue {
  regex: string;
  flags: string;
}

/**
 * The compiled value of `hasObject`: object key (STATEMENT_OBJECT_KEYS in fields.ts) -> the values it may have (a
 * plain object of lists of text: json-rules-engine passes it through as it is).
 */
export type ObjectMatch = Readonly<Record<string, readonly string[]>>;

// ---------------------------------------------------------------------------------------------------------
// Prepared values, cached per value object (the same object is shared by the compiled rule and the Engine).

const regexCache = new WeakMap<object, RegExp>();
const lowerSetCache = new WeakMap<object, ReadonlySet<string>>();
const cidrCache = new WeakMap<object, BlockList>();

/** The RegExp of a `matches` value; throws a SyntaxError for a bad pattern (load time validates this first). */
export function regexOf(value: RegexValue): RegExp {
  let re = regexCache.get(value);
  if (re === undefined) {
    re = new RegExp(value.regex, value.flags);
    regexCache.set(value, re);
  }
  return re;
}

/** Texts at most this long are remembered as matched or not, per pattern (`matcherOf`). */
const MATCHED_MAX_CHARS = 64;
/** Texts remembered per pattern; past that it starts afresh. */
const MATCHED_KEPT = 64;
/** Lookups after which a pattern whose texts were mostly new stops remembering them (a field of ever new values). */
const MATCHED_TRIAL = 1024;
const matcherCache = new WeakMap<object, (text: string) => boolean>();

/**
 * Whether a text matches a `matches` value's pattern. Most patterns test fields of few distinct values (command,
 * sqlCommand, dbUserName, objectName): a short text's answer is remembered (a pattern has no g or y flag, the load
 * refuses them: its answer depends on the text alone). A pattern whose texts were mostly new over its first
 * MATCHED_TRIAL lookups (a field of ever new values) stops remembering and tests each text.
 */
function matcherOf(value: RegexValue): (text: string) => boolean {
  let m = matcherCache.get(value);
  if (m === undefined) {
    const re = regexOf(value);
    const memo = new Map<string, boolean>();
    let lookups = 0;
    let hits = 0;
    let remembering = true;
    m = (text) => {
      if (!remembering || text.length > MATCHED_MAX_CHARS) return re.test(text);
      let r = memo.get(text);
      if (r !== undefined) hits++;
      else {
        r = re.test(text);
        if (memo.size >= MATCHED_KEPT) memo.clear();
        memo.set(text, r);
      }
      if (++lookups === MATCHED_TRIAL && hits < lookups / 2) {
        remembering = false;
        memo.clear();
      }
      return r;
    };
    matcherCache.set(value, m);
  }
  return m;
}

/** An entry of the list `a` whose every key of `b` holds text equal (ignoring case) to one of that key's values. */
function hasObject(a: readonly unknown[], b: ObjectMatch): boolean {
  const keys = Object.keys(b);
  for (let i = 0; i < a.length; i++) {
    const o = a[i];
    if (o === null || typeof o !== 'object') continue;
    let all = true;
    for (let k = 0; k < keys.length; k++) {
      const key = keys[k] as string;
      const v = Object.hasOwn(o, key) ? (o as Record<string, unknown>)[key] : undefined;
      if (typeof v !== 'string' || !lowerSetOf(b[key] as readonly string[]).has(v.toLowerCase())) {
        all = false;
        break;
      }
    }
    if (all) return true;
  }
  return false;
}

function lowerSetOf(list: readonly string[]): ReadonlySet<string> {
  let set = lowerSetCache.get(list);
  if (set === undefined) {
    set = new Set(list.map((s) => s.toLowerCase()));
    lowerSetCache.set(list, set);
  }
  return set;
}

/** A CIDR (`10.0.0.0/8`, `fd00::/8`) or a bare address, parsed; undefined when invalid. */
export function parseCidr(text: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | undefined {
  const slash = text.indexOf('/');
  const address = slash < 0 ? text : text.slice(0, slash);
  const v = isIP(address);
  if (v === 0) return undefined;
  const family = v === 4 ? 'ipv4' : 'ipv6';
  const max = v === 4 ? 32 : 128;
  if (slash < 0) return { address, prefix: max, family };
  const p = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(p) || Number(p) > max) return undefined;
  return { address, prefix: Number(p), family };
}

/** The BlockList of a CIDR list; throws for an invalid entry (load time validates this first). */
function cidrSetOf(list: readonly string[]): BlockList {
  let bl = cidrCache.get(list);
  if (bl === undefined) {
    bl = new BlockList();
    for (const text of list) {
      const c = parseCidr(text);
      if (c === undefined) throw new TypeError(`not an IP address or CIDR: ${JSON.stringify(text)}`);
      bl.addSubnet(c.address, c.prefix, c.family);
    }
    cidrCache.set(list, bl);
  }
  return bl;
}

function ipInSet(host: string, list: readonly string[]): boolean {
  // "fe80::1%eth0": drop the zone; "[::1]": drop the brackets.
  let h = host;
  const pct = h.indexOf('%');
  if (pct >= 0) h = h.slice(0, pct);
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  const v = isIP(h);
  if (v === 0) return false;
  return cidrSetOf(list).check(h, v === 4 ? 'ipv4' : 'ipv6');
}

// ---------------------------------------------------------------------------------------------------------
// The custom operators.

function isText(a: unknown): boolean {
  return typeof a === 'string';
}

function isTextOrNumber(a: unknown): boolean {
  return typeof a === 'string' || typeof a === 'number';
}

function isAbsent(a: unknown): boolean {
  return a === undefined || a === null || a === '';
}

const CUSTOM_OPERATORS: readonly Operator[] = [
  new Operator<unknown, RegexValue>('matches', (a, b) => matcherOf(b)(String(a)), isTextOrNumber),
  new Operator<string, string>('startsWith', (a, b) => a.startsWith(b), isText),
  new Operator<string, string>('endsWith', (a, b) => a.endsWith(b), isText),
  new Operator<string, string>('containsText', (a, b) => a.toLowerCase().includes(b.toLowerCase()), isText),
  new Operator<string, string>('equalIgnoreCase', (a, b) => a.toLowerCase() === b.toLowerCase(), isText),
  // Negative operators hold when the field is not text at all (absent included), like notEqual does.
  new Operator<unknown, string>('notEqualIgnoreCase', (a, b) => typeof a !== 'string' || a.toLowerCase() !== b.toLowerCase()),
  new Operator<string, string[]>('inIgnoreCase', (a, b) => lowerSetOf(b).has(a.toLowerCase()), isText),
  new Operator<unknown, string[]>('notInIgnoreCase', (a, b) => typeof a !== 'string' || !lowerSetOf(b).has(a.toLowerCase())),
  new Operator<string, string[]>('inCidr', (a, b) => ipInSet(a, b), isText),
  new Operator<unknown, string[]>('notInCidr', (a, b) => typeof a !== 'string' || !ipInSet(a, b)),
  new Operator<string, TimeRange>('between', (a, b) => inTimeRange(a, b), isText),
  new Operator<unknown[], ObjectMatch>('hasObject', (a, b) => hasObject(a, b), (a: unknown) => Array.isArray(a)),
  // null, undefined (missing) and "" are absent; anything else, [] and 0 included, exists.
  new Operator<unknown, boolean>('exists', (a, b) => !isAbsent(a) === b),
  new Operator<unknown, boolean>('absent', (a, b) => isAbsent(a) === b),
] as unknown as Operator[];

/** A json-rules-engine Operator as its runtime has it (the published typings omit `evaluate`). */
export interface EngineOperator {
  readonly name: string;
  /** `validator(factValue) && callback(factValue, value)`. */
  evaluate(factValue: unknown, value: unknown): boolean;
}

/** The operators by their json-rules-engine name, as an Engine holds them: built-ins + CUSTOM_OPERATORS. */
export function operatorTable(): ReadonlyMap<string, EngineOperator> {
  const engine = newEngine();
  const table = new Map<string, EngineOperator>();
  const map = (engine as unknown as { operators: { get(name: string): EngineOperator | null } }).operators;
  for (const spec of OPERATOR_SPECS) {
    const op = map.get(spec.name);
    if (op === null || op === undefined) throw new Error(`json-rules-engine has no operator '${spec.name}'`);
    table.set(spec.name, op);
  }
  return table;
}

/**
 * A json-rules-engine Engine configured as dasguard evaluates rules: the custom operators added, and
 * `allowUndefinedFacts` (a field an event lacks is `undefined`, as in the compiled evaluator).
 */
export function newEngine(): Engine {
  const engine = new Engine([], { allowUndefinedFacts: true });
  for (const op of CUSTOM_OPERATORS) engine.addOperator(op);
  return engine;
}
