/**
 * A JSON Schema for rule files, generated from the tables the loader itself uses (fields, operators, rule keys),
 * so editors (e.g. VS Code's YAML extension: `# yaml-language-server: $schema=…/rules.schema.json`) complete field
 * and operator names as the user types. It is deliberately permissive where the loader knows more (fields declared
 * under `fields:`, lists, macros): `dasguard validate` stays the judge, with file, line and rule id.
 */
import { Severities } from '../types.js';
import { ACTIVITY_FIELDS, RDS_EVENT_FIELDS, RuleTargets } from './fields.js';
import { RULE_KEYS, TEST_KEYS, TOP_KEYS } from './load.js';
import { OPERATOR_SPECS, type ValueKind } from './operators.js';

type Schema = Record<string, unknown>;

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
  }
}

export function rulesJsonSchema(): Schema {
  const operators: Record<string, Schema> = {};
  for (const spec of OPERATOR_SPECS) {
    const description = `${spec.name}${spec.aliases.length > 0 ? ` (aliases: ${spec.aliases.join(', ')})` : ''}`;
    for (const name of [spec.name, ...spec.aliases]) operators[name] = { ...valueSchema(spec.value), description };
  }
  const fieldNames = [...new Set([...Object.keys(ACTIVITY_FIELDS), ...Object.keys(RDS_EVENT_FIELDS)])].sort();
  const fieldProps = Object.fromEntries(fieldNames.map((f) => [f, { $ref: '#/$defs/fieldTest' }]));
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'https://github.com/dasguard/dasguard/schema/rules.schema.json',
    title: 'dasguard rule file',
    description: 'Rules evaluated against Database Activity Streams events (see docs/rules.md). Check with `dasguard validate`.',
    type: 'object',
    propertyNames: { enum: TOP_KEYS },
    properties: {
      rules: { type: 'array', items: { $ref: '#/$defs/rule' } },
      lists: { type: 'object', additionalProperties: { type: 'array', items: scalar } },
      macros: { type: 'object', additionalProperties: { $ref: '#/$defs/condition' } },
      fields: {
        oneOf: [
          { type: 'array', items: { type: 'string' } },
          { type: 'object', additionalProperties: { enum: ['string', 'number', 'boolean', 'array', 'object', 'any'] } },
        ],
      },
    },
    $defs: {
      rule: {
        type: 'object',
        propertyNames: { enum: RULE_KEYS },
        required: ['id', 'severity', 'when'],
        properties: {
          id: { type: 'string', pattern: '^[A-Za-z0-9._:/-]+$' },
          description: { type: 'string' },
          severity: { enum: [...Severities] },
          enabled: { type: 'boolean' },
          tags: { type: 'array', items: { type: 'string' } },
          target: { enum: [...RuleTargets] },
          when: { $ref: '#/$defs/condition' },
          message: { type: 'string' },
          tests: {
            type: 'object',
            propertyNames: { enum: TEST_KEYS },
            properties: Object.fromEntries(TEST_KEYS.map((k) => [k, { type: 'array', items: { type: 'object' } }])),
          },
        },
      },
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
    },
  };
}
