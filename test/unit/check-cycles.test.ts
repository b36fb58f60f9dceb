/**
 * scripts/check-cycles.ts, the import-cycle check `npm test` runs on src/: on small module trees written to a temp
 * dir, every kind of module reference closes a cycle (type-only ones included) and a tree without one passes.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { findCycles, formatCycle, importGraph } from '../../scripts/check-cycles.js';

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'dasguard-cycles-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Writes `files` (path -> text) under a fresh dir and returns the cycles found there, formatted. */
async function cyclesOf(name: string, files: Record<string, string>): Promise<string[]> {
  const dir = join(root, name);
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  return findCycles(importGraph(dir)).map((c) => formatCycle(c, dir));
}

describe('check-cycles', () => {
  it('passes a tree without cycles (and ignores node: and package imports)', async () => {
    const found = await cyclesOf('none', {
      'a.ts': "import { b } from './b.js';\nimport { readFile } from 'node:fs';\nimport ts from 'typescript';\nexport const a = b;\n",
      'b.ts': "import type { C } from './sub/c.js';\nexport const b: C = 1;\n",
      'sub/c.ts': 'export type C = number;\n',
    });
    assert.deepEqual(found, []);
  });

  it('reports a cycle with the line of each import, whatever the kind of reference', async () => {
    const kinds: Record<string, string> = {
      value: "import { x } from './b.js';",
      typeOnly: "import type { X } from './b.js';",
      inlineType: "import { type X } from './b.js';",
      reExport: "export { x } from './b.js';",
      typeReExport: "export type { X } from './b.js';",
      starExport: "export * from './b.js';",
      dynamic: "export const load = () => import('./b.js');",
      typeQuery: "export type T = import('./b.js').X;",
    };
    for (const [kind, line] of Object.entries(kinds)) {
      const found = await cyclesOf(kind, {
        'a.ts': `// a\n${line}\nexport type A = 1;\n`,
        'b.ts': "import type { A } from './a.js';\nexport type X = A;\nexport const x = 1;\n",
      });
      assert.deepEqual(found, ['a.ts:2 -> b.ts:1 -> a.ts'], kind);
    }
  });

  it('reports a longer cycle once, from its first file, and every cycle of a component', async () => {
    const found = await cyclesOf('long', {
      'c.ts': "import './a.js';\n",
      'a.ts': "import './b.js';\n",
      'b.ts': "\nimport './c.js';\nimport './d.js';\n",
      'd.ts': "import './b.js';\n",
      'e.ts': "import './e.js';\n",
    });
    assert.deepEqual(found.sort(), ['a.ts:1 -> b.ts:2 -> c.ts:1 -> a.ts', 'b.ts:3 -> d.ts:1 -> b.ts', 'e.ts:1 -> e.ts']);
  });

  it('refuses a relative import that does not resolve rather than skip it', async () => {
    await assert.rejects(cyclesOf('broken', { 'a.ts': "import './missing.js';\n" }), /a\.ts:1: cannot resolve '\.\/missing\.js'/);
  });
});
