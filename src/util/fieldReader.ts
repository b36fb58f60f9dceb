/**
 * How the hot paths read one field of an event: the rules (src/rules/compile.ts, the rule index RuleIndex.ts) and the
 * redaction of what a correlation keeps of an event (src/redaction/index.ts redactProjection).
 */

/** A field's value of an event (a plain object: an activity event, an RDS event's facts). */
export type FieldReader = (event: Record<string, unknown>) => unknown;

/** A field name a property load can spell (`e.dbUserName`): nothing else goes into generated code. */
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;
const readers = new Map<string, FieldReader>();

/**
 * `(e) => e[fact]`, made once per field name as a function of its own (`(e) => e.dbUserName`). The one closure
 * literal for every field it replaces had a single keyed load for all field names and event shapes: megamorphic, the
 * rules' hottest line in a CPU profile; a function made for the name holds a named load whose feedback is its own
 * (the pack evaluated bench/rules.ts's 50,000 events 25-30% faster: the best rounds of two 8-round runs each,
 * interleaved). The name must be an identifier (the rest, and a process run with
 * --disallow-code-generation-from-strings, get the shared closure: same values, slower).
 */
export function fieldReader(fact: string): FieldReader {
  let read = readers.get(fact);
  if (read === undefined) {
    read = (e) => e[fact];
    if (IDENTIFIER.test(fact)) {
      try {
        read = new Function('e', `return e.${fact};`) as FieldReader;
      } catch (err) {
        if (!(err instanceof EvalError)) throw err; // code generation disallowed: the shared closure
      }
    }
    readers.set(fact, read);
  }
  return read;
}
