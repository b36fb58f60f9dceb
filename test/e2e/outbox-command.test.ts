/**
 * `dasguard outbox status` and `dasguard outbox resend`: dead-lettered and quarantined alerts back into the outbox
 * and delivered, never twice what was already re-queued.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { DeliveryHandoff } from '../../src/delivery/DeliveryHandoff.js';
import { parseDeliveryConfig } from '../../src/delivery/config.js';
import { makeAlert, SECRET_LITERAL } from '../support/alerts.js';
import { jsonLines, runCli } from '../support/cli.js';
import { startWebhookServer, type WebhookServer } from '../support/webhookServer.js';

let hook: WebhookServer;
before(async () => {
  hook = await startWebhookServer();
});
after(async () => {
  await hook.close();
});

const received = (since: number) => hook.received.slice(since).map((r) => (r.body as { id: string }).id);

/** A config with webhook sinks a and b and a file sink f, and an outbox holding dead letters: 3 for a, 1 for b. */
async function withDeadLetters(): Promise<{ dir: string; cfg: string; outbox: string; file: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'dasguard-outbox-cmd-'));
  const file = join(dir, 'full.jsonl');
  const yaml = `sinks:
  a: {type: webhook, url: "${hook.url}/a"}
  b: {type: webhook, url: "${hook.url}/b"}
  f: {type: file, path: "${file}"}
routes:
  - {name: ra, sinks: [a], rules: ['pg.*']}
  - {name: rb, sinks: [b], rules: ['mysql.*']}
  - {name: f, sinks: [f], severity: critical, redaction: full}
delivery: {maxAttempts: 1000, initialBackoffMs: 1, maxBackoffMs: 20, drainTimeoutMs: 1000}
`;
  const cfg = join(dir, 'dasguard.yaml');
  await writeFile(cfg, yaml);
  const outbox = join(dir, 'outbox');
  const { config } = parseDeliveryConfig(cfg, yaml, {});
  // 4xx are not retried: straight to the dead letters.
  for (const [alerts, failures] of [[[makeAlert(1), makeAlert(2), makeAlert(3)], 3], [[makeAlert(4, { ruleId: 'mysql.other' })], 1]] as const) {
    const h = await DeliveryHandoff.open(config!, { outboxDir: outbox, stderr: new PassThrough() });
    hook.failNext(failures, 400, {}, 'bad');
    await h.handOff(alerts);
    await h.close();
    assert.equal(h.stats().deadLettered, failures);
  }
  return { dir, cfg, outbox, file };
}

test('outbox status: pending per sink, dead letters, quarantined files', async () => {
  const { cfg, outbox } = await withDeadLetters();
  await mkdir(join(outbox, 'quarantine'), { recursive: true });
  await writeFile(join(outbox, 'quarantine', 'batch-00001700000000000-1-00000000-aaaaaa.jsonl'), '{"version":2,"jobs":2}\n{"sink":"a","alert":' + JSON.stringify(makeAlert(9)) + '}\n{"sink":');
  const text = await runCli(['outbox', 'status', '--config', cfg, '--outbox-dir', outbox]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /dead-lettered: 4 \(a: 3, b: 1\)/);
  assert.match(text.stdout, /pending: 0/);
  assert.match(text.stdout, /quarantined: 1 file/);
  const json = await runCli(['outbox', 'status', '--outbox-dir', outbox, '--output', 'json']);
  assert.equal(json.code, 0, json.stderr);
  const s = JSON.parse(json.stdout) as { outboxDir: string; pending: Record<string, number>; deadLettered: Record<string, number>; quarantined: { file: string; readable: number; resendable: number }[] };
  assert.equal(s.outboxDir, outbox);
  assert.deepEqual(s.pending, {});
  assert.equal(Object.values(s.deadLettered).reduce((a, b) => a + b, 0), 4);
  assert.deepEqual(s.quarantined.map((q) => [q.file, q.readable, q.resendable]), [['batch-00001700000000000-1-00000000-aaaaaa.jsonl', 1, 1]]);
});

