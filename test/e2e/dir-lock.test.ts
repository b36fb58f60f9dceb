/**
 * One process per checkpoint directory and per outbox: a second one refuses to start, naming the holder; a lock
 * left by a process that is gone is taken over, and the log says so. Holders are real child processes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { FileCheckpointStore } from '../../src/consumer/FileCheckpointStore.js';
import { shortcutConfig } from '../../src/delivery/config.js';
import { DeliveryHandoff } from '../../src/delivery/DeliveryHandoff.js';
import { Outbox } from '../../src/delivery/Outbox.js';
import { ConfigError, DirLockedError } from '../../src/errors.js';
import { DirLock, LOCK_FILE } from '../../src/util/dirLock.js';
import { runCli } from '../support/cli.js';

const tmp = () => mkdtemp(join(tmpdir(), 'dasguard-lock-'));
const CP = new Map([['shardId-000000000000', { sequenceNumber: '42' }]]);

/** A child process holding `dir` as a checkpoint store or an outbox until its stdin ends. */
async function holder(kind: 'checkpoints' | 'outbox', dir: string): Promise<{ proc: ChildProcess; release: () => Promise<void> }> {
  const open =
    kind === 'checkpoints'
      ? "const { FileCheckpointStore } = await import('./src/consumer/FileCheckpointStore.ts'); const s = await FileCheckpointStore.open(dir);"
      : "const { Outbox } = await import('./src/delivery/Outbox.ts'); const s = (await Outbox.open(dir)).outbox;";
  const entry = `const dir = process.argv[1]; ${open} process.stdout.write('locked\\n'); process.stdin.resume(); process.stdin.on('end', async () => { await s.close(); process.exit(0); });`;
  const proc = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', entry, dir], { stdio: ['pipe', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('locked\n')) resolve();
    });
    proc.once('exit', (code) => reject(new Error(`the holder exited (${code}) before taking the lock`)));
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  return { proc, release: async () => void (proc.stdin!.end(), await exited) };
}

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const p = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => p.once('exit', resolve));
  return p.pid!;
}

async function writeLock(dir: string, h: { pid: number; host: string; startedAt?: string }, mtime?: Date): Promise<string> {
  const file = join(dir, LOCK_FILE);
  await writeFile(file, JSON.stringify({ startedAt: '2026-01-01T00:00:00.000Z', id: 'feedfacefeedface', ...h }) + '\n');
  if (mtime) await utimes(file, mtime, mtime);
  return file;
}

function names(dir: string, pid: number, started: string) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof DirLockedError, String(err));
    assert.ok(err.message.includes(dir), err.message);
    assert.ok(err.message.includes(`pid ${pid} on host ${hostname()}, since ${started}`), err.message);
    assert.equal(err.holder?.pid, pid);
    return true;
  };
}

test('a second checkpoint store on a directory another process holds is refused, naming pid, host and start time', async () => {
  const dir = await tmp();
  const h = await holder('checkpoints', dir);
  try {
    const lock = JSON.parse(await readFile(join(dir, LOCK_FILE), 'utf8')) as { pid: number; startedAt: string };
    assert.equal(lock.pid, h.proc.pid);
    await assert.rejects(FileCheckpointStore.open(dir), names(dir, h.proc.pid!, lock.startedAt));
    // a store made without open() takes the lock before its first write: it writes nothing either
    const late = new FileCheckpointStore(dir);
    await assert.rejects(late.save('s', CP), DirLockedError);
    assert.ok(!existsSync(join(dir, 's.json')));
  } finally {
    await h.release();
  }
  // released on close: the next store takes the directory
  const store = await FileCheckpointStore.open(dir);
  await store.save('s', CP);
  await store.close();
  assert.deepEqual(await readdir(dir), ['s.json']);
});

test('a second outbox on a directory another process holds is refused, naming the holder (and replay --config exits 2)', async () => {
  const dir = await tmp();
  const h = await holder('outbox', dir);
  try {
    const lock = JSON.parse(await readFile(join(dir, LOCK_FILE), 'utf8')) as { startedAt: string };
    await assert.rejects(Outbox.open(dir), names(dir, h.proc.pid!, lock.startedAt));
    await assert.rejects(DeliveryHandoff.open(shortcutConfig({ snsTopicArn: 'arn:aws:sns:eu-west-1:111122223333:t' }), { outboxDir: dir, stderr: new PassThrough() }), DirLockedError);
    const cfg = join(await tmp(), 'dasguard.yaml');
    await writeFile(cfg, 'sinks: {out: {type: console, stream: stderr}}\nroutes: [{name: all, sinks: [out], default: true}]\n');
    const r = await runCli(['replay', 'samples/plaintext', '--config', cfg, '--outbox-dir', dir]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`the outbox directory .*${dir.split('/').pop()!} is in use by another dasguard process \\(pid ${h.proc.pid} on host `));
    assert.equal(r.stdout, '');
  } finally {
    await h.release();
  }
});

