/**
 * The ONE definition of a rule file's shape, in the spec language of src/config/spec.ts: its keys, what each holds,
 * the rule id and list/macro name patterns. The loader (load.ts, compileRule.ts) takes its key lists and patterns
 * from here and checks the content with messages that name the rule (docs/rules.md shows them); `rulesJsonSchema()` turns the
 * same spec into schema/rules.schema.json, so editors (e.g. VS Code's YAML extension:
 * `# yaml-language-server: $schema=…/rules.schema.json`) complete field and operator names as the user types. The
 * schema is deliberately permissive where the loader knows more (fields declared under `fields:`, lists, macros):
 * `dasguard validate` stays the judge, with file, line and rule id.
 */
import { toJsonSchema, type AnySpec, type ObjectSpec, type Spec } from '../config/spec.js';
import { Severities } from '../types.js';
import { ACTIVITY_FIELDS, FieldTypes, RDS_EVENT_FIELDS, RuleTargets, STATEMENT_OBJECT_KEYS } from './fields.js';
import { OPERATOR_SPECS, type ValueKind } from './operators.js';

type Schema = Record<string, unknown>;

/** "HH:MM-HH:MM" (the loader says what is wrong with one that does not match). */
const TIME_RANGE_PATTERN = '^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]$';
const timeZone = (what: string): Spec => ({ type: 'string', description: `IANA time zone (e.g. Europe/Paris) of the hour, minute, weekday, date and timeOfDay fields ${what}.` });

const scalar: Schema = { type: ['string', 'number', 'boolean', 'null'] };

function valueSchema(kind: ValueKind): Schema {
  switch (kind) {
    case 'scalar':
      return scalar;
    case 'scalarList':
      return { oneOf: [{ type: 'array', items: scalar }, { type: 'string', pattern: '^\\$' }, { $ref: '#/$defs/listRef' }] };
    case 'stringList':
    case 'cidrList':
      return { oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }, { $ref: '#/$defs/listRef' }] };
    case 'number':
      return { type: 'number' };
    case 'string':
      return { type: 'string' };
    case 'regex':
      return {
        oneOf: [
          { type: 'string' },
          { type: 'object', properties: { pattern: { type: 'string' }, flags: { type: 'string', pattern: '^[imsuv]*$' } }, required: ['pattern'], additionalProperties: false },
        ],
      };
    case 'boolean':
      return { type: 'boolean' };
    case 'timeRange':
      return { type: 'string', pattern: TIME_RANGE_PATTERN };
    case 'objectMatch': {
      const values = valueSchema('stringList');
      return { type: 'object', properties: Object.fromEntries(STATEMENT_OBJECT_KEYS.map((k) => [k, values])), additionalProperties: false, minProperties: 1 };
    }
  }
}

/** A rule id: letters, digits and . _ : / - (starting with a letter or digit). */
export const RULE_ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.:/-]*$';
/** A list or macro name. */
export const NAME_PATTERN = '^[A-Za-z_][A-Za-z0-9_-]*$';

const condition: AnySpec = { type: 'any', description: 'A condition (docs/rules.md).', jsonSchema: { $ref: '#/$defs/condition' } };
const testEvents = (what: string): Spec => ({
  type: 'array',
  description: `Events the rule ${what}.`,
  items: { type: 'any', description: 'A test event: field: value.', jsonSchema: { type: 'object' } },
});

/** `tests:` of a rule. */
const TESTS_SPEC: ObjectSpec = {
  type: 'object',
  description: 'In-file tests: `dasguard test` checks them.',
  properties: {
    fires: testEvents('fires on'),
    doesNotFire: testEvents('does not fire on'),
    sequences: {
      type: 'array',
      description: 'Correlation rules: timed event sequences ({name, events: [{at: +30s, field: value}], expect: [{after: N, group: {...}}]}).',
      items: { type: 'any', description: 'A timed sequence.', jsonSchema: { type: 'object' } },
    },
  },
};

