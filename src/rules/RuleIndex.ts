/**
 * Which rules an event can meet, found without trying them all: the rule set's index (RuleSet.ts) of its stateless
 * rules (`evaluate`) and of its correlations' base events (`baseMatches`: which correlations an event feeds). Each
 * entry holds in parts (a stateless rule: its condition; a correlation: its `when:`, each base rule, each step) and
 * matches when one part holds and its `excepted` does not. A part shared by several entries (authentication-failure
 * feeds three correlations) is tried once per event, and a part only on an event whose fields meet one of the
 * alternatives its condition requires (compile.ts alternativesOf: successful_login needs engine postgresql and command
 * CONNECT, or engine mysql and sqlCommand CONNECT; heavy-read needs PostgreSQL class READ, or MySQL MAIN SELECT). The
 * answer is the entries' own predicates', in the order given (test/unit/correlation-base-index.test.ts and
 * test/e2e/rules-differential.test.ts hold the two to it).
 *
 * The alternatives are checked together, as bits: WORD_BITS to a word, a part's all in one word (a part with more, or
 * one requiring nothing, is tried on every event). Per field they constrain, its values map to the alternatives they
 * meet, so an event costs one lookup per field (engine, class, command, sqlCommand... for the pack), and one AND per
 * word, whatever the number of rules.
 */
import { alternativesOf, requirementName, requirementReader, type Accessor, type Event, type Predicate } from './compile.js';
import type { Cond } from './conditionEnv.js';

/** Alternatives to a word (bitwise operators work on 32 bits; the sign bit is left alone). */
const WORD_BITS = 31;
const FULL_WORD = 0x7fffffff;

/** An entry: it matches when one of its parts holds for the event and `excepted` (if any) does not. */
export interface IndexEntry<T> {
  item: T;
  parts: readonly { predicate: Predicate; cond: Cond }[];
  excepted?: Predicate | undefined;
}

interface Part {
  predicate: Predicate;
  /** The word holding its alternatives' bits; ALWAYS: tried on every event (one requires nothing, or too many). */
  word: number;
  bits: number;
}
const ALWAYS = -1;

/** A field some alternative constrains: per word, the alternatives each value meets, and those free of the field. */
interface FieldBits {
  name: string;
  /** What it reads of an event (requirementReader: a field's value with a named load of its own, or whether it holds text). */
  read: Accessor;
  byValue: Map<unknown, Int32Array>;
  free: Int32Array;
}

interface Entry<T> {
  item: T;
  parts: readonly number[];
  excepted: Predicate | undefined;
}

export class RuleIndex<T> {
  readonly #parts: readonly Part[];
  readonly #entries: readonly Entry<T>[];
  readonly #fields: readonly FieldBits[];
  /** Per word, the alternatives the event `matches` is at meets. */
  readonly #met: Int32Array;
  /** Per part, for the event `matches` is at: 0 not tried yet, 1 holds, 2 does not. */
  readonly #holds: Uint8Array;
  readonly #none: T[] = [];

  constructor(entries: readonly IndexEntry<T>[]) {
    const parts: Part[] = [];
    const partOf = new Map<Predicate, number>();
    const out: Entry<T>[] = [];
    /** Per field: per value, the bits it meets, as [word, bits] pairs until the words are counted. */
    const constrained = new Map<string, Map<unknown, Map<number, number>>>();
    let word = 0;
    let used = 0;
    for (const e of entries) {
      const indices = e.parts.map(({ predicate, cond }) => {
        let i = partOf.get(predicate);
        if (i === undefined) {
          const alternatives = alternativesOf(cond);
          let part: Part = { predicate, word: ALWAYS, bits: 0 };
          if (!alternatives.some((a) => a.size === 0) && alternatives.length <= WORD_BITS) {
            if (used + alternatives.length > WORD_BITS) {
              word++;
              used = 0;
            }
            part = { predicate, word, bits: 0 };
            for (const alt of alternatives) {
              const bit = 1 << used++;
              part.bits |= bit;
              for (const [name, values] of alt) {
                let byValue = constrained.get(name);
                if (byValue === undefined) constrained.set(name, (byValue = new Map()));
                for (const v of values) {
                  let words = byValue.get(v);
                  if (words === undefined) byValue.set(v, (words = new Map()));
                  words.set(word, (words.get(word) ?? 0) | bit);
                }
              }
            }
          }
          i = parts.length;
          parts.push(part);
          partOf.set(predicate, i);
        }
        return i;
      });
      out.push({ item: e.item, parts: indices, excepted: e.excepted });
    }
    const words = used === 0 ? word : word + 1;
    // Per word, the bits given out; an alternative that does not constrain a field is met whatever the field holds.
    const given = new Int32Array(words);
    for (const p of parts) if (p.word !== ALWAYS) given[p.word]! |= p.bits;
    const fields: FieldBits[] = [];
    for (const [name, values] of constrained) {
      const byValue = new Map<unknown, Int32Array>();
      const any = new Int32Array(words);
      for (const [v, perWord] of values) {
        const bits = new Int32Array(words);
        for (const [w, b] of perWord) {
          bits[w] = b;
          any[w]! |= b;
        }
        byValue.set(v, bits);
      }
      const free = new Int32Array(words);
      for (let w = 0; w < words; w++) free[w] = given[w]! & ~any[w]!;
      fields.push({ name, read: requirementReader(name), byValue, free });
    }
    this.#parts = parts;
    this.#entries = out;
    this.#fields = fields;
    this.#met = new Int32Array(words);
    this.#holds = new Uint8Array(parts.length);
  }

  /** The entries' items whose predicate holds for `event`, in the order given. */
  matches(event: Event): T[] {
    const entries = this.#entries;
    if (entries.length === 0) return this.#none;
    // The alternatives the event meets: each field's values, or the alternatives free of that field.
    const met = this.#met;
    const fields = this.#fields;
    const words = met.length;
    met.fill(FULL_WORD);
    for (let f = 0; f < fields.length; f++) {
      const field = fields[f] as FieldBits;
      const bits = field.byValue.get(field.read(event));
      const free = field.free;
      if (bits === undefined) for (let w = 0; w < words; w++) met[w]! &= free[w]!;
      else for (let w = 0; w < words; w++) met[w]! &= bits[w]! | free[w]!;
    }
    const parts = this.#parts;
    const holds = this.#holds;
    holds.fill(0);
    let out: T[] | undefined;
    for (let b = 0; b < entries.length; b++) {
      const entry = entries[b] as Entry<T>;
      let hit = false;
      for (let k = 0; k < entry.parts.length && !hit; k++) {
        const i = entry.parts[k] as number;
        let h = holds[i] as number;
        if (h === 0) {
          const part = parts[i] as Part;
          h = (part.word === ALWAYS || (part.bits & (met[part.word] as number)) !== 0) && part.predicate(event) ? 1 : 2;
          holds[i] = h;
        }
        hit = h === 1;
      }
      if (hit && (entry.excepted === undefined || !entry.excepted(event))) (out ??= []).push(entry.item);
    }
    return out ?? this.#none;
  }

  /** How many parts are tried only on events that can meet them, how many on every event, and the fields read. */
  stats(): { indexed: number; always: number; fields: string[] } {
    const always = this.#parts.filter((p) => p.word === ALWAYS).length;
    return { indexed: this.#parts.length - always, always, fields: this.#fields.map((f) => requirementName(f.name)) };
  }
}
