/**
 * The shape rules of the code base (issue 9) that a reader relies on, checked on every file: each .ts file of
 * src/ and scripts/ opens with a `/**` comment saying its role (the first thing in the file, before its imports),
 * and a file of src/ over MAX_LINES lines says why in that comment, with the words "400 lines" (for instance
 * "A little over 400 lines: ..."). The test cannot judge the reason; it makes the reason impossible to forget.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const MAX_LINES = 400;
/** What an opening comment says when its file is longer than MAX_LINES. */
const REASON_MARKER = /\b400 lines\b/;

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...tsFiles(path));
    else if (entry.name.endsWith('.ts')) out.push(path);
  }
  return out.sort();
}

/** Lines as `wc -l` counts them. */
function lineCount(text: string): number {
  return text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
}

/** The file's problems with these rules, worded for the person who must fix them. */
function headProblems(file: string, text: string, checkLength: boolean): string[] {
  if (!text.startsWith('/**')) return [`${file}: does not open with a /** comment saying its role (move it above the imports)`];
  const end = text.indexOf('*/');
  const opening = end === -1 ? text : text.slice(0, end);
  const lines = lineCount(text);
  if (checkLength && lines > MAX_LINES && !REASON_MARKER.test(opening)) {
    return [`${file}: ${lines} lines; split it, or say why not in its opening comment ("... over 400 lines: <why>")`];
  }
  return [];
}

test('the check itself: a missing or late comment, and a long file without its reason, are caught', () => {
  const long = (head: string): string => head + '\nexport const x = 1;\n'.repeat(MAX_LINES);
  assert.equal(headProblems('a.ts', "import x from 'y';\n/** Role. */\n", true).length, 1);
  assert.equal(headProblems('a.ts', '// Role.\n', true).length, 1);
  assert.deepEqual(headProblems('a.ts', '/** Role. */\nexport const x = 1;\n', true), []);
  assert.equal(headProblems('a.ts', long('/** Role. */'), true).length, 1);
  assert.equal(headProblems('a.ts', long('/** Role. */\n/** A little over 400 lines: it is one thing. */'), true).length, 1, 'only the opening comment counts');
  assert.deepEqual(headProblems('a.ts', long('/** Role. A little over 400 lines: it is one thing. */'), true), []);
  assert.deepEqual(headProblems('a.ts', long('/** Role. */'), false), []);
});

test('every file of src/ and scripts/ opens with its role; no file of src/ is over 400 lines without saying why', () => {
  const problems: string[] = [];
  for (const [dir, checkLength] of [['src', true], ['scripts', false]] as const) {
    const files = tsFiles(join(ROOT, dir));
    assert.ok(files.length > 0, `no .ts file found under ${dir}/`);
    for (const file of files) problems.push(...headProblems(relative(ROOT, file), readFileSync(file, 'utf8'), checkLength));
  }
  assert.deepEqual(problems, []);
});
