/**
 * `npm run local-stack`, used as the README says: started in an empty directory with `--put N --show-bodies`,
 * then `dasguard run --config .dasguard/local-stack.yaml` with the exports it printed. What the user sees: the
 * receivers' lines, each followed by the message in full, and alerts whose times are the time of the put (not
 * days ahead, as when the sample's 8-day jump was replayed).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DasguardProcess } from '../support/child.js';
import { tempDir, waitFor } from '../support/kinesis.js';

const ROOT = resolve(import.meta.dirname, '../..');

describe('local stack (npm run local-stack)', () => {
  const dir = tempDir('dasguard-local-stack-');
  let stack: ChildProcess | undefined;
  let out = '';
  after(async () => {
    if (stack && stack.exitCode === null) {
      const exited = new Promise((r) => stack!.once('exit', r));
      stack.kill('SIGINT');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('puts records stamped with the time of the put, and prints what the receivers accept in full', async () => {
    const putAt = Date.now();
    // in an empty directory, as a user who cloned elsewhere: tsx by its path, the script by its path
    stack = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), join(ROOT, 'scripts/local-stack.ts'), '--put', '52', '--show-bodies'], {
      cwd: dir,
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    stack.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    stack.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    await waitFor(() => /put 52 encrypted sample records/.test(out), 'the stack to put its records', 60_000);

    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
    for (const [, k, v] of out.matchAll(/^export (\w+)=(.*)$/gm)) env[k!] = v;
    assert.ok(env.AWS_ENDPOINT_URL_KINESIS && env.SLACK_WEBHOOK_URL, `the stack printed its exports:\n${out}`);

    const run = new DasguardProcess(
      [
        'run',
        '--cluster', 'dasguard-demo',
        '--from', 'trim-horizon',
        '--config', join(dir, '.dasguard/local-stack.yaml'),
        '--checkpoint-dir', join(dir, 'checkpoints'),
        '--state-dir', join(dir, 'state'),
        '--outbox-dir', join(dir, 'outbox'), // the config's is relative to the working directory: the repository here
      ],
      env,
    );
    try {
      // 52 records: the 26-record sample twice, its 8-day jump in each pass; one heavy read per pass (medium: SNS),
      // and high alerts (to Slack too)
      await waitFor(() => /^\S+ slack +\w+ /m.test(out) && [...out.matchAll(/^\S+ sns +\w+ heavy-read /gm)].length === 2, 'alerts of both passes at the receivers', 60_000);
    } finally {
      run.proc.kill('SIGTERM');
      await run.exit();
    }

    // each receiver line is followed by the message, indented: the SNS message is the alert
    const bodies = [...out.matchAll(/^\S+ sns +(\w+) [^\n]*\n((?: {4}[^\n]*\n)+)/gm)].map((m) => ({ id: m[1], alert: JSON.parse(m[2]!) as { id: string; time: string } }));
    assert.ok(bodies.length > 0, `SNS messages shown in full:\n${out}`);
    for (const { id, alert } of bodies) {
      assert.equal(alert.id, id);
      const skew = Date.parse(alert.time) - putAt;
      assert.ok(skew >= 0 && skew < 120_000, `alert ${id} at ${alert.time} is the time of the put (${new Date(putAt).toISOString()}), not ahead`);
    }
    const slack = /^\S+ slack +\w+ [^\n]*\n((?: {4}[^\n]*\n)+)/m.exec(out);
    assert.ok(slack, 'a Slack payload shown in full');
    assert.ok(Array.isArray((JSON.parse(slack[1]!) as { blocks?: unknown }).blocks), 'the Slack payload has its blocks');
  });
});
