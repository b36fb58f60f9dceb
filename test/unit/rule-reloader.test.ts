/**
 * RuleReloader (src/commands/ruleReload.ts) on real rule files: a reload of unchanged files swaps nothing and says
 * so; an edited file is swapped in with both versions logged.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RuleReloader } from '../../src/commands/ruleReload.js';
import { loadRules } from '../../src/rules/index.js';
import { LiveRuleSet } from '../../src/rules/LiveRuleSet.js';
import type { ConsumerLogEntry } from '../../src/consumer/types.js';
import { tempDir } from '../support/kinesis.js';

const RULE = (id: string) => `rules:\n  - {id: ${id}, severity: low, when: {dbUserName: eve}}\n`;

test('a reload of unchanged rule files swaps nothing and logs "rules unchanged"; an edit is swapped in', async () => {
  const dir = tempDir('dasguard-reloader-');
  const file = join(dir, 'a.yaml');
  writeFileSync(file, RULE('first'));
  const loaded = await loadRules([dir]);
  assert.ok(loaded.ruleSet);
  const live = new LiveRuleSet(loaded.ruleSet);
  const logs: ConsumerLogEntry[] = [];
  const reloader = new RuleReloader({ paths: [dir], live, env: {}, log: (e) => logs.push(e) });
  const before = live.version;

  await reloader.request('SIGHUP');
  assert.equal(live.version, before);
  assert.deepEqual(logs.map((l) => l.msg).filter((m) => m !== 'reloading rules'), [`rules unchanged (${before}): nothing reloaded`]);

  logs.length = 0;
  writeFileSync(file, RULE('second'));
  await reloader.request('SIGHUP');
  assert.notEqual(live.version, before);
  const reloaded = logs.find((l) => l.msg === 'rules reloaded');
  assert.ok(reloaded, JSON.stringify(logs));
  assert.equal(reloaded.oldVersion, before);
  assert.equal(reloaded.newVersion, live.version);
});
