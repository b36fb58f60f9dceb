/**
 * --watch-rules' watchers (watchPaths in src/commands/ruleReload.ts) on a real directory: an editor's save (a new
 * file renamed over the old) is seen; a file outside the rule files is not; the rules directory replaced as a whole
 * (a deploy renaming a new one into place) is seen, and the files of the NEW directory are watched from then on.
 * Each step waits for the change it caused to be reported (the callback is the signal; no sleeps).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { watchPaths } from '../../src/commands/ruleReload.js';
import { tempDir } from '../support/kinesis.js';

test('a rename-save, then the whole directory replaced: both seen, and the new directory is watched', { timeout: 20_000 }, async () => {
  const root = tempDir('dasguard-watch-');
  const rules = join(root, 'rules');
  mkdirSync(rules);
  writeFileSync(join(rules, 'a.yaml'), 'rules: []\n');
  const seen: string[] = [];
  const waiters: { file: string; resolve: () => void }[] = [];
  const logs: string[] = [];
  const w = await watchPaths([rules], (file) => {
    seen.push(file);
    for (const x of waiters.splice(0)) if (file === x.file) x.resolve();
    else waiters.push(x);
  }, (e) => logs.push(e.msg), 20);
  const reported = (file: string) => new Promise<void>((resolve) => waiters.push({ file, resolve }));
  try {
    // An editor's save: the new text written aside, renamed over the old file.
    let next = reported(join(rules, 'a.yaml'));
    writeFileSync(join(rules, '.a.yaml.swp'), 'rules: []\n# edited\n');
    renameSync(join(rules, '.a.yaml.swp'), join(rules, 'a.yaml'));
    await next;
    assert.ok(!seen.some((f) => f.endsWith('.swp')), 'the editor\'s swap file is not a rule file');

    // The directory replaced as a whole.
    const fresh = join(root, 'rules.new');
    mkdirSync(fresh);
    writeFileSync(join(fresh, 'b.yaml'), 'rules: []\n');
    next = reported(rules);
    renameSync(rules, join(root, 'rules.old'));
    renameSync(fresh, rules);
    await next;
    // A file written in the new directory is seen: its watcher was set up again on it.
    next = reported(join(rules, 'c.yaml'));
    writeFileSync(join(rules, 'c.yaml'), 'rules: []\n');
    await next;
    assert.deepEqual(logs, []);
  } finally {
    w.close();
  }
});
