/**
 * Parsing `tests.sequences` of a correlation rule (docs/rules.md "Testing a correlation"): each sequence is a name,
 * timed partial events (`at: +30s` or `at: +8d` from the sequence's start; `repeat: N` with `every: 10s` for N events) and the
 * alerts expected (`after: N`, the 1-based event after which one fires, and optionally its `group` values;
 * `expect: []` when nothing may fire). ruleTests.ts runs them through a CorrelationEngine.
 */
import { didYouMean } from '../config/didYouMean.js';
import { parseDuration } from '../config/duration.js';
import type { Pos, ProblemList } from '../config/problems.js';
import { describeNode, toJs, type YNode } from '../config/yamlTree.js';
import type { FieldType } from './fields.js';
import type { SequenceTest } from './types.js';

const SEQUENCE_KEYS = ['name', 'events', 'expect'];
const TIMING_KEYS = ['at', 'repeat', 'every'];
const EXPECT_KEYS = ['after', 'group'];

/** An offset: `+30s`, `30s`, `0s`. */
function offset(v: unknown): number | undefined {
  if (typeof v !== 'string') return undefined;
  return parseDuration(v.trim().replace(/^\+/, ''));
}

export function parseSequences(node: YNode, fields: ReadonlyMap<string, FieldType>, problems: ProblemList, id: string | undefined): SequenceTest[] | undefined {
  let ok = true;
  const err = (pos: Pos, message: string): void => {
    problems.add(pos, `tests.sequences: ${message}`, id);
    ok = false;
  };
  if (node.kind !== 'seq') {
    err(node.pos, `a list of sequences, got ${describeNode(node)}`);
    return undefined;
  }
  const out: SequenceTest[] = [];
  node.items.forEach((sn, si) => {
    if (sn.kind !== 'map') return err(sn.pos, `a sequence is a mapping (name:, events:, expect:), got ${describeNode(sn)}`);
    for (const e of sn.entries) if (!SEQUENCE_KEYS.includes(e.key)) err(e.keyPos, `unknown key '${e.key}'${didYouMean(e.key, SEQUENCE_KEYS)}`);
    const get = (k: string) => sn.entries.find((e) => e.key === k);
    const nameV = get('name')?.value;
    const name = nameV?.kind === 'scalar' && typeof nameV.value === 'string' ? nameV.value : `sequence ${si + 1}`;
    const seq: SequenceTest = { name, pos: sn.pos, events: [], expect: [] };
    const evs = get('events');
    if (evs === undefined || evs.value.kind !== 'seq' || evs.value.items.length === 0) err(evs?.value.pos ?? sn.pos, `'${name}': events is a non-empty list of timed events`);
    else {
      let last = -Infinity;
      for (const ev of evs.value.items) {
        if (ev.kind !== 'map') {
          err(ev.pos, `'${name}': an event is a mapping (at: +30s, field: value...), got ${describeNode(ev)}`);
          continue;
        }
        const event: Record<string, unknown> = {};
        let at: number | undefined;
        let repeat = 1;
        let every = 0;
        for (const f of ev.entries) {
          const v = f.value.kind === 'scalar' ? f.value.value : undefined;
          if (f.key === 'at') {
            at = offset(v);
            if (at === undefined) err(f.value.pos, `'${name}': at must be an offset such as +0s, +30s, +2m or +8d, got ${describeNode(f.value)}`);
          } else if (f.key === 'repeat') {
            if (typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 10_000) repeat = v;
            else err(f.value.pos, `'${name}': repeat must be a whole number from 1 to 10000, got ${describeNode(f.value)}`);
          } else if (f.key === 'every') {
            const e = offset(v);
            if (e === undefined) err(f.value.pos, `'${name}': every must be a duration such as 10s, got ${describeNode(f.value)}`);
            else every = e;
          } else if (!fields.has(f.key)) err(f.keyPos, `'${name}': unknown field '${f.key}'${didYouMean(f.key, [...fields.keys(), ...TIMING_KEYS])}`);
          else event[f.key] = toJs(f.value);
        }
        if (at === undefined) {
          if (!ev.entries.some((f) => f.key === 'at')) err(ev.pos, `'${name}': an event needs at: (its offset, e.g. +30s)`);
          continue;
        }
        if (at < last) err(ev.pos, `'${name}': events are listed in time order (at ${at} ms comes after ${last} ms)`);
        for (let i = 0; i < repeat; i++) seq.events.push({ atMs: at + i * every, event, pos: ev.pos });
        last = at + (repeat - 1) * every;
      }
    }
    const ex = get('expect');
    if (ex === undefined || ex.value.kind !== 'seq') err(ex?.value.pos ?? sn.pos, `'${name}': expect is a list of the alerts expected ([] for none)`);
    else {
      for (const x of ex.value.items) {
        if (x.kind !== 'map') {
          err(x.pos, `'${name}': an expected alert is a mapping (after: N, group: {...}), got ${describeNode(x)}`);
          continue;
        }
        for (const e of x.entries) if (!EXPECT_KEYS.includes(e.key)) err(e.keyPos, `'${name}': unknown key '${e.key}'${didYouMean(e.key, EXPECT_KEYS)}`);
        const after = x.entries.find((e) => e.key === 'after');
        const a = after?.value.kind === 'scalar' ? after.value.value : undefined;
        if (typeof a !== 'number' || !Number.isInteger(a) || a < 1 || a > seq.events.length) {
          err(after?.value.pos ?? x.pos, `'${name}': after is the number of the event (1 to ${seq.events.length}) after which the alert fires`);
          continue;
        }
        const g = x.entries.find((e) => e.key === 'group');
        const item: SequenceTest['expect'][number] = { after: a, pos: x.pos };
        if (g !== undefined) {
          if (g.value.kind !== 'map') err(g.value.pos, `'${name}': group maps groupBy fields to values, got ${describeNode(g.value)}`);
          else item.group = toJs(g.value) as Record<string, unknown>;
        }
        seq.expect.push(item);
      }
    }
    out.push(seq);
  });
  return ok ? out : undefined;
}
