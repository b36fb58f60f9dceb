/**
 * YAML files (rules, dasguard.yaml, loss-window patterns) parsed with the `yaml` document API into a small tree
 * where every node knows its file, line and column: validation then reports each mistake at the node at fault,
 * and never needs the yaml API again. Hostile input (alias bombs, absurd nesting) is refused here, at its line.
 */
import { deserialize, serialize } from 'node:v8';
import { Composer, isAlias, isMap, isPair, isScalar, isSeq, LineCounter, Parser, visit, type Alias, type CST, type Document, type Node } from 'yaml';
import { MAX_YAML_DEPTH, YAML_ALIAS_LIMITS } from '../limits.js';
import { ProblemList, type Pos } from './problems.js';

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
 * follow-up problems. `ok` is false when something was left out. An alias past the limits above, an alias
 * with no anchor before it or inside its own anchor, and nesting past 200 levels are such errors.
 */
export function parseYamlFile(file: string, text: string, problems: ProblemList): { docs: YNode[]; ok: boolean } {
  const known = keptParse(file, text);
  if (known !== undefined) return { docs: deserialize(known) as YNode[], ok: true };
  const own = new ProblemList();
  const parsed = parseText(file, text, own);
  for (const p of own.items) problems.add({ file: p.file, line: p.line, column: p.column ?? 0 }, p.message, p.ruleId, p.severity);
  if (parsed.ok && own.items.length === 0) keepParse(file, text, serialize(parsed.docs));
  return parsed;
}

/**
 * Clean parses (no problem at all) by file: the text each was made from and its documents, serialised (v8.serialize:
 * off the heap, and every caller gets its own copy), so the same rule files are not parsed twice in one thread: a
 * reload of files that did not change, and a record worker compiling the main thread's rule files (RecordPool hands
 * it the main thread's parse: keptParse, keepParse). At most KEPT_FILES files, the oldest dropped first.
 */
const kept = new Map<string, { text: string; docs: Uint8Array }>();
const KEPT_FILES = 256;

/** The documents of a clean parse of `file` with exactly `text` (serialised), if this thread made or was given one. */
export function keptParse(file: string, text: string): Uint8Array | undefined {
  const known = kept.get(file);
  return known !== undefined && known.text === text ? known.docs : undefined;
}

/** Keeps a clean parse of `file` (made here, or by another thread from the same text): parseYamlFile gives it again. */
export function keepParse(file: string, text: string, docs: Uint8Array): void {
  kept.delete(file);
  kept.set(file, { text, docs });
  if (kept.size > KEPT_FILES) kept.delete(kept.keys().next().value as string);
}

function parseText(file: string, text: string, problems: ProblemList): { docs: YNode[]; ok: boolean } {
  const lineCounter = new LineCounter();
  const posAt = (offset: number): Pos => {
    const lp = lineCounter.linePos(offset);
    return { file, line: lp.line, column: lp.col };
  };
  // parseAllDocuments, in two steps: the parser keeps its own stack, the composer recurses once per level.
  const tokens = Array.from(new Parser(lineCounter.addNewLine).parse(text));
  for (const t of tokens) {
    const deep = tooDeep(t);
    if (deep !== undefined) {
      problems.add(posAt(deep), `YAML: nested deeper than ${MAX_YAML_DEPTH} levels`);
      return { docs: [], ok: false };
    }
  }
  const docs = Array.from(new Composer({ uniqueKeys: true }).compose(tokens));
  const out: YNode[] = [];
  let ok = true;
  const budget: AliasBudget = { aliases: 0, expandedChars: 0, exceeded: false };
  for (const doc of docs) {
    for (const w of doc.warnings) problems.warn(posAt(w.pos[0]), `YAML: ${firstLine(w.message)}`);
    if (doc.errors.length > 0) {
      ok = false;
      for (const e of doc.errors) problems.add(posAt(e.pos[0]), `YAML syntax: ${firstLine(e.message)}`);
      continue;
    }
    if (doc.contents === null) continue; // an empty document
    const tree = new TreeBuilder(doc as Document.Parsed, posAt, problems, budget);
    const node = tree.build(doc.contents as Node).node;
    if (tree.failed) ok = false;
    else out.push(node);
  }
  return { docs: out, ok };
}

/**
 * The offset of the first collection nested deeper than MAX_YAML_DEPTH in a parsed (not yet composed) token, found
 * with a stack of our own: the composer would otherwise overflow the call stack (a RangeError in the best case,
 * a V8 abort in the worst) on `[[[[...` a few thousand levels deep.
 */
function tooDeep(token: CST.Token): number | undefined {
  const stack: [CST.Token, number][] = [[token, -1]];
  for (let top = stack.pop(); top !== undefined; top = stack.pop()) {
    const [t, depth] = top;
    if (t.type === 'document') {
      if (t.value) stack.push([t.value, depth + 1]);
    } else if (t.type === 'block-map' || t.type === 'block-seq' || t.type === 'flow-collection') {
      if (depth > MAX_YAML_DEPTH) return t.offset;
      for (const it of t.items as CST.CollectionItem[]) {
        if (it.key) stack.push([it.key, depth + 1]);
        if (it.value) stack.push([it.value, depth + 1]);
      }
    }
  }
  return undefined;
}