test('outbox resend: re-queued and delivered (exit 0); run again, nothing is sent twice', async () => {
  const { cfg, outbox } = await withDeadLetters();
  const since = hook.received.length;
  const r = await runCli(['outbox', 'resend', '--config', cfg, '--outbox-dir', outbox]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /4 dead-lettered alerts re-queued/);
  assert.equal(received(since).length, 4);
  assert.equal((await readFile(join(outbox, 'dead-letter.jsonl'), 'utf8')).trim(), '');
  const again = await runCli(['outbox', 'resend', '--config', cfg, '--outbox-dir', outbox]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /nothing to resend/);
  assert.equal(received(since).length, 4);
});

test('outbox resend while the sink is still down: exit 4, they stay pending; the next resend delivers each once', async () => {
  const { cfg, outbox } = await withDeadLetters();
  const since = hook.received.length;
  await hook.down();
  let r;
  try {
    r = await runCli(['outbox', 'resend', '--config', cfg, '--outbox-dir', outbox, '--sink', 'a']);
  } finally {
    await hook.up();
  }
  assert.equal(r.code, 4, r.stderr);
  assert.match(r.stderr, /3 dead-lettered alerts re-queued/);
  assert.match(r.stderr, /1 alert for other sinks left where they are/);
  assert.match(r.stderr, /still pending/);
  const left = jsonLines(await readFile(join(outbox, 'dead-letter.jsonl'), 'utf8')) as { sink: string }[];
  assert.deepEqual(left.map((l) => l.sink), ['b'], "--sink a: b's dead letter stays");
  const next = await runCli(['outbox', 'resend', '--config', cfg, '--outbox-dir', outbox, '--sink', 'a']);
  assert.equal(next.code, 0, next.stderr);
  const got = received(since);
  assert.equal(got.length, 3);
  assert.equal(new Set(got).size, 3, 'each once');
});

test('outbox resend --to: to another sink, with the strictest redaction of the routes using it', async () => {
  const { cfg, outbox, file } = await withDeadLetters();
  const r = await runCli(['outbox', 'resend', '--config', cfg, '--outbox-dir', outbox, '--sink', 'b', '--to', 'f']);
  assert.equal(r.code, 0, r.stderr);
  const got = jsonLines(await readFile(file, 'utf8')) as { id: string; event: Record<string, unknown> }[];
  assert.equal(got.length, 1);
  assert.doesNotMatch(JSON.stringify(got), /ALTER ROLE app PASSWORD|paramList/, 'full redaction: no statement text, no bind values');
  assert.doesNotMatch(JSON.stringify(got), new RegExp(SECRET_LITERAL));
});

test('outbox resend: quarantined alerts that are readable are re-queued once', async () => {
  const { cfg, outbox } = await withDeadLetters();
  const q = join(outbox, 'quarantine');
  await mkdir(q, { recursive: true });
  await writeFile(join(q, 'batch-00001700000000000-1-00000000-aaaaaa.jsonl'), '{"version":2,"jobs":3}\n{"sink":"a","alert":' + JSON.stringify(makeAlert(9)) + '}\n{"sink":"b","alert":' + JSON.stringify(makeAlert(10)) + '}\n{"sink":"a","al');
  const since = hook.received.length;
  const r = await runCli(['outbox', 'resend', '--config', cfg, '--outbox-dir', outbox]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /2 quarantined alerts re-queued/);
  assert.ok(received(since).includes(makeAlert(9).id) && received(since).includes(makeAlert(10).id));
  const count = received(since).length;
  const again = await runCli(['outbox', 'resend', '--config', cfg, '--outbox-dir', outbox]);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(received(since).length, count, 'nothing sent twice');
  assert.ok(existsSync(join(q, 'batch-00001700000000000-1-00000000-aaaaaa.jsonl')), 'the damaged file stays for inspection');
});

test('outbox: usage errors and help', async () => {
  assert.equal((await runCli(['outbox'])).code, 2);
  assert.equal((await runCli(['outbox', 'fix'])).code, 2);
  const help = await runCli(['outbox', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /dasguard outbox resend/);
  assert.match((await runCli(['help'])).stdout, /outbox status\|resend/);
});
