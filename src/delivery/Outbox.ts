/**
 * The durable outbox: one file per handed-off batch (written to a temporary name, fsync'ed, renamed, directory
 * fsync'ed) and an append-only ack log. A batch file is removed once every (alert, sink) job in it is acked;
 * on open, unacked jobs come back. At-least-once: an ack lost in a crash means one duplicate, with the same id.
 */
import { randomBytes } from 'node:crypto';
import { open, readdir, readFile, rename, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '../errors.js';
import { syncDir } from '../util/atomicFile.js';
import { DirLock } from '../util/dirLock.js';
import type { DeliveredAlert } from './types.js';

export interface OutboxJob {
  /** Batch file name. */
  batch: string;
  index: number;
  sink: string;
  alert: DeliveredAlert;
  /** Attempts in this process (not persisted: a restart starts counting again). */
  attempts: number;
  /** Epoch ms before which the job is not retried. */
  notBefore: number;
}

interface BatchFile {
  version: 1;
  jobs: { sink: string; alert: DeliveredAlert }[];
}

const ACK_LOG = 'acks.log';
export const DEAD_LETTER_FILE = 'dead-letter.jsonl';

export class Outbox {
  private seq = 0;
  private readonly remaining = new Map<string, number>();
  private ackHandle: FileHandle | undefined;
  private ackChain: Promise<void> = Promise.resolve();
  private deadChain: Promise<void> = Promise.resolve();

  private constructor(
    readonly dir: string,
    /** One process per outbox (src/util/dirLock.ts): two would deliver, ack and delete each other's batches. */
    private readonly lock: DirLock,
  ) {}

  /**
   * Opens (creating with mode 0700) the outbox and takes its lock (DirLockedError when another process has it;
   * `log` hears of a stale lock taken over); returns it with the jobs a previous run left unsent.
   */
  static async open(dir: string, opts: { log?: (message: string) => void } = {}): Promise<{ outbox: Outbox; recovered: OutboxJob[] }> {
    // DirLock creates the directory (mode 0700) when it is missing.
    const outbox = new Outbox(dir, await DirLock.acquire(dir, { what: 'outbox', ...opts }));
    try {
      const recovered = await outbox.recover();
      outbox.ackHandle = await open(join(dir, ACK_LOG), 'a', 0o600);
      return { outbox, recovered };
    } catch (err) {
      await outbox.lock.release();
      throw err;
    }
  }

  get deadLetterPath(): string {
    return join(this.dir, DEAD_LETTER_FILE);
  }

  /** Jobs not yet acked. */
  get pending(): number {
    let n = 0;
    for (const r of this.remaining.values()) n += r;
    return n;
  }

  private async recover(): Promise<OutboxJob[]> {
    const names = (await readdir(this.dir)).sort();
    for (const n of names) if (n.endsWith('.tmp')) await unlink(join(this.dir, n)); // never renamed: never acknowledged to the caller
    const acked = new Set<string>();
    let ackText = '';
    try {
      ackText = await readFile(join(this.dir, ACK_LOG), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    for (const line of ackText.split('\n')) {
      const [batch, index] = line.split(' ');
      if (batch && index) acked.add(`${batch} ${index}`);
    }
    const jobs: OutboxJob[] = [];
    const live: string[] = [];
    for (const name of names.filter((n) => n.startsWith('batch-') && n.endsWith('.json'))) {
      let file: BatchFile;
      try {
        file = JSON.parse(await readFile(join(this.dir, name), 'utf8')) as BatchFile;
      } catch (err) {
        throw new ConfigError(`outbox file ${join(this.dir, name)} cannot be read (${(err as Error).message}): move it out of the outbox to continue; its alerts may not have been delivered`, { cause: err });
      }
      let left = 0;
      file.jobs.forEach((j, index) => {
        if (acked.has(`${name} ${index}`)) return;
        left++;
        jobs.push({ batch: name, index, sink: j.sink, alert: j.alert, attempts: 0, notBefore: 0 });
      });
      if (left === 0) await unlink(join(this.dir, name));
      else {
        this.remaining.set(name, left);
        live.push(name);
      }
    }
    // Compact the ack log: keep the lines of batches still present.
    const keep = ackText.split('\n').filter((l) => live.includes(l.split(' ')[0] ?? ''));
    const tmp = join(this.dir, `${ACK_LOG}.${process.pid}.tmp`);
    await writeFile(tmp, keep.length ? keep.join('\n') + '\n' : '', { mode: 0o600 });
    await rename(tmp, join(this.dir, ACK_LOG));
    return jobs;
  }

  /** Persists the jobs (one file, fsync'ed) and returns them; resolves only once they are on disk. */
  async append(items: readonly { sink: string; alert: DeliveredAlert }[]): Promise<OutboxJob[]> {
    if (items.length === 0) return [];
    this.lock.assertHeld();
    const name = `batch-${Date.now().toString().padStart(14, '0')}-${process.pid}-${String(this.seq++).padStart(8, '0')}-${randomBytes(3).toString('hex')}.json`;
    const tmp = join(this.dir, `${name}.tmp`);
    const body: BatchFile = { version: 1, jobs: items.map((i) => ({ sink: i.sink, alert: i.alert })) };
    const fh = await open(tmp, 'wx', 0o600);
    try {
      await fh.writeFile(JSON.stringify(body));
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, join(this.dir, name));
    await syncDir(this.dir);
    this.remaining.set(name, items.length);
    return items.map((i, index) => ({ batch: name, index, sink: i.sink, alert: i.alert, attempts: 0, notBefore: 0 }));
  }

  /** Records that a job is done (delivered or dead-lettered); removes its batch file when the batch is done. */
  ack(jobs: readonly OutboxJob[]): Promise<void> {
    const run = async () => {
      if (!this.ackHandle) throw new Error('outbox is closed');
      await this.ackHandle.appendFile(jobs.map((j) => `${j.batch} ${j.index}\n`).join(''));
      for (const j of jobs) {
        const left = (this.remaining.get(j.batch) ?? 1) - 1;
        if (left > 0) this.remaining.set(j.batch, left);
        else {
          this.remaining.delete(j.batch);
          await unlink(join(this.dir, j.batch));
        }
      }
    };
    const p = this.ackChain.then(run);
    this.ackChain = p.catch(() => undefined); // the caller gets the error from `p`; the chain goes on
    return p;
  }

  /** Appends to dead-letter.jsonl (mode 0600) and fsyncs. */
  deadLetter(job: OutboxJob, error: string): Promise<void> {
    const run = async () => {
      const fh = await open(this.deadLetterPath, 'a', 0o600);
      try {
        await fh.appendFile(JSON.stringify({ time: new Date().toISOString(), sink: job.sink, attempts: job.attempts, error, alert: job.alert }) + '\n');
        await fh.sync();
      } finally {
        await fh.close();
      }
    };
    const p = this.deadChain.then(run);
    this.deadChain = p.catch(() => undefined);
    return p;
  }

  async close(): Promise<void> {
    await this.ackChain;
    await this.deadChain;
    const h = this.ackHandle;
    this.ackHandle = undefined;
    if (h) {
      await h.sync();
      await h.close();
    }
    await this.lock.release();
  }
}