/** `correlation:` of a rule (src/rules/correlation.ts; Sigma's correlation vocabulary). */
const CORRELATION_SPEC: ObjectSpec = {
  type: 'object',
  description: 'A correlation (stateful) rule over its base events: its when: or the rules listed (a sequence: its steps).',
  required: ['type'],
  properties: {
    type: {
      type: 'string',
      enum: ['event_count', 'value_count', 'value_sum', 'sequence', 'first_seen'],
      description: 'What fires: a count of events, of distinct values of field, a sum of field; steps in order (sequence); a new combination of field values (first_seen).',
    },
    rules: { type: 'array', items: { type: 'string', description: 'A rule id.' }, description: "Base rules: their matching events are this rule's events (a sequence without steps: one step each, in order)." },
    steps: {
      type: 'array',
      description: 'sequence: 2 or more steps, in order, each {rules: [ids]} or {when: condition}, gte (default 1).',
      items: {
        type: 'object',
        description: 'A step of a sequence.',
        properties: {
          rules: { type: 'array', items: { type: 'string', description: 'A rule id.' }, description: "The rules whose events are this step's." },
          when: condition,
          gte: { type: 'any', description: 'How many of its events (default 1).', jsonSchema: { type: 'integer', minimum: 1 } },
        },
      },
    },
    groupBy: { type: 'array', items: { type: 'string', description: 'A field.' }, description: 'Fields whose values make a group (a window each).' },
    window: { type: 'duration', description: 'The sliding window on event time (a duration).' },
    field: {
      type: 'any',
      description: 'value_count: the field counted; value_sum: the numeric field summed; first_seen: the field, or list of fields, whose new values fire.',
      jsonSchema: { oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' }, minItems: 1 }] },
    },
    gte: { type: 'any', description: 'It fires when the count, distinct count or sum reaches this.', jsonSchema: { type: 'number', exclusiveMinimum: 0 } },
    learning: { type: 'duration', description: "first_seen: nothing fires for this long from the rule's first base event (default 7d)." },
    forget: { type: 'duration', description: 'first_seen: a combination not seen for this long is new again (default never).' },
    realert: { type: 'duration', description: 'Quiet per group after firing (default: the window; first_seen: 0).' },
    generate: { type: 'boolean', description: "Sigma's generate: true, its base rules also alert on their own (default false: they only feed it)." },
  },
};

/** `exceptions:` of a rule (src/rules/overrides.ts). */
const EXCEPTIONS_SPEC: Spec = {
  type: 'array',
  description: 'Named tuples of fields and values that silence the rule (each tuple: every field equals its value).',
  items: {
    type: 'object',
    description: 'An exception.',
    required: ['name', 'fields', 'values'],
    properties: {
      name: { type: 'string', pattern: NAME_PATTERN, patternHint: 'letters, digits, _ or -', description: 'Its name (unique in the rule).' },
      fields: { type: 'array', items: { type: 'string', description: 'A field name.' }, description: 'The fields compared.' },
      values: { type: 'array', items: { type: 'any', description: 'One value per field.', jsonSchema: { type: 'array', items: scalar } }, description: 'The tuples that silence the rule.' },
    },
  },
};

/** One override (src/rules/overrides.ts): of a rule, or an append to a list or macro. */
const OVERRIDE_SPEC: AnySpec = {
  type: 'any',
  description: 'An override of a rule defined in any file ({rule: ID, severity:, enabled:, exceptions: {append|replace: [...]}}), or an append to a list or macro ({list: NAME, append: [...]}, {macro: NAME, append: CONDITION}).',
  jsonSchema: { type: 'object' },
};

/** One rule. */
const RULE_SPEC: ObjectSpec = {
  type: 'object',
  description: 'A rule.',
  required: ['id', 'severity'],
  properties: {
    id: { type: 'string', pattern: RULE_ID_PATTERN, patternHint: 'letters, digits and . _ : / -', description: 'Rule id (unique across the files).' },
    description: { type: 'string', description: 'What the rule detects.' },
    runbook: { type: 'string', description: 'One line: what to check first when it fires (shown in its alerts).' },
    severity: { type: 'string', enum: Severities, description: 'Severity of its alerts.' },
    enabled: { type: 'boolean', description: 'false: loaded and checked, never evaluated (default true).' },
    tags: { type: 'array', items: { type: 'string', description: 'A tag.' }, description: 'Tags, for routing.' },
    target: { type: 'string', enum: RuleTargets, description: 'What it is evaluated on (default activity).' },
    when: condition,
    correlation: CORRELATION_SPEC,
    message: { type: 'string', description: 'Alert message template ({{field}}).' },
    timeZone: timeZone("of this rule (default: the rule files' timeZone, else UTC)"),
    tests: TESTS_SPEC,
    exceptions: EXCEPTIONS_SPEC,
  },
};

/** A rule file. */
const RULE_FILE_SPEC: ObjectSpec = {
  type: 'object',
  description: 'Rules evaluated against Database Activity Streams events (see docs/rules.md). Check with `dasguard validate`.',
  properties: {
    rules: { type: 'array', nullIsEmpty: true, items: RULE_SPEC, description: 'The rules.' },
    lists: { type: 'map', keyPattern: NAME_PATTERN, values: { type: 'any', description: 'A list of values.', jsonSchema: { type: 'array', items: scalar } }, description: 'Named lists of values ($name in a condition).' },
    macros: { type: 'map', keyPattern: NAME_PATTERN, values: condition, description: 'Named conditions ({macro: name}).' },
    timeZone: timeZone('of every rule of every file loaded (set in one file only; default UTC)'),
    packVersion: { type: 'string', description: 'The version of the rule pack these files belong to (set in one file only; `dasguard validate` shows it).' },
    overrides: { type: 'array', nullIsEmpty: true, items: OVERRIDE_SPEC, description: 'Changes to rules, lists and macros of other files (docs/rules.md).' },
    fields: {
      type: 'any',
      description: 'Fields AWS adds later: a list of names, or name: type.',
      jsonSchema: {
        oneOf: [
          { type: 'array', items: { type: 'string' } },
          { type: 'object', additionalProperties: { enum: [...FieldTypes] } },
        ],
      },
    },
  },
};

/** The keys of a rule file, of a rule, of its `tests:`. */
export const TOP_KEYS = Object.keys(RULE_FILE_SPEC.properties);
export const RULE_KEYS = Object.keys(RULE_SPEC.properties);
export const TEST_KEYS = Object.keys(TESTS_SPEC.properties);

export function rulesJsonSchema(): Schema {
  const operators: Record<string, Schema> = {};
  for (const spec of OPERATOR_SPECS) {
    const description = `${spec.name}${spec.aliases.length > 0 ? ` (aliases: ${spec.aliases.join(', ')})` : ''}`;
    for (const name of [spec.name, ...spec.aliases]) operators[name] = { ...valueSchema(spec.value), description };
  }
  const fieldNames = [...new Set([...Object.keys(ACTIVITY_FIELDS), ...Object.keys(RDS_EVENT_FIELDS)])].sort();
  const fieldProps = Object.fromEntries(fieldNames.map((f) => [f, { $ref: '#/$defs/fieldTest' }]));
  const header = { $schema: 'https://json-schema.org/draft/2020-12/schema', $id: 'https://github.com/dasguard/dasguard/schema/rules.schema.json', title: 'dasguard rule file' };
  return toJsonSchema(RULE_FILE_SPEC, header, {
    listRef: { type: 'object', properties: { list: { type: 'string' } }, required: ['list'], additionalProperties: false },
    operators: { type: 'object', properties: operators, propertyNames: { enum: Object.keys(operators) }, minProperties: 1 },
    fieldTest: { oneOf: [scalar, { type: 'array', items: scalar }, { $ref: '#/$defs/operators' }] },
    condition: {
      oneOf: [
        { type: 'object', properties: { all: { type: 'array', minItems: 1, items: { $ref: '#/$defs/condition' } } }, required: ['all'], additionalProperties: false },
        { type: 'object', properties: { any: { type: 'array', minItems: 1, items: { $ref: '#/$defs/condition' } } }, required: ['any'], additionalProperties: false },
        { type: 'object', properties: { not: { $ref: '#/$defs/condition' } }, required: ['not'], additionalProperties: false },
        { type: 'object', properties: { macro: { type: 'string' } }, required: ['macro'], additionalProperties: false },
        {
          type: 'object',
          properties: { fact: { type: 'string' }, operator: { enum: Object.keys(operators) }, value: {}, path: { type: 'string' } },
          required: ['fact', 'operator', 'value'],
          additionalProperties: false,
        },
        {
          type: 'object',
          description: 'field: value (equal), field: [a, b] (in), field: $list, or field: {operator: value}',
          properties: fieldProps,
          not: { anyOf: [{ required: ['all'] }, { required: ['any'] }, { required: ['not'] }, { required: ['macro'] }, { required: ['fact'] }] },
          additionalProperties: { $ref: '#/$defs/fieldTest' },
          minProperties: 1,
        },
      ],
    },
  });
}
