/**
 * The Lambda artifact (`npm run package:lambda`): the script builds dist-lambda/dasguard-lambda.zip into a temp
 * directory, the zip is unzipped into an empty directory (no node_modules, no src/, no repo around it) and the
 * local-invoke recipe of docs/lambda.md (its invoke.mjs, as written there) runs the bundled handler with plain node
 * on each sample stream, with the demo key through DASGUARD_KEY_FILE: no AWS account, no network. Its alerts must
 * have the ids `dasguard replay` gives for the same records.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { MYSQL, PG } from '../../scripts/sampleData.js';
import { jsonLines, runCli } from '../support/cli.js';

const run = promisify(execFile);
const KEY = resolve('samples/demo-master-key.json');
const STREAMS = [PG, MYSQL].map((s) => resolve(`samples/streams/aws-rds-das-${s.clusterId}.jsonl`));
/** Far above today's (~435 KiB): trips when something big (source maps, a second copy of the SDK) gets in. */
const MAX_ZIP_BYTES = 1024 * 1024;

/** The child's environment: no tsx loader, no AWS settings (a call to AWS would fail, not reach an account). */
function plainEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, ...extra };
}

describe('the Lambda zip (npm run package:lambda), unzipped and invoked locally', { timeout: 180_000 }, () => {
  let work: string;
  let fn: string;
  let printed: string;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'dasguard-lambda-zip-'));
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'scripts/package-lambda.ts', '--out', join(work, 'out')], { maxBuffer: 16 * 1024 * 1024 });
    printed = stdout;
    fn = join(work, 'fn');
    await mkdir(fn);
    await run('unzip', ['-q', join(work, 'out', 'dasguard-lambda.zip'), '-d', fn]);
    const doc = await readFile('docs/lambda.md', 'utf8');
    const recipe = /^```js\n(\/\/ invoke\.mjs[\s\S]*?)^```/m.exec(doc);
    assert.ok(recipe, 'docs/lambda.md shows invoke.mjs');
    await writeFile(join(fn, 'invoke.mjs'), recipe[1]!);
  });

  after(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('holds the bundle, the rules and the LICENSE only: no source maps, type files or node_modules; its size and file count are printed', async () => {
    const { stdout } = await run('unzip', ['-Z1', join(work, 'out', 'dasguard-lambda.zip')]);
    const entries = stdout.split('\n').filter((l) => l !== '');
    assert.deepEqual(entries.sort(), ['LICENSE', 'index.mjs', ...(await readdir('rules')).map((f) => `rules/${f}`)].sort());
    const m = /dasguard-lambda\.zip: (\d+) bytes \([\d.]+ KiB\), (\d+) files/.exec(printed);
    assert.ok(m, printed);
    assert.equal(Number(m[2]), entries.length);
    assert.ok(Number(m[1]) <= MAX_ZIP_BYTES, `${m[1]} bytes`);
  });

  for (const [i, stream] of STREAMS.entries()) {
    it(`the bundled handler gives replay's alert ids on ${['the PostgreSQL', 'the MySQL'][i]} sample stream`, async () => {
      const { stdout, stderr } = await run(process.execPath, ['invoke.mjs', stream], { cwd: fn, env: plainEnv({ DASGUARD_KEY_FILE: KEY }), maxBuffer: 16 * 1024 * 1024 });
      assert.deepEqual(JSON.parse(stderr.trim()), { batchItemFailures: [] });
      const lines = jsonLines(stdout);
      const init = lines.find((l) => l.msg === 'init')!;
      assert.ok((init.ruleFiles as string[]).every((f) => f.startsWith(join(fn, 'rules'))), 'the rules inside the zip');
      assert.ok(!lines.some((l) => l.level === 'error'), stdout);
      const ids = lines.filter((l) => typeof l.ruleId === 'string').map((l) => l.id);

      const replay = await runCli(['replay', stream, '--key-file', KEY, '--rules', 'rules', '--output', 'jsonl']);
      assert.equal(replay.code, 0, replay.stderr);
      const expected = jsonLines(replay.stdout).map((a) => a.id);
      assert.ok(expected.length > 0);
      assert.deepEqual(ids, expected);
      // The rules in the zip (another directory) have the version of the repository's: in the init line and every alert.
      const versions = new Set(jsonLines(replay.stdout).map((a) => a.rulesVersion));
      assert.equal(versions.size, 1);
      assert.equal(init.rulesVersion, [...versions][0]);
      assert.ok(lines.filter((l) => typeof l.ruleId === 'string').every((l) => l.rulesVersion === init.rulesVersion));
    });
  }
});
