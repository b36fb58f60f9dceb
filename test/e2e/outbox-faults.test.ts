/**
 * The outbox through faults: a full disk (a real one: a small tmpfs, when the tests run as root; a failing outbox
 * in the dispatcher's unit test otherwise), a vanished directory, a growing ack log, a truncated batch file.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { DeliveryHandoff } from '../../src/delivery/DeliveryHandoff.js';
import { Dispatcher } from '../../src/delivery/Dispatcher.js';
import { Outbox, type OutboxJob } from '../../src/delivery/Outbox.js';
import { parseDeliveryConfig, type DeliveryConfig } from '../../src/delivery/config.js';
import type { DeliveredAlert, SendResult, Sink } from '../../src/delivery/types.js';
import { TransientError } from '../../src/errors.js';
import { makeAlert } from '../support/alerts.js';
import { jsonLines, runCli } from '../support/cli.js';
import { mountSmallDisk, type SmallDisk } from '../support/fullDisk.js';
import { waitFor } from '../support/kinesis.js';
import { startWebhookServer, type WebhookServer } from '../support/webhookServer.js';

const tmp = () => mkdtemp(join(tmpdir(), 'dasguard-outbox-faults-'));

function config(yaml: string): DeliveryConfig {
  const { config, problems } = parseDeliveryConfig('test.yaml', yaml, {});
  assert.deepEqual(problems, []);
  return config!;
}

function capture(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

const enospc = () => Object.assign(new Error("ENOSPC: no space left on device, write"), { code: 'ENOSPC' });

let hook: WebhookServer;
before(async () => {
  hook = await startWebhookServer();
});
after(async () => {
  await hook.close();
});

const ids = (since: number) => hook.received.slice(since).map((r) => (r.body as { id: string }).id);

describe('a full disk', () => {
  test('dispatcher: acks that cannot be written are retried with backoff, and delivery goes on once they can', async () => {
    const sent: string[] = [];
    const sink: Sink = {
      name: 'mem',
      type: 'memory',
      maxBatch: 10,
      async send(alerts: readonly DeliveredAlert[]): Promise<SendResult[]> {
        sent.push(...alerts.map((a) => a.id));
        return alerts.map(() => ({ ok: true }));
      },
      async close() {},
    };
    let failing = 3;
    const acked: string[] = [];
    const outbox = {
      async ack(jobs: readonly OutboxJob[]) {
        if (failing > 0) {
          failing--;
          throw new TransientError(`cannot write to the outbox directory /x: ${enospc().message}`, { cause: enospc() });
        }
        acked.push(...jobs.map((j) => j.alert.id));
      },
      async deadLetter() {},
    } as unknown as Outbox;
    const logs: string[] = [];
    const d = new Dispatcher(new Map([['mem', sink]]), outbox, {
      maxAttempts: 5,
      initialBackoffMs: 1,
      maxBackoffMs: 5,
      concurrency: 1,
      log: (m) => logs.push(m),
      onDead: async () => {},
    });
    const job = (i: number): OutboxJob => ({ batch: 'b', index: i, sink: 'mem', alert: makeAlert(i), attempts: 0, notBefore: 0 });
    d.enqueue([job(1)]);
    d.enqueue([job(2)]);
    assert.equal(await d.drain(10_000), true, 'the queue drained');
    assert.equal(failing, 0);
    assert.deepEqual(acked.sort(), [makeAlert(1).id, makeAlert(2).id].sort());
    assert.ok(logs.some((l) => /outbox cannot be updated.*retrying/.test(l)), logs.join('\n'));
  });

  test('a vanished outbox directory: handOff fails with a transient error naming it', async () => {
    const dir = join(await tmp(), 'outbox');
    const cfg = config(`sinks:\n  h: {type: webhook, url: "${hook.url}/v"}\nroutes:\n  - {name: r, sinks: [h]}\n`);
    const h = await DeliveryHandoff.open(cfg, { outboxDir: dir, stderr: new PassThrough() });
    await rm(dir, { recursive: true });
    await assert.rejects(h.handOff([makeAlert(1)]), (err: Error) => err instanceof TransientError && err.message.includes(dir));
    await h.close().catch(() => undefined);
  });

  describe('on a real full disk (tmpfs; needs root)', () => {
    let disk: SmallDisk | undefined;
    before(() => {
      disk = mountSmallDisk(1024);
    });
    after(() => disk?.unmount());

    test('replay: exit 4 after retries, the outbox directory named; not an internal error', async (t) => {
      if (!disk) return t.skip('mounting a tmpfs needs root');
      const work = await tmp();
      const outbox = join(disk.dir, 'replay-outbox');
      const cfg = join(work, 'dasguard.yaml');
      await writeFile(cfg, `sinks:\n  f: {type: file, path: "${join(work, 'alerts.jsonl')}"}\nroutes:\n  - {name: r, sinks: [f]}\n`);
      disk.fill();
      try {
        const r = await runCli(['replay', 'samples/streams', '--key-file', 'samples/demo-master-key.json', '--rules', 'rules', '--config', cfg, '--outbox-dir', outbox, '-q']);
        assert.equal(r.code, 4, r.stderr);
        assert.ok(r.stderr.includes(outbox), r.stderr);
        assert.match(r.stderr, /no space left/i);
        assert.doesNotMatch(r.stderr, /internal error/);
      } finally {
        disk.free();
      }
    });

    test('acks that hit the full disk wait; once space is back every alert is delivered and the outbox empties', async (t) => {
      if (!disk) return t.skip('mounting a tmpfs needs root');
      const dir = join(disk.dir, 'acks-outbox');
      const cfg = config(`sinks:\n  h: {type: webhook, url: "${hook.url}/full"}\nroutes:\n  - {name: r, sinks: [h]}\ndelivery: {maxAttempts: 1000, initialBackoffMs: 5, maxBackoffMs: 50, drainTimeoutMs: 20000}\n`);
      const err = capture();
      const h = await DeliveryHandoff.open(cfg, { outboxDir: dir, stderr: err.stream });
      const since = hook.received.length;
      await hook.down();
      const alerts = Array.from({ length: 5 }, (_, i) => makeAlert(10 + i));
      await h.handOff(alerts); // in the outbox before the disk fills
      disk.fill();
      try {
        await hook.up();
        await waitFor(() => /outbox cannot be updated/.test(err.text()), 'the ack failure to be reported');
        assert.ok((await readdir(dir)).some((f) => f.startsWith('batch-')), 'not acked: still in the outbox');
      } finally {
        disk.free();
      }
      await h.close();
      assert.equal(h.stats().pending, 0, err.text());
      for (const a of alerts) assert.ok(ids(since).includes(a.id), `alert ${a.id} delivered`);
      assert.deepEqual((await readdir(dir)).filter((f) => f.startsWith('batch-')), [], 'the outbox is empty');
    });

    test('handOff on a full disk fails transiently and changes nothing: retried once space is back, suppression counts once', async (t) => {
      if (!disk) return t.skip('mounting a tmpfs needs root');
      const dir = join(disk.dir, 'handoff-outbox');
      const file = join(await tmp(), 'alerts.jsonl');
      const cfg = config(`sinks:\n  f: {type: file, path: "${file}"}\nroutes:\n  - {name: r, sinks: [f]}\nsuppression:\n  - {rules: ['pg.*'], window: 1h, keys: [dbUserName]}\n`);
      const h = await DeliveryHandoff.open(cfg, { outboxDir: dir, stderr: new PassThrough() });
      const batch = [makeAlert(1), makeAlert(2), makeAlert(3)];
      disk.fill();
      try {
        await assert.rejects(h.handOff(batch), (e: Error) => e instanceof TransientError && e.message.includes(dir) && /no space left/i.test(e.message));
      } finally {
        disk.free();
      }
      await h.handOff(batch);
      await h.close();
      const got = jsonLines(await readFile(file, 'utf8')) as { id: string; suppressedCount?: number }[];
      assert.deepEqual(got.filter((a) => a.suppressedCount === undefined).map((a) => a.id), [makeAlert(1).id]);
      assert.deepEqual(got.filter((a) => a.suppressedCount !== undefined).map((a) => a.suppressedCount), [2]);
      assert.equal(h.stats().accepted, 3);
    });
  });
});

describe('the ack log', () => {
  test('is compacted while the outbox is open once it grows past its bound; a restart resumes exactly the unacked jobs', async () => {
    const dir = await tmp();
    const { outbox } = await Outbox.open(dir, { ackLogLimit: 100 });
    const jobs: OutboxJob[] = [];
    for (let b = 0; b < 10; b++) jobs.push(...(await outbox.append(Array.from({ length: 100 }, (_, i) => ({ sink: 's', alert: makeAlert(b * 100 + i) })))));
    // Everything acked but the second half of the last batch.
    for (let i = 0; i < 950; i += 50) await outbox.ack(jobs.slice(i, i + 50));
    const lines = (await readFile(join(dir, 'acks.log'), 'utf8')).split('\n').filter((l) => l !== '').length;
    assert.ok(lines <= 200, `acks.log has ${lines} lines while open`);
    await outbox.close();
    const reopened = await Outbox.open(dir);
    assert.deepEqual(reopened.recovered.map((j) => j.alert.id).sort(), jobs.slice(950).map((j) => j.alert.id).sort());
    await reopened.outbox.close();
  });

  test('temporary files a crash left (before their rename, so never acknowledged) are removed at open; the ack log still works', async () => {
    const dir = await tmp();
    const { outbox } = await Outbox.open(dir);
    const jobs = await outbox.append([{ sink: 's', alert: makeAlert(1) }, { sink: 's', alert: makeAlert(2) }]);
    await outbox.ack(jobs.slice(0, 1)); // appended to the ack log that compact() left open at open
    await outbox.close();
    const left = ['batch-00000000000001-1-00000000-abcdef.jsonl.tmp-4242-0badcafe', 'acks.log.tmp-4242-deadbeef', 'batch-00000000000002-1-00000000-abcdef.jsonl.tmp', 'acks.log.4242.tmp'];
    for (const name of left) await writeFile(join(dir, name), '{"version":2,"jobs":1}\n');
    const reopened = await Outbox.open(dir);
    assert.deepEqual(reopened.recovered.map((j) => j.alert.id), [makeAlert(2).id]);
    const names = await readdir(dir);
    for (const name of left) assert.ok(!names.includes(name), name);
    assert.ok(!names.some((n) => n.includes('.tmp')), names.join(', '));
    await reopened.outbox.close();
  });
});

describe('a damaged batch file', () => {
  test('is quarantined with its readable alerts still delivered (acked ones not again), and says how many', async () => {
    const dir = await tmp();
    const file = join(dir, 'alerts.jsonl');
    const { outbox } = await Outbox.open(join(dir, 'o'));
    const jobs = await outbox.append(Array.from({ length: 5 }, (_, i) => ({ sink: 'f', alert: makeAlert(50 + i) })));
    await outbox.ack([jobs[0]!]);
    await outbox.close();
    const name = jobs[0]!.batch;
    const path = join(dir, 'o', name);
    const text = await readFile(path, 'utf8');
    // Cut in the middle of the fourth job.
    const cut = text.indexOf(makeAlert(53).id) + 10;
    await truncate(path, Buffer.byteLength(text.slice(0, cut)));

    const cfg = config(`sinks:\n  f: {type: file, path: "${file}"}\nroutes:\n  - {name: r, sinks: [f]}\n`);
    const err = capture();
    const h = await DeliveryHandoff.open(cfg, { outboxDir: join(dir, 'o'), stderr: err.stream });
    await h.close();
    const got = (jsonLines(await readFile(file, 'utf8')) as { id: string }[]).map((a) => a.id);
    assert.deepEqual(got.sort(), [makeAlert(51).id, makeAlert(52).id].sort());
    assert.ok(existsSync(join(dir, 'o', 'quarantine', name)), 'moved to the quarantine directory');
    assert.match(err.text(), new RegExp(`${name}.*quarantine.*2 alert deliveries recovered`));
    assert.deepEqual((await readdir(join(dir, 'o'))).filter((f) => f.startsWith('batch-')), []);
  });

  test('batch files of the earlier format (one JSON document) are still read; a damaged one is quarantined, not fatal', async () => {
    const dir = await tmp();
    await writeFile(join(dir, 'batch-00001700000000000-1-00000000-aaaaaa.json'), JSON.stringify({ version: 1, jobs: [{ sink: 's', alert: makeAlert(1) }, { sink: 's', alert: makeAlert(2) }] }));
    await writeFile(join(dir, 'batch-00001700000000001-1-00000001-bbbbbb.json'), JSON.stringify({ version: 1, jobs: [{ sink: 's', alert: makeAlert(3) }] }).slice(0, 40));
    const { outbox, recovered, quarantined } = await Outbox.open(dir);
    assert.deepEqual(recovered.map((j) => j.alert.id), [makeAlert(1).id, makeAlert(2).id]);
    assert.deepEqual(quarantined.map((q) => [q.file, q.recovered]), [['batch-00001700000000001-1-00000001-bbbbbb.json', 0]]);
    await outbox.close();
  });
});

describe('what the file system says, said clearly', () => {
  test('fsWriteError: a full disk, a quota, an I/O error or a vanished directory clear by themselves; permissions and read-only do not', async () => {
    const { fsWriteError } = await import('../../src/util/fsErrors.js');
    const { ConfigError } = await import('../../src/errors.js');
    const fsErr = (code: string) => Object.assign(new Error(`${code}: x`), { code });
    for (const code of ['ENOSPC', 'EDQUOT', 'EIO', 'ENOENT']) {
      const e = fsWriteError('cannot write to the outbox directory /o', fsErr(code));
      assert.ok(e instanceof TransientError, code);
      assert.match((e as Error).message, new RegExp(`^cannot write to the outbox directory /o: .*\\(${code}\\)$`));
    }
    for (const code of ['EACCES', 'EPERM', 'EROFS']) assert.ok(fsWriteError('w', fsErr(code)) instanceof ConfigError, code);
    const bug = new TypeError('a bug');
    assert.equal(fsWriteError('w', bug), bug, 'not the file system: kept as it is');
  });

  test('outbox status on an outbox holding something odd (a directory named like a batch): exit 2 naming it, not an internal error', async () => {
    const dir = await tmp();
    const { mkdir } = await import('node:fs/promises');
    await mkdir(join(dir, 'batch-00000000000001-1-00000000-aaaaaa.jsonl'));
    const r = await runCli(['outbox', 'status', '--outbox-dir', dir]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /cannot read .*batch-00000000000001-1-00000000-aaaaaa\.jsonl/);
    assert.doesNotMatch(r.stderr, /internal error/);
  });

  test('a dead-letter file whose last line was cut (a crash mid-append): the next dead letter is still readable', async () => {
    const dir = await tmp();
    const { outbox } = await Outbox.open(dir);
    try {
      await writeFile(join(dir, 'dead-letter.jsonl'), '{"time":"2026-01-01T00:00:00Z","sink":"s","attem');
      const job: OutboxJob = { batch: 'b', index: 0, sink: 'hook', alert: makeAlert(1), attempts: 3, notBefore: 0 };
      await outbox.deadLetter(job, 'HTTP 400');
    } finally {
      await outbox.close();
    }
    const status = await Outbox.inspect(dir);
    assert.deepEqual(status.deadLettered, { hook: 1 });
    assert.equal(status.unreadableDeadLetters, 1, 'the fragment is kept, as an unreadable line');
  });

  test('an outbox whose lock was taken over stops writing: no ack, no dead letter (the new holder owns its batches)', async () => {
    const dir = await tmp();
    const { outbox } = await Outbox.open(dir);
    const [job] = await outbox.append([{ sink: 'hook', alert: makeAlert(2) }]);
    // Another process takes the lock over (as a takeover of a stale lock would): this one must notice and stop.
    const lockFile = join(dir, '.lock');
    const held = JSON.parse(await readFile(lockFile, 'utf8')) as Record<string, unknown>;
    await writeFile(lockFile, JSON.stringify({ ...held, id: 'someone-else' }) + '\n');
    const lock = (outbox as unknown as { lock: { refresh(): Promise<void> } }).lock;
    await lock.refresh();
    await assert.rejects(outbox.ack([job!]), /taken over/);
    await assert.rejects(outbox.deadLetter(job!, 'x'), /taken over/);
    await assert.rejects(outbox.append([{ sink: 'hook', alert: makeAlert(3) }]), /taken over/);
    assert.ok(existsSync(join(dir, job!.batch)), 'the batch file is left to the new holder');
    await outbox.close();
  });
});
