/**
 * Fails (exit 1) on any import cycle among the modules of src/, printing each one with the import lines that
 * close it; `npm test` runs it before the tests so cycles never come back.
 *
 * Every module reference counts: `import`, `import type`, `export ... from`, `export type ... from`, dynamic
 * `import()` and `import('x').T` type queries. Type-only imports are counted on purpose: they vanish from the
 * JavaScript, but a type cycle is still two files that cannot be read, changed or moved one without the other.
 * Specifiers are resolved by the TypeScript compiler itself (`ts.resolveModuleName` with tsconfig.json's
 * options, so NodeNext's `./x.js` -> `./x.ts` works exactly as in `tsc`); references that resolve outside src/
 * (node:, packages) are ignored. Chosen over `madge`: TypeScript is already a dev dependency, it sees type-only
 * imports, and it adds no dependency tree of its own.
 *
 * Usage: node --import tsx scripts/check-cycles.ts [DIR]   (default src)
 */
import { readdirSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/** One module reference: the line it is on, and the src/ file it resolves to. */
export interface ImportEdge {
  to: string;
  line: number;
}

/** A cycle: files in import order, each importing the next, the last importing the first. */
export interface Cycle {
  files: string[];
  /** lines[i]: the line of files[i] that imports files[i + 1] (the last one: files[0]). */
  lines: number[];
}

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function compilerOptions(): ts.CompilerOptions {
  const configPath = join(ROOT, 'tsconfig.json');
  const parsed = ts.getParsedCommandLineOfConfigFile(configPath, {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(`${configPath}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
    },
  });
  if (parsed === undefined) throw new Error(`${configPath}: could not be read`);
  return parsed.options;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(path));
    else if (/\.(ts|tsx|mts|cts)$/.test(entry.name) && !entry.name.endsWith('.d.ts')) out.push(path);
  }
  return out.sort();
}

/** Every module specifier in the file, with its line (1-based). */
function specifiers(file: ts.SourceFile): { node: ts.StringLiteralLike; line: number }[] {
  const found: { node: ts.StringLiteralLike; line: number }[] = [];
  const add = (node: ts.Node): void => {
    if (!ts.isStringLiteralLike(node)) return;
    found.push({ node, line: file.getLineAndCharacterOfPosition(node.getStart(file)).line + 1 });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) {
      if (node.moduleSpecifier) add(node.moduleSpecifier);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add(node.moduleReference.expression);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const arg = node.arguments[0];
      if (arg) add(arg);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      add(node.argument.literal);
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}

/** The import graph of the TypeScript files under `dir`: file -> the files of `dir` it references. */
export function importGraph(dir: string): Map<string, ImportEdge[]> {
  const options = compilerOptions();
  const host = ts.createCompilerHost(options);
  const files = sourceFiles(dir);
  const inDir = new Set(files);
  const graph = new Map<string, ImportEdge[]>();
  for (const path of files) {
    const text = ts.sys.readFile(path);
    if (text === undefined) throw new Error(`${path}: could not be read`);
    // ESM or CommonJS as package.json's "type" says, so specifiers resolve in the mode tsc uses for the file.
    const impliedNodeFormat = ts.getImpliedNodeFormatForFile(path, undefined, host, options);
    const source = ts.createSourceFile(path, text, { languageVersion: ts.ScriptTarget.Latest, impliedNodeFormat }, true);
    const edges: ImportEdge[] = [];
    for (const { node, line } of specifiers(source)) {
      const spec = { text: node.text, line };
      const mode = ts.getModeForUsageLocation(source, node, options);
      const resolved = ts.resolveModuleName(spec.text, path, options, host, undefined, undefined, mode).resolvedModule;
      if (resolved === undefined) {
        // A relative import that does not resolve is a mistake tsc reports too; say so rather than skip it.
        if (spec.text.startsWith('.')) throw new Error(`${relative(ROOT, path)}:${spec.line}: cannot resolve '${spec.text}'`);
        continue;
      }
      const target = resolve(resolved.resolvedFileName);
      if (inDir.has(target)) edges.push({ to: target, line: spec.line });
    }
    graph.set(path, edges);
  }
  return graph;
}

/** Strongly connected components (Tarjan), each with more than one file or a file importing itself. */
function cyclicComponents(graph: Map<string, ImportEdge[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const connect = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const { to } of graph.get(v) ?? []) {
      if (!index.has(to)) {
        connect(to);
        low.set(v, Math.min(low.get(v)!, low.get(to)!));
      } else if (onStack.has(to)) {
        low.set(v, Math.min(low.get(v)!, index.get(to)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      const selfLoop = (graph.get(v) ?? []).some((e) => e.to === v);
      if (component.length > 1 || selfLoop) out.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) connect(v);
  return out;
}

/** The shortest cycle through `start` inside `component` (breadth-first), as files in import order. */
function shortestCycle(start: string, component: Set<string>, graph: Map<string, ImportEdge[]>): string[] {
  const parent = new Map<string, string>();
  const queue = [start];
  for (let i = 0; i < queue.length; i++) {
    const v = queue[i]!;
    for (const { to } of graph.get(v) ?? []) {
      if (!component.has(to)) continue;
      if (to === start) {
        const path = [v];
        for (let p = v; p !== start; ) path.push((p = parent.get(p)!));
        return path.reverse();
      }
      if (!parent.has(to) && to !== start) {
        parent.set(to, v);
        queue.push(to);
      }
    }
  }
  throw new Error(`no cycle through ${start}: not a cyclic component`);
}

/**
 * The cycles to report: for each cyclic component, the shortest cycle through each of its files, each cycle
 * once. Every file of every cycle appears in at least one of them (listing every elementary cycle could be
 * exponential).
 */
export function findCycles(graph: Map<string, ImportEdge[]>): Cycle[] {
  const cycles: Cycle[] = [];
  const seen = new Set<string>();
  for (const component of cyclicComponents(graph)) {
    const members = new Set(component);
    for (const file of component) {
      const files = shortestCycle(file, members, graph);
      // One key per cycle whichever file it is read from: rotate to start at its smallest file.
      const first = files.indexOf([...files].sort()[0]!);
      const rotated = [...files.slice(first), ...files.slice(0, first)];
      const key = rotated.join('\n');
      if (seen.has(key)) continue;
      seen.add(key);
      const lines = rotated.map((f, i) => {
        const to = rotated[(i + 1) % rotated.length]!;
        return graph.get(f)!.find((e) => e.to === to)!.line;
      });
      cycles.push({ files: rotated, lines });
    }
  }
  return cycles;
}

/** `a.ts:12 -> b.ts:3 -> a.ts`: each file with the line that imports the next. */
export function formatCycle(cycle: Cycle, root: string = ROOT): string {
  const name = (f: string): string => relative(root, f).split(sep).join('/');
  return [...cycle.files.map((f, i) => `${name(f)}:${cycle.lines[i]}`), name(cycle.files[0]!)].join(' -> ');
}

function main(args: string[]): number {
  const dir = resolve(ROOT, args[0] ?? 'src');
  const graph = importGraph(dir);
  const cycles = findCycles(graph);
  const where = relative(ROOT, dir) || '.';
  if (cycles.length === 0) {
    process.stdout.write(`check-cycles: no import cycle among the ${graph.size} modules of ${where}/\n`);
    return 0;
  }
  process.stderr.write(
    `check-cycles: ${cycles.length} import cycle${cycles.length === 1 ? '' : 's'} in ${where}/ ` +
      '(type-only imports count; move the shared types to a module both import):\n' +
      cycles.map((c) => `  ${formatCycle(c)}\n`).join(''),
  );
  return 1;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.slice(2));
}
