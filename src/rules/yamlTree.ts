/**
 * Rule files parsed with the `yaml` document API into a small tree where every node knows its file, line and
 * column: validation then reports each mistake at the node at fault, and never needs the yaml API again.
 */
import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseAllDocuments, type Document, type Node } from 'yaml';
import type { Pos, ProblemList } from './problems.js';

export type Scalar = string | number | boolean | null;

export interface YMap {
  kind: 'map';
  pos: Pos;
  entries: { key: string; keyPos: Pos; value: YNode }[];
}
export interface YSeq {
  kind: 'seq';
  pos: Pos;
  items: YNode[];
}
export interface YScalar {
  kind: 'scalar';
  pos: Pos;
  value: Scalar;
}
export type YNode = YMap | YSeq | YScalar;

/**
 * The documents of one file. Every YAML error (all of them, not just the first) goes to `problems`; a
 * document with errors is left out, so that its half-parsed content does not cause a cascade of confusing
 * follow-up problems. `ok` is false when something was left out.
 */
export function parseYamlFile(file: string, text: string, problems: ProblemList): { docs: YNode[]; ok: boolean } {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  const out: YNode[] = [];
  let ok = true;
  const posAt = (offset: number): Pos => {
    const lp = lineCounter.linePos(offset);
    return { file, line: lp.line, column: lp.col };
  };
  const list = Array.isArray(docs) ? docs : [docs];
  for (const doc of list) {
    for (const w of doc.warnings) problems.warn(posAt(w.pos[0]), `YAML: ${firstLine(w.message)}`);
    if (doc.errors.length > 0) {
      ok = false;
      for (const e of doc.errors) problems.add(posAt(e.pos[0]), `YAML syntax: ${firstLine(e.message)}`);
      continue;
    }
    if (doc.contents === null) continue; // an empty document
    out.push(convert(doc as Document.Parsed, doc.contents as Node, posAt, 0));
  }
  return { docs: out, ok };
}

function firstLine(s: string): string {
  const i = s.indexOf('\n');
  return i < 0 ? s : s.slice(0, i);
}

function convert(doc: Document.Parsed, node: Node, posAt: (o: number) => Pos, depth: number): YNode {
  const pos = posAt(node.range?.[0] ?? 0);
  if (depth > 200) return { kind: 'scalar', pos, value: null };
  if (isAlias(node)) {
    const target = node.resolve(doc);
    if (target === undefined) return { kind: 'scalar', pos, value: null };
    const resolved = convert(doc, target, posAt, depth + 1);
    return { ...resolved, pos } as YNode;
  }
  if (isMap(node)) {
    const entries: YMap['entries'] = [];
    for (const pair of node.items) {
      if (!isPair(pair)) continue;
      const k = pair.key as Node | null;
      const keyPos = k !== null && k.range ? posAt(k.range[0]) : pos;
      const key = k === null ? '' : isScalar(k) ? String(k.value) : String(k);
      const v = pair.value as Node | null;
      const value: YNode = v === null ? { kind: 'scalar', pos: keyPos, value: null } : convert(doc, v, posAt, depth + 1);
      entries.push({ key, keyPos, value });
    }
    return { kind: 'map', pos, entries };
  }
  if (isSeq(node)) {
    const items: YNode[] = [];
    for (const it of node.items) {
      items.push(it === null ? { kind: 'scalar', pos, value: null } : convert(doc, it as Node, posAt, depth + 1));
    }
    return { kind: 'seq', pos, items };
  }
  if (isScalar(node)) {
    const v = node.value;
    const value: Scalar =
      v === null || v === undefined
        ? null
        : typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean'
          ? v
          : typeof v === 'bigint'
            ? Number(v)
            : String(v);
    return { kind: 'scalar', pos, value };
  }
  return { kind: 'scalar', pos, value: null };
}

/** The plain JavaScript value of a node (test events). */
export function toJs(node: YNode): unknown {
  if (node.kind === 'scalar') return node.value;
  if (node.kind === 'seq') return node.items.map(toJs);
  const out: Record<string, unknown> = {};
  for (const e of node.entries) out[e.key] = toJs(e.value);
  return out;
}

export function describeNode(node: YNode): string {
  if (node.kind === 'map') return 'a mapping';
  if (node.kind === 'seq') return 'a list';
  const v = node.value;
  if (v === null) return 'nothing (null)';
  if (typeof v === 'string') return `text ${JSON.stringify(v)}`;
  return `${typeof v} ${String(v)}`;
}