function firstLine(s: string): string {
  const i = s.indexOf('\n');
  return i < 0 ? s : s.slice(0, i);
}

/** Shared by the documents of one file: the limits are per file. */
interface AliasBudget {
  aliases: number;
  expandedChars: number;
  /** A limit was reported: further aliases of the file are not expanded (nor reported again). */
  exceeded: boolean;
}

/** A converted node and its size: the characters it would take written out in flow style, aliases expanded. */
interface Built {
  node: YNode;
  size: number;
}

/**
 * Converts one document. An anchored node is converted once and every alias to it shares that result (the
 * tree is read, never changed, after parsing), so conversion is linear in the file whatever the aliases; their
 * expanded size is what the budget counts, for what readers of the tree would walk.
 */
class TreeBuilder {
  failed = false;
  /** Each alias's node: the last node before it with that anchor (YAML's rule), found in one pass. */
  readonly #targets = new Map<Alias, Node | undefined>();
  readonly #built = new Map<Node, Built>();
  /** Anchored nodes being converted: an alias to one of them is inside it (a cycle). */
  readonly #open = new Set<Node>();

  constructor(
    doc: Document.Parsed,
    private readonly posAt: (offset: number) => Pos,
    private readonly problems: ProblemList,
    private readonly budget: AliasBudget,
  ) {
    const anchors = new Map<string, Node>();
    visit(doc, {
      Node: (_key, node) => {
        if (isAlias(node)) this.#targets.set(node, anchors.get(node.source));
        else if (node.anchor) anchors.set(node.anchor, node);
      },
    });
  }

  /** Recursive: `tooDeep` has bounded the nesting. */
  build(node: Node): Built {
    const pos = this.posAt(node.range?.[0] ?? 0);
    if (isAlias(node)) return this.#alias(node, pos);
    if (!node.anchor) return this.#convert(node, pos);
    this.#open.add(node);
    const b = this.#convert(node, pos);
    this.#open.delete(node);
    this.#built.set(node, b);
    return b;
  }

  #alias(node: Alias, pos: Pos): Built {
    const target = this.#targets.get(node);
    const name = node.source;
    if (target === undefined) return this.#fail(pos, `alias *${name} has no anchor &${name} before it`);
    if (this.#open.has(target)) return this.#fail(pos, `alias *${name} is inside the node its anchor &${name} names (a cycle)`);
    const budget = this.budget;
    if (budget.exceeded) return this.#fail(pos, undefined);
    if (++budget.aliases > YAML_ALIAS_LIMITS.aliases) {
      budget.exceeded = true;
      return this.#fail(pos, `at most ${count(YAML_ALIAS_LIMITS.aliases)} aliases in one file; this *${name} is one more (an alias bomb?)`);
    }
    // Anchors precede their aliases, so the target is built already, unless it is a mapping key (not converted).
    const b = this.#built.get(target) ?? this.build(target);
    budget.expandedChars += b.size;
    if (budget.expandedChars > YAML_ALIAS_LIMITS.expandedChars) {
      budget.exceeded = true;
      return this.#fail(pos, `aliases may expand to at most ${count(YAML_ALIAS_LIMITS.expandedChars)} characters in one file; *${name} goes past that (an alias bomb?)`);
    }
    return { node: { ...b.node, pos } as YNode, size: b.size };
  }

  #convert(node: Node, pos: Pos): Built {
    if (isMap(node)) {
      const entries: YMap['entries'] = [];
      let size = 2;
      for (const pair of node.items) {
        if (!isPair(pair)) continue;
        const k = pair.key as Node | null;
        const keyPos = k !== null && k.range ? this.posAt(k.range[0]) : pos;
        const key = k === null ? '' : isScalar(k) ? String(k.value) : String(k);
        const v = pair.value as Node | null;
        const value: Built = v === null ? { node: { kind: 'scalar', pos: keyPos, value: null }, size: 1 } : this.build(v);
        entries.push({ key, keyPos, value: value.node });
        size += key.length + 2 + value.size;
      }
      return { node: { kind: 'map', pos, entries }, size };
    }
    if (isSeq(node)) {
      const items: YNode[] = [];
      let size = 2;
      for (const it of node.items) {
        const item: Built = it === null ? { node: { kind: 'scalar', pos, value: null }, size: 1 } : this.build(it as Node);
        items.push(item.node);
        size += item.size + 1;
      }
      return { node: { kind: 'seq', pos, items }, size };
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
      return { node: { kind: 'scalar', pos, value }, size: String(value).length };
    }
    return { node: { kind: 'scalar', pos, value: null }, size: 1 };
  }

  /** A null in place of the node; the document is left out. `message` undefined: already reported. */
  #fail(pos: Pos, message: string | undefined): Built {
    this.failed = true;
    if (message !== undefined) this.problems.add(pos, `YAML: ${message}`);
    return { node: { kind: 'scalar', pos, value: null }, size: 1 };
  }
}

function count(n: number): string {
  return n.toLocaleString('en-US');
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