test('in one process too, a directory is opened once', async () => {
  const dir = await tmp();
  const first = await FileCheckpointStore.open(dir);
  await assert.rejects(FileCheckpointStore.open(dir), /this process opened it twice/);
  await first.close();
  await (await FileCheckpointStore.open(dir)).close();
});

test('a lock left by a process that is gone is taken over, and the log says so', async () => {
  for (const kind of ['checkpoints', 'outbox'] as const) {
    const dir = await tmp();
    const pid = await deadPid();
    await writeLock(dir, { pid, host: hostname() });
    const log: string[] = [];
    if (kind === 'checkpoints') {
      const store = await FileCheckpointStore.open(dir, { log: (m) => log.push(m) });
      await store.save('s', CP);
      await store.close();
    } else {
      const { outbox } = await Outbox.open(dir, { log: (m) => log.push(m) });
      await outbox.close();
    }
    assert.equal(log.length, 1, kind);
    assert.match(log[0]!, new RegExp(`took over the lock of the (checkpoint|outbox) directory .*: its holder \\(pid ${pid} on host .*, since 2026-01-01T00:00:00.000Z\\) is not running`));
    assert.ok(!existsSync(join(dir, LOCK_FILE)), 'released on close');
  }
});

test('a lock with our own pid and host that this process does not hold (a restarted container) is taken over', async () => {
  const dir = await tmp();
  await writeLock(dir, { pid: process.pid, host: hostname() });
  const log: string[] = [];
  const lock = await DirLock.acquire(dir, { what: 'checkpoint', log: (m) => log.push(m) });
  assert.match(log.join('\n'), /had our pid: it was an earlier process/);
  await lock.release();
});

test('a lock from another host stands while it is refreshed, and is taken over once it is stale', async () => {
  const dir = await tmp();
  const now = Date.parse('2026-06-01T12:00:00Z');
  const file = await writeLock(dir, { pid: 4242, host: 'ip-10-0-0-9' }, new Date(now - 30_000));
  await assert.rejects(DirLock.acquire(dir, { what: 'checkpoint', now: () => now }), (err: unknown) => {
    assert.ok(err instanceof DirLockedError);
    assert.match(err.message, /pid 4242 on host ip-10-0-0-9, since 2026-01-01T00:00:00.000Z/);
    assert.match(err.message, /refreshed 30 s ago and is taken over once it goes unrefreshed for 120 s/);
    assert.ok(err.message.includes(`no dasguard on ip-10-0-0-9 uses the directory, remove ${file}`), err.message);
    return true;
  });
  await utimes(file, new Date(now - 121_000), new Date(now - 121_000));
  const log: string[] = [];
  const lock = await DirLock.acquire(dir, { what: 'checkpoint', now: () => now, log: (m) => log.push(m) });
  assert.match(log[0]!, /pid 4242 on host ip-10-0-0-9.*has not refreshed it for 121 s \(stale after 120 s\)/);
  await lock.release();
});

test('a holder whose lock was taken over stops writing', async () => {
  const dir = await tmp();
  const lost: ConfigError[] = [];
  const store = new FileCheckpointStore(dir);
  const lock = await store.lock();
  await store.save('s', CP);
  // another host judged it stale (this process was paused) and took it
  await writeLock(dir, { pid: 4242, host: 'ip-10-0-0-9' });
  const watched = await DirLock.acquire(await tmp(), { what: 'outbox', onLost: (e) => lost.push(e) });
  await writeLock(watched.dir, { pid: 4243, host: 'ip-10-0-0-8' });
  await watched.refresh();
  assert.match(lost[0]?.message ?? '', /the lock of the outbox directory .* was taken over by pid 4243 on host ip-10-0-0-8/);
  await lock.refresh();
  await assert.rejects(store.save('s', new Map([['shardId-000000000000', { sequenceNumber: '43' }]])), /was taken over by pid 4242 on host ip-10-0-0-9/);
  assert.match(await readFile(join(dir, 's.json'), 'utf8'), /"42"/);
  await store.close();
  assert.ok(existsSync(join(dir, LOCK_FILE)), "the new holder's lock is left alone");
  await watched.release();
});
