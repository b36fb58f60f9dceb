/**
 * rulesVersion (src/rules/load.ts): the digest of the rule files every alert carries. The same files give the same
 * version wherever they are (another directory, given as a directory or as files); one byte changed, a file renamed or
 * a file added gives another; it is short (`sha256:` and 12 hex digits).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadRules, loadRuleTexts } from '../../src/rules/index.js';
import { tempDir } from '../support/kinesis.js';

const A = 'rules:\n  - id: a-rule\n    severity: low\n    when: {command: GRANT}\n';
const B = 'rules:\n  - id: b-rule\n    severity: high\n    when: {command: REVOKE}\n';

async function versionOf(paths: string[]): Promise<string> {
  const { ruleSet, problems } = await loadRules(paths);
  assert.ok(ruleSet, JSON.stringify(problems));
  return ruleSet.version!;
}

function ruleDir(files: Record<string, string>): string {
  const dir = tempDir('dasguard-version-');
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

test('the same rule files in another directory have the same version, short enough to read', async () => {
  const one = ruleDir({ 'a.yaml': A, 'sub/b.yaml': B });
  const two = join(tempDir('dasguard-elsewhere-'), 'deeper', 'rules');
  cpSync(one, two, { recursive: true });
  const v = await versionOf([one]);
  assert.match(v, /^sha256:[0-9a-f]{12}$/);
  assert.equal(await versionOf([two]), v);
  // The bundled pack: the same in the repository and in a copy elsewhere (what replay, run and the Lambda load).
  const pack = join(tempDir('dasguard-pack-'), 'rules');
  cpSync('rules', pack, { recursive: true });
  assert.equal(await versionOf([pack]), await versionOf(['rules']));
});

test('files given one by one are named by their base name: the same version from two directories', async () => {
  const one = ruleDir({ 'a.yaml': A, 'b.yaml': B });
  const two = ruleDir({ 'a.yaml': A, 'b.yaml': B });
  assert.equal(await versionOf([join(one, 'a.yaml'), join(one, 'b.yaml')]), await versionOf([join(two, 'b.yaml'), join(two, 'a.yaml')]));
});

test('one byte changed, a file renamed or a file added gives another version', async () => {
  const base = await versionOf([ruleDir({ 'a.yaml': A, 'b.yaml': B })]);
  const versions = [
    // one byte added (a trailing space, the same rules), one byte changed
    await versionOf([ruleDir({ 'a.yaml': A.replace('severity: low', 'severity: low '), 'b.yaml': B })]),
    await versionOf([ruleDir({ 'a.yaml': A.replace('GRANT', 'GRANt'), 'b.yaml': B })]),
    await versionOf([ruleDir({ 'c.yaml': A, 'b.yaml': B })]),
    await versionOf([ruleDir({ 'a.yaml': A, 'b.yaml': B, 'c.yaml': '# nothing but a comment\n' })]),
  ];
  for (const v of versions) assert.notEqual(v, base);
  assert.equal(new Set(versions).size, versions.length);
});

test('texts in memory are named by their file, as loadRules names files under a directory', async () => {
  const dir = ruleDir({ 'a.yaml': A, 'b.yaml': B });
  const { ruleSet } = loadRuleTexts([{ file: 'a.yaml', text: A }, { file: 'b.yaml', text: B }]);
  assert.equal(ruleSet?.version, await versionOf([dir]));
});
