/**
 * The built-in delivery (no delivery config): alerts printed as they always were, through the same suppression,
 * routing and redaction code as a configured delivery, in order, with backpressure, and nothing written to disk.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { builtinDeliveryConfig, consoleHandoff } from '../../src/delivery/consoleDelivery.js';
import { DeliveryHandoff } from '../../src/delivery/DeliveryHandoff.js';
import { ConsoleSink } from '../../src/delivery/sinks/index.js';
import { formatAlert } from '../../src/pipeline/output.js';
import { LAMBDA_OUTBOX_DIR, createEnvHandler } from '../../src/lambda.js';
import { SECRET_LITERAL, makeAlert } from '../support/alerts.js';
import { runCli } from '../support/cli.js';

function capture(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

test('built-in delivery: exactly the lines of formatAlert (text, coloured text, JSON Lines), in order', async () => {
  const alerts = [makeAlert(1), makeAlert(2, { severity: 'critical' }), makeAlert(3, { severity: 'info', clusterId: null })];
  for (const [format, color] of [['text', false], ['text', true], ['jsonl', false]] as const) {
    const out = capture();
    const h = consoleHandoff(out.stream, format, color);
    await h.handOff(alerts.slice(0, 2));
    await h.handOff([]);
    await h.handOff(alerts.slice(2));
    await h.close();
    assert.equal(out.text(), alerts.map((a) => formatAlert(a, format, color) + '\n').join(''), `${format}${color ? ' colour' : ''}`);
    assert.equal(h.stats().delivered, 3);
    assert.equal(h.stats().pending, 0);
    assert.equal(out.stream.writableEnded, false, 'stdout is not ours to end');
  }
});

test('built-in delivery: handOff resolves once a slow stream took every line (backpressure), input order kept', async () => {
  const lines: string[] = [];
  let inFlight = false;
  const slow = new Writable({
    highWaterMark: 1,
    write(chunk: Buffer, _enc, done) {
      assert.equal(inFlight, false);
      inFlight = true;
      setTimeout(() => {
        inFlight = false;
        lines.push(chunk.toString('utf8'));
        done();
      }, 0);
    },
  });
  const h = consoleHandoff(slow, 'jsonl');
  const alerts = Array.from({ length: 250 }, (_, i) => makeAlert(i)); // more than a sink batch (100)
  for (let i = 0; i < alerts.length; i += 50) {
    await h.handOff(alerts.slice(i, i + 50));
    // At most the line the stream is busy with is still out: the rest was taken before handOff resolved.
    assert.ok(lines.length >= i + 49, `after ${i + 50} alerts: ${lines.length} lines`);
  }
  await h.close();
  await new Promise<void>((r) => slow.end(r));
  assert.deepEqual(lines.map((l) => (JSON.parse(l) as { id: string }).id), alerts.map((a) => a.id));
});

test('built-in delivery: the same suppression, routing and redaction code as a configured delivery', async () => {
  for (const format of ['text', 'jsonl'] as const) {
    const out = capture();
    const base = builtinDeliveryConfig(format);
    const config = {
      ...base,
      routes: [{ ...base.routes[0]!, redaction: 'full' as const }],
      suppression: [{ rules: ['pg.*'], windowMs: 3_600_000, keys: ['dbUserName'] }],
    };
    const h = DeliveryHandoff.direct(config, { stdout: out.stream, sinks: new Map([['console', new ConsoleSink('console', out.stream, format)]]) });
    await h.handOff([makeAlert(1), makeAlert(2)]);
    assert.equal(h.stats().suppressed, 1);
    await h.close();
    const lines = out.text().trimEnd().split('\n');
    assert.equal(lines.length, 2, out.text());
    const digest = /1 more alert of rule pg\.role-password-change was suppressed within 1 h \(dbUserName=app_admin\)/;
    if (format === 'text') {
      assert.match(lines[1]!, new RegExp(`${digest.source}.*\\(\\+1 suppressed\\)$`));
      continue;
    }
    assert.doesNotMatch(out.text(), new RegExp(SECRET_LITERAL)); // the route's redaction (full) applied
    const [first, second] = lines.map((l) => JSON.parse(l) as { event: Record<string, unknown>; message: string; suppressedCount?: number });
    assert.equal(first!.event.commandText, undefined);
    assert.match(second!.message, digest);
    assert.equal(second!.suppressedCount, 1);
  }
});

test('built-in delivery: a direct handoff takes console sinks only; it has no outbox to resend from', async () => {
  const config = { ...builtinDeliveryConfig('text'), sinks: { hook: { type: 'webhook' as const, url: 'http://127.0.0.1:9/x' } } };
  assert.throws(() => DeliveryHandoff.direct(config), /console sinks only, not to sink 'hook' \(webhook\)/);
  const h = consoleHandoff(new PassThrough(), 'text');
  await assert.rejects(h.resend(), /no outbox/);
  assert.deepEqual(await h.settle([{ batches: [] }], 10), { pending: [], deadLettered: [] });
});

test('built-in delivery: replay without delivery config writes nothing to disk (no .dasguard/outbox)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dasguard-builtin-'));
  const cwd = process.cwd();
  try {
    process.chdir(dir);
    const r = await runCli(['replay', resolve(cwd, 'samples/streams'), '--key-file', resolve(cwd, 'samples/demo-master-key.json'), '--rules', resolve(cwd, 'rules')]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.split('\n').length > 10);
    assert.deepEqual(await readdir(dir), []);
  } finally {
    process.chdir(cwd);
    await rm(dir, { recursive: true, force: true });
  }
});

test('built-in delivery: the Lambda handler without delivery settings opens no outbox: nothing under /tmp', async () => {
  const before = await stat(LAMBDA_OUTBOX_DIR).then((s) => s.mtimeMs, () => undefined);
  const out = capture();
  const logOut = capture();
  const h = createEnvHandler({ env: { DASGUARD_RULES: 'rules' }, stdout: out.stream, logOut: logOut.stream });
  assert.deepEqual(await h({ Records: [] }), { batchItemFailures: [] });
  await h.close();
  assert.equal(out.text(), '');
  assert.equal((JSON.parse(logOut.text().split('\n')[0]!) as { delivery?: unknown }).delivery, undefined);
  assert.equal(await stat(LAMBDA_OUTBOX_DIR).then((s) => s.mtimeMs, () => undefined), before);
});
