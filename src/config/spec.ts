/**
 * The spec language of dasguard's settings: ONE definition per settings source (dasguard.yaml, the rule files'
 * shape, loss-window patterns, the Lambda environment) that the checkers walk (checkYaml.ts for a YAML tree,
 * checkEnv.ts for a flat environment map) to collect every problem, and that `toJsonSchema()` turns into the
 * editor schemas under schema/. A new setting is one more entry in the spec of its source.
 */
import { DURATION_PATTERN } from './duration.js';

interface Base {
  description: string;
}
/** The result of a spec's own parse hook: the value, or why the text is wrong. */
export type Parsed = { value: unknown } | { problem: string };

export interface StringSpec extends Base {
  type: 'string';
  enum?: readonly string[];
  /** A RegExp source the value must match (after `${ENV}` substitution). */
  pattern?: string;
  /** What the pattern means, for the problem message. */
  patternHint?: string;
  /** A secret (webhook URL, token): masked wherever dasguard prints it. */
  secret?: boolean;
  /** The values allowed when they are too many to list in a problem (which suggests the closest instead). */
  known?: { values: readonly string[]; what: string };
  /** Turns the checked text into the value (a RegExp, ...), or says why it cannot. */
  parse?: (text: string) => Parsed;
}
export interface IntegerSpec extends Base {
  type: 'integer';
  minimum: number;
  maximum?: number;
}
export interface BooleanSpec extends Base {
  type: 'boolean';
}
/** A duration (config/duration.ts: `500ms`, `1.5s`, `10m`); the value is in milliseconds. */
export interface DurationSpec extends Base {
  type: 'duration';
  /** The shortest accepted, in ms (default 1: zero is refused). */
  minimumMs?: number;
}
export interface ArraySpec extends Base {
  type: 'array';
  items: Spec;
  minItems?: number;
  /** An empty entry (`open:` with nothing, YAML null) is an empty list. */
  nullIsEmpty?: boolean;
}
export interface ObjectSpec extends Base {
  type: 'object';
  properties: Record<string, Spec>;
  required?: readonly string[];
  /** At least one of these keys must be there. */
  needsOneOf?: readonly string[];
  /** Keys not in `properties` are left alone (a file shared with other tools), not reported. */
  otherKeys?: 'ignored';
}
/** A mapping from user-chosen names to values (sinks by name, headers). */
export interface MapSpec extends Base {
  type: 'map';
  keyPattern: string;
  /** What the key pattern means, for the problem message. */
  keyHint?: string;
  values: Spec;
}
/** Objects told apart by their `type` property. */
export interface TaggedSpec extends Base {
  type: 'tagged';
  /** What the tag names, for the problem message: `unknown sink type`. */
  what: string;
  variants: Record<string, ObjectSpec>;
}
/** Anything: checked elsewhere (rule conditions); `jsonSchema` is what editors get. */
export interface AnySpec extends Base {
  type: 'any';
  jsonSchema?: Record<string, unknown>;
}
export type Spec = StringSpec | IntegerSpec | BooleanSpec | DurationSpec | ArraySpec | ObjectSpec | MapSpec | TaggedSpec | AnySpec;

/**
 * The JSON Schema of a spec, with a header for a whole file ($schema: draft-07 unless given) and, after it, the
 * `$defs` that `any` specs refer to.
 */
export function toJsonSchema(spec: Spec, header: { $schema?: string; $id: string; title: string }, $defs?: Record<string, unknown>): Record<string, unknown> {
  return { $schema: 'http://json-schema.org/draft-07/schema#', ...header, ...convert(spec), ...($defs ? { $defs } : {}) };
}

function convert(spec: Spec): Record<string, unknown> {
  const out: Record<string, unknown> = { description: spec.description };
  switch (spec.type) {
    case 'string':
      out.type = 'string';
      if (spec.enum) out.enum = [...spec.enum];
      if (spec.known) out.enum = [...spec.known.values];
      if (spec.pattern) out.pattern = spec.pattern;
      return out;
    case 'integer':
      out.type = 'integer';
      out.minimum = spec.minimum;
      if (spec.maximum !== undefined) out.maximum = spec.maximum;
      return out;
    case 'boolean':
      out.type = 'boolean';
      return out;
    case 'duration':
      out.type = 'string';
      out.pattern = DURATION_PATTERN;
      return out;
    case 'array':
      out.type = spec.nullIsEmpty ? ['array', 'null'] : 'array';
      out.items = convert(spec.items);
      if (spec.minItems !== undefined) out.minItems = spec.minItems;
      return out;
    case 'object':
      out.type = 'object';
      out.properties = Object.fromEntries(Object.entries(spec.properties).map(([k, v]) => [k, convert(v)]));
      if (spec.required?.length) out.required = [...spec.required];
      if (spec.needsOneOf?.length) out.anyOf = spec.needsOneOf.map((k) => ({ required: [k] }));
      if (spec.otherKeys !== 'ignored') out.additionalProperties = false;
      return out;
    case 'map':
      out.type = 'object';
      out.propertyNames = { pattern: spec.keyPattern };
      out.additionalProperties = convert(spec.values);
      return out;
    case 'tagged':
      out.type = 'object';
      out.required = ['type'];
      out.oneOf = Object.values(spec.variants).map(convert);
      return out;
    case 'any':
      return { ...out, ...spec.jsonSchema };
  }
}
