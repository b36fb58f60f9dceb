/**
 * The app as the CDK CLI runs it: cdk.json's `app` command in a child process, the context in CDK_CONTEXT_JSON and
 * the output directory in CDK_OUTDIR (what `cdk synth` and `cdk deploy` set), so no AWS call and no credentials. The
 * commands are the READMEs' own `npx cdk deploy` lines: a README that drifts from the app fails here.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FIXTURE_LAMBDA } from './support/stacks.js';

const DEPLOY = join(dirname(fileURLToPath(import.meta.url)), '..');

interface Synth {
  code: number;
  stderr: string;
  templates: Record<string, { Resources: Record<string, { Type: string; Properties: any }> }>;
}

async function synthApp(context: Record<string, string>): Promise<Synth> {
  const [command, ...args] = (JSON.parse(await readFile(join(DEPLOY, 'cdk.json'), 'utf8')).app as string).split(' ');
  assert.equal(command, 'node');
  const out = await mkdtemp(join(tmpdir(), 'dasguard-cdk-'));
  try {
    const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', CDK_OUTDIR: out, CDK_CONTEXT_JSON: JSON.stringify(context) };
    const { code, stderr } = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(process.execPath, args, { cwd: DEPLOY, env }, (err, _stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stderr }));
    });
    const templates: Synth['templates'] = {};
    for (const f of await readdir(out).catch(() => [])) {
      if (f.endsWith('.template.json')) templates[f.replace(/\.template\.json$/, '')] = JSON.parse(await readFile(join(out, f), 'utf8'));
    }
    return { code, stderr, templates };
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}

/** Every `npx cdk deploy …` command of a Markdown file (backslash continuations joined), as its `-c` pairs. */
function deployCommands(markdown: string): Record<string, string>[] {
  const text = markdown.replace(/\\\n\s*/g, ' ');
  return [...text.matchAll(/^\s*(?:cd deploy && )?npx cdk deploy\b(.*)$/gm)].map(([, rest]) => {
    const context: Record<string, string> = {};
    for (const [, k, v] of rest!.replace(/#.*$/, '').matchAll(/-c\s+([A-Za-z]+)=(\S+)/g)) context[k!] = v!;
    return context;
  });
}

test('the READMEs\' deploy commands synthesize: the Lambda stack, and the run stack with -c target=run', async () => {
  const commands = [
    ...deployCommands(await readFile(join(DEPLOY, '..', 'README.md'), 'utf8')),
    ...deployCommands(await readFile(join(DEPLOY, 'README.md'), 'utf8')),
  ];
  assert.ok(commands.some((c) => c.target === undefined) && commands.some((c) => c.target === 'run'), `both targets shown: ${JSON.stringify(commands)}`);
  for (const context of commands) {
    // The bundle of `npm run package:lambda` is not built here: the fixture stands in for it.
    const r = await synthApp({ lambdaAsset: FIXTURE_LAMBDA, ...context });
    assert.equal(r.code, 0, `${JSON.stringify(context)}: ${r.stderr}`);
    const names = Object.keys(r.templates);
    assert.deepEqual(names, [context.stackName ?? `dasguard-${context.target === 'run' ? 'run-' : ''}${context.clusterResourceId}`]);
    const types = Object.values(r.templates[names[0]!]!.Resources).map((x) => x.Type);
    assert.equal(types.includes('AWS::Lambda::EventSourceMapping'), context.target !== 'run', JSON.stringify(context));
  }
});

test('without its settings the app exits 2 and lists every missing one, with where to find it; without the bundle it says how to build it', async () => {
  const none = await synthApp({ lambdaAsset: FIXTURE_LAMBDA });
  assert.equal(none.code, 2);
  assert.deepEqual(none.templates, {});
  assert.match(none.stderr, /^invalid deploy settings \(2 problems\):\n  -c clusterResourceId: required: .*DbClusterResourceId.*\n  -c kmsKeyArn: required: .*ActivityStreamKmsKeyId/);
  const noBundle = await synthApp({ clusterResourceId: 'cluster-ABC', kmsKeyArn: 'arn:aws:kms:eu-west-1:111122223333:key/k', lambdaAsset: join(DEPLOY, 'no-such-bundle.zip') });
  assert.equal(noBundle.code, 2);
  assert.match(noBundle.stderr, /-c lambdaAsset: .*no-such-bundle\.zip does not exist: build it first with `npm run package:lambda` in the repository root/);
});
