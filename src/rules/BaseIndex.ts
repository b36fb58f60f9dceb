/**
 * The index of correlations' base events (RuleSet.baseMatches: which correlations an event feeds). A correlation's
 * base predicate comes in parts (CompiledRule.baseParts: its `when:`, each base rule, each step): a part shared by
 * several correlations (authentication-failure feeds three) is tried once per event, and a part only on an event
 * whose fields meet one of the alternatives its condition requires (compile.ts alternativesOf: successful_login
 * needs engine postgresql and command CONNECT, or engine mysql and sqlCommand CONNECT). The answer is the base
 * predicates' own, in load order (test/unit/correlation-base-index.test.ts holds the two to it).
 *
 * The alternatives are checked together, as bits (at most ALTERNATIVE_BITS; a part beyond is tried on every event):
 * per field they constrain, its values map to the alternatives they meet, so an event costs one lookup per field
 * (engine, class, command, sqlCommand for the pack), whatever the number of parts.
 */
import { alternativesOf, type Event, type Predicate } from './compile.js';
import type { CompiledRule } from './types.js';

/** Alternatives checked as bits of one integer (bitwise operators work on 32 bits; the sign bit is left alone). */
const ALTERNATIVE_BITS = 31;

interface Part {
  predicate: Predicate;
  /** Its alternatives' bits; ALWAYS: tried on every event (one requires nothing, or there were too many). */
  bits: number;
}
const ALWAYS = -1;

/** A field some alternative constrains: the alternatives each value meets, and those that do not constrain it. */
interface FieldBits {
  name: string;
  byValue: Map<unknown, number>;
  free: number;
}

interface Base {
  rule: CompiledRule;
  parts: readonly number[];
  excepted: Predicate | undefined;
}

const NONE: CompiledRule[] = [];

export class BaseIndex {
  readonly #parts: readonly Part[];
  readonly #bases: readonly Base[];
  readonly #fields: readonly FieldBits[];
  /** Per part, for the event `matches` is at: 0 not tried yet, 1 holds, 2 does not. */
  readonly #holds: Uint8Array;

  /** `correlations`: the enabled ones, in load order. */
  constructor(correlations: readonly CompiledRule[]) {
    const parts: Part[] = [];
    const partOf = new Map<Predicate, number>();
    const bases: Base[] = [];
    const fields = new Map<string, FieldBits>();
    let used = 0;
    for (const c of correlations) {
      if (c.basePredicate === undefined || c.baseParts === undefined) continue;
      const indices = c.baseParts.map(({ predicate, cond }) => {
        let i = partOf.get(predicate);
        if (i === undefined) {
          const alternatives = alternativesOf(cond);
          let bits = ALWAYS;
          if (!alternatives.some((a) => a.size === 0) && used + alternatives.length <= ALTERNATIVE_BITS) {
            bits = 0;
            for (const alt of alternatives) {
              const bit = 1 << used++;
              bits |= bit;
              for (const [name, values] of alt) {
                let f = fields.get(name);
                if (f === undefined) {
                  f = { name, byValue: new Map(), free: 0 };
                  fields.set(name, f);
                }
                for (const v of values) f.byValue.set(v, (f.byValue.get(v) ?? 0) | bit);
              }
            }
          }
          i = parts.length;
          parts.push({ predicate, bits });
          partOf.set(predicate, i);
        }
        return i;
      });
      bases.push({ rule: c, parts: indices, excepted: c.excepted });
    }
    // An alternative that does not constrain a field is met whatever the field holds.
    const all = used === ALTERNATIVE_BITS ? 0x7fffffff : (1 << used) - 1;
    for (const f of fields.values()) {
      let constrained = 0;
      for (const bits of f.byValue.values()) constrained |= bits;
      f.free = all & ~constrained;
    }
    this.#parts = parts;
    this.#bases = bases;
    this.#fields = [...fields.values()];
    this.#holds = new Uint8Array(parts.length);
  }

  /** The correlations whose base predicate holds for `event`, in load order. */
  matches(event: Event): CompiledRule[] {
    const bases = this.#bases;
    if (bases.length === 0) return NONE;
    // The alternatives the event meets: each field's values, or the alternatives free of that field.
    let met = 0x7fffffff;
    const fields = this.#fields;
    for (let f = 0; f < fields.length; f++) {
      const field = fields[f] as FieldBits;
      met &= (field.byValue.get(event[field.name]) ?? 0) | field.free;
    }
    const parts = this.#parts;
    const holds = this.#holds;
    holds.fill(0);
    let out: CompiledRule[] | undefined;
    for (let b = 0; b < bases.length; b++) {
      const base = bases[b] as Base;
      let hit = false;
      for (let k = 0; k < base.parts.length && !hit; k++) {
        const i = base.parts[k] as number;
        let h = holds[i] as number;
        if (h === 0) {
          const part = parts[i] as Part;
          h = (part.bits === ALWAYS || (part.bits & met) !== 0) && part.predicate(event) ? 1 : 2;
          holds[i] = h;
        }
        hit = h === 1;
      }
      if (hit && (base.excepted === undefined || !base.excepted(event))) (out ??= []).push(base.rule);
    }
    return out ?? NONE;
  }
}
