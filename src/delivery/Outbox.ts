/**
 * The durable outbox, one directory:
 * - `batch-….jsonl`: one file per handed-off batch (batchFile.ts), written to a temporary name, fsync'ed,
 *   renamed, directory fsync'ed; removed once every (alert, sink) job in it is acked. On open, unacked jobs
 *   come back. At-least-once: an ack lost in a crash means one duplicate, with the same id.
 * - `acks.log`: one line `batch index` per job done (delivered or dead-lettered); compacted at open and whenever
 *   it grows past a bound. A failed append is cut back off, and only whole lines count, so a full disk or a crash
 *   mid-write never acks the wrong job.
 * - `dead-letter.jsonl`: jobs that failed for good; `resend` moves them back.
 * - `quarantine/`: batch files found damaged at open, each with `<file>.done.json` (the jobs already acked or
 *   re-queued from it); their readable unacked jobs are re-queued at once.
 * Every write failure of the file system (a full disk, a vanished directory) is a TransientError naming the
 * directory: the caller retries, nothing is lost. This file writes them (util/atomicFile.ts replaceFile for whole
 * files); outboxFiles.ts reads them back, also for `outbox status`. A little over 400 lines, on purpose: the
 * writers of one directory's format, each with the crash and full-disk case it must survive, kept side by side;
 * they share the class's private state (the open ack log and its size, the jobs left per batch, the write chains
 * that order appends), which a split would have to expose to another file.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { TransientError } from '../errors.js';
import { isTemporaryFile, replaceFile, syncDir, writeFileAtomic } from '../util/atomicFile.js';
import { DirLock } from '../util/dirLock.js';
import { fsErrorText, fsWriteError } from '../util/fsErrors.js';
import { isBatchFile, parseBatch, writeBatch, type BatchContent, type BatchJob } from './batchFile.js';
import {
  ACK_LOG,
  DEAD_LETTER_FILE,
  DONE_SUFFIX,
  QUARANTINE_DIR,
  inspectOutbox,
  parseAcks,
  readDeadLetters,
  readIfPresent,
  readQuarantine,
  unreadable,
  type DeadLetter,
  type OutboxStatus,
} from './outboxFiles.js';
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

export interface OutboxOptions {
  /** Ack log lines beyond which it is compacted while open (default 10,000, about 700 KB). */
  ackLogLimit?: number;
  /** Where a stale lock taken over (and a lock refresh failure) is said. */
  log?: (message: string) => void;
}

/** A batch file found damaged at open and moved to `quarantine/`. */
export interface QuarantinedBatch {
  file: string;
  /** Its readable, unacked jobs, re-queued. */
  recovered: number;
  /** What is wrong with it. */
  damage: string;
}

export interface ResendResult {
  /** The jobs re-queued (to hand to the dispatcher). */
  jobs: OutboxJob[];
  fromDeadLetters: number;
  fromQuarantine: number;
  /** Dead letters and quarantined jobs left where they were (not chosen). */
  kept: number;
}

const DEFAULT_ACK_LOG_LIMIT = 10_000;

// What the outbox's files are named and hold is read back in outboxFiles.ts; its callers know them from here.
export { DEAD_LETTER_FILE, QUARANTINE_DIR, type DeadLetter, type OutboxStatus };

export class Outbox {
  private seq = 0;
  /** Per live batch: jobs not yet acked, and the indices acked (what a compacted ack log keeps). */
  private readonly remaining = new Map<string, number>();
  private readonly acked = new Map<string, number[]>();
  private liveAcked = 0;
  private ackHandle: FileHandle | undefined;
  /** Bytes of the ack log known to be whole lines; beyond, a failed append may have left a fragment. */
  private ackSize = 0;
  private ackTorn = false;
  private ackLines = 0;
  private closed = false;
  private ackChain: Promise<void> = Promise.resolve();
  private deadChain: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly dir: string,
    private readonly ackLogLimit: number,
    /** One process per outbox (src/util/dirLock.ts): two would deliver, ack and delete each other's batches. */
    private readonly lock: DirLock,
    private readonly log: ((message: string) => void) | undefined,
  ) {}

  /**
   * Opens (creating with mode 0700) the outbox and takes its lock (DirLockedError when another process has it);
   * returns it with the jobs a previous run left unsent (those of damaged batch files included) and the damaged
   * files it quarantined.
   */
  static async open(dir: string, opts: OutboxOptions = {}): Promise<{ outbox: Outbox; recovered: OutboxJob[]; quarantined: QuarantinedBatch[] }> {
    // DirLock creates the directory (mode 0700) when it is missing.
    const lock = await DirLock.acquire(dir, { what: 'outbox', ...(opts.log ? { log: opts.log } : {}) });
    const outbox = new Outbox(dir, opts.ackLogLimit ?? DEFAULT_ACK_LOG_LIMIT, lock, opts.log);
    try {
      const { recovered, quarantined } = await outbox.recover();
      return { outbox, recovered, quarantined };
    } catch (err) {
      await lock.release();
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

  private async recover(): Promise<{ recovered: OutboxJob[]; quarantined: QuarantinedBatch[] }> {
    const names = (await readdir(this.dir).catch((err: unknown) => Promise.reject(unreadable(this.dir, err)))).sort();
    // Never renamed: never acknowledged to the caller (`.tmp`: left by releases before util/atomicFile.ts named them).
    for (const n of names) if (isTemporaryFile(n) || n.endsWith('.tmp')) await unlink(join(this.dir, n));
    const ackText = await readIfPresent(join(this.dir, ACK_LOG)).catch((err: unknown) => Promise.reject(unreadable(join(this.dir, ACK_LOG), err)));
    const ackedBy = parseAcks(ackText);
    const jobs: OutboxJob[] = [];
    const quarantined: QuarantinedBatch[] = [];
    const present = new Set(names);
    for (const name of names.filter(isBatchFile)) {
      const path = join(this.dir, name);
      const content = parseBatch(name, await readFile(path, 'utf8').catch((err: unknown) => Promise.reject(unreadable(path, err))));
      const done = ackedBy.get(name) ?? new Set<number>();
      const unacked = content.jobs.filter((j) => !done.has(j.index));
      if (content.damage !== undefined) {
        const q = await this.quarantine(name, content, done, unacked, present);
        jobs.push(...q.jobs);
        quarantined.push(q.report);
        continue;
      }
      if (unacked.length === 0) {
        await unlink(join(this.dir, name));
        continue;
      }
      this.track(name, unacked.length, content.jobs.filter((j) => done.has(j.index)).map((j) => j.index));
      for (const { index, job } of unacked) jobs.push({ batch: name, index, sink: job.sink, alert: job.alert, attempts: 0, notBefore: 0 });
    }
    try {
      await this.compact();
    } catch (err) {
      if (!(unavailable(this.dir, err) instanceof TransientError)) throw err; // only a full disk is waited out here
      this.#said('cannot compact the ack log at open (it is appended to as it is)', err);
      // A full disk: keep the ack log as it is, and append after its last whole line.
      this.ackHandle = await open(join(this.dir, ACK_LOG), 'a', 0o600).catch((err: unknown) => {
        throw unavailable(this.dir, err);
      });
      const whole = ackText.lastIndexOf('\n') + 1;
      this.ackSize = Buffer.byteLength(ackText.slice(0, whole));
      this.ackTorn = whole < ackText.length;
      this.ackLines = ackText.slice(0, whole).split('\n').length - 1;
    }
    return { recovered: jobs, quarantined };
  }

  /**
   * Moves a damaged batch file to quarantine/ after re-queueing its readable unacked jobs in `<name>-r.jsonl`
   * (written once: a crash before the move finds it at the next open, sorted before the damaged file).
   */
  private async quarantine(
    name: string,
    content: BatchContent,
    acked: ReadonlySet<number>,
    unacked: BatchContent['jobs'],
    present: ReadonlySet<string>,
  ): Promise<{ jobs: OutboxJob[]; report: QuarantinedBatch }> {
    const jobs: OutboxJob[] = [];
    const recovery = name.replace(/\.jsonl?$/, '-r.jsonl');
    if (unacked.length > 0 && !present.has(recovery)) {
      jobs.push(...(await this.writeJobs(recovery, unacked.map((u) => u.job))));
    }
    const qdir = join(this.dir, QUARANTINE_DIR);
    try {
      await mkdir(qdir, { recursive: true, mode: 0o700 });
      const done = [...new Set([...acked, ...unacked.map((u) => u.index)])].sort((a, b) => a - b);
      await writeFileAtomic(join(qdir, name + DONE_SUFFIX), JSON.stringify({ version: 1, file: name, damage: content.damage, expected: content.expected ?? null, done }) + '\n');
      await rename(join(this.dir, name), join(qdir, name));
      await syncDir(this.dir);
    } catch (err) {
      throw unavailable(this.dir, err);
    }
    return { jobs, report: { file: name, recovered: unacked.length, damage: content.damage! } };
  }

  private track(batch: string, remaining: number, acked: number[]): void {
    this.remaining.set(batch, remaining);
    this.acked.set(batch, acked);
    this.liveAcked += acked.length;
  }

  /** Persists the jobs (one file, fsync'ed) and returns them; resolves only once they are on disk. */
  async append(items: readonly BatchJob[]): Promise<OutboxJob[]> {
    if (items.length === 0) return [];
    this.lock.assertHeld();
    return this.writeJobs(this.newBatchName(), items);
  }

  private newBatchName(tag = ''): string {
    return `batch-${Date.now().toString().padStart(14, '0')}-${process.pid}-${String(this.seq++).padStart(8, '0')}-${tag || randomBytes(3).toString('hex')}.jsonl`;
  }

  private async writeJobs(name: string, items: readonly BatchJob[]): Promise<OutboxJob[]> {
    try {
      await replaceFile(join(this.dir, name), (fh) => writeBatch(fh, items));
      await syncDir(this.dir);
    } catch (err) {
      throw unavailable(this.dir, err);
    }
    this.track(name, items.length, []);
    return items.map((i, index) => ({ batch: name, index, sink: i.sink, alert: i.alert, attempts: 0, notBefore: 0 }));
  }

  /**
   * Records that jobs are done (delivered or dead-lettered); removes a batch file when its batch is done. Rejects
   * (a TransientError) only when the ack could not be written, and then changed nothing: retrying is safe.
   */
  ack(jobs: readonly OutboxJob[]): Promise<void> {
    const run = async () => {
      await this.appendAcks(jobs.map((j) => `${j.batch} ${j.index}\n`).join(''));
      this.ackLines += jobs.length;
      for (const j of jobs) {
        const left = (this.remaining.get(j.batch) ?? 1) - 1;
        if (left > 0) {
          this.remaining.set(j.batch, left);
          this.acked.get(j.batch)?.push(j.index);
          this.liveAcked++;
          continue;
        }
        this.liveAcked -= this.acked.get(j.batch)?.length ?? 0;
        this.remaining.delete(j.batch);
        this.acked.delete(j.batch);
        // Fully acked: a file that cannot be removed now is removed at the next open.
        await unlink(join(this.dir, j.batch)).catch((err: unknown) => this.#said(`cannot remove the delivered batch ${j.batch} (removed at the next open)`, err));
      }
      // Bounded while running: keep the lines of live batches only (best effort; the next ack tries again).
      if (this.ackLines > this.ackLogLimit && this.ackLines > 2 * this.liveAcked) await this.compact().catch((err: unknown) => this.#said('cannot compact the ack log now (tried again at the next ack)', err));
    };
    const p = this.ackChain.then(run);
    this.ackChain = p.catch(() => undefined); // the caller gets the error from `p`; the chain goes on
    return p;
  }

  private async appendAcks(text: string): Promise<void> {
    const h = this.ackHandle;
    if (!h || this.closed) throw new Error('outbox is closed');
    this.lock.assertHeld(); // another process took the outbox over: its batches are not ours to ack or remove
    try {
      if (this.ackTorn) {
        await h.truncate(this.ackSize);
        this.ackTorn = false;
      }
      await h.appendFile(text);
      this.ackSize += Buffer.byteLength(text);
    } catch (err) {
      this.ackTorn = true; // part of `text` may be in the file: cut it off before the next append
      throw unavailable(this.dir, err);
    }
  }

  /**
   * Rewrites the ack log with the lines of live batches: a new file opened for appending, renamed over the old
   * one. Until the rename nothing changes, so a failure (a full disk) leaves the old log in use.
   */
  private async compact(): Promise<void> {
    const lines: string[] = [];
    for (const [batch, indices] of this.acked) for (const i of indices) lines.push(`${batch} ${i}\n`);
    const text = lines.join('');
    let fh: FileHandle;
    try {
      fh = await replaceFile(join(this.dir, ACK_LOG), (h) => (text !== '' ? h.appendFile(text) : Promise.resolve()), { keepOpen: true });
    } catch (err) {
      throw unavailable(this.dir, err);
    }
    // The rename happened; its durability is best effort here (a lost compaction only means a longer ack log).
    await syncDir(this.dir).catch((err: unknown) => this.#said('cannot sync the outbox directory after compacting the ack log', err));
    const old = this.ackHandle;
    this.ackHandle = fh;
    this.ackSize = Buffer.byteLength(text);
    this.ackTorn = false;
    this.ackLines = lines.length;
    await old?.close().catch(() => undefined);
  }

  /** Appends to dead-letter.jsonl (mode 0600) and fsyncs; a failed write is cut back off (safe to retry). */
  deadLetter(job: OutboxJob, error: string): Promise<void> {
    const line = JSON.stringify({ time: new Date().toISOString(), sink: job.sink, attempts: job.attempts, error, alert: job.alert }) + '\n';
    const run = async () => {
      this.lock.assertHeld();
      let fh: FileHandle | undefined;
      try {
        fh = await open(this.deadLetterPath, 'a+', 0o600);
        const { size } = await fh.stat();
        // A crash mid-append (or a cut that failed) may have left a line without its newline: end it first, so
        // this entry stays readable (the fragment is counted as an unreadable line, kept as it is).
        const last = Buffer.alloc(1);
        const torn = size > 0 && (await fh.read(last, 0, 1, size - 1)).bytesRead === 1 && last[0] !== 0x0a;
        try {
          await fh.appendFile(torn ? `\n${line}` : line);
          await fh.sync();
        } catch (err) {
          await fh.truncate(size).catch(() => undefined);
          throw err;
        }
      } catch (err) {
        throw unavailable(this.dir, err);
      } finally {
        await fh?.close().catch(() => undefined);
      }
    };
    const p = this.deadChain.then(run);
    this.deadChain = p.catch(() => undefined);
    return p;
  }

  /**
   * Moves dead letters, and the readable quarantined jobs not yet acked or re-queued, back into the outbox as
   * one batch file. `choose` gives the job to queue for each (its sink, maybe another one; its alert, maybe
   * redacted again), or undefined to leave it where it is. The batch is written before the dead-letter file and
   * the quarantine records are updated, and is named after its content: a crash in between finds it again.
   */
  resend(choose: (entry: DeadLetter) => BatchJob | undefined): Promise<ResendResult> {
    const run = async (): Promise<ResendResult> => {
      const dead = await readDeadLetters(this.deadLetterPath);
      const items: BatchJob[] = [];
      const keep: string[] = [...dead.unreadable];
      for (const e of dead.entries) {
        const job = choose(e.entry);
        if (job) items.push(job);
        else keep.push(e.text);
      }
      const fromDeadLetters = items.length;
      const quarantined = await readQuarantine(this.dir);
      const moved = new Map<string, number[]>();
      let keptQuarantined = 0;
      for (const q of quarantined) {
        for (const { index, job } of q.content.jobs) {
          if (q.done.has(index)) continue;
          const chosen = choose(job);
          if (!chosen) {
            keptQuarantined++;
            continue;
          }
          items.push(chosen);
          moved.set(q.file, [...(moved.get(q.file) ?? []), index]);
        }
      }
      const result: ResendResult = { jobs: [], fromDeadLetters, fromQuarantine: items.length - fromDeadLetters, kept: keep.length - dead.unreadable.length + keptQuarantined };
      if (items.length === 0) return result;
      const tag = `resend-${createHash('sha256').update(JSON.stringify(items)).digest('hex').slice(0, 12)}`;
      const written = (await readdir(this.dir).catch((err: unknown) => Promise.reject(unreadable(this.dir, err)))).some((n) => n.endsWith(`-${tag}.jsonl`));
      // Already written by a resend that stopped before the step below: it was resumed at open.
      if (!written) result.jobs = await this.writeJobs(this.newBatchName(tag), items);
      try {
        if (fromDeadLetters > 0) await writeFileAtomic(this.deadLetterPath, keep.map((l) => l + '\n').join(''));
        for (const q of quarantined) {
          const indices = moved.get(q.file);
          if (!indices) continue;
          const done = [...new Set([...q.done, ...indices])].sort((a, b) => a - b);
          await writeFileAtomic(join(this.dir, QUARANTINE_DIR, q.file + DONE_SUFFIX), JSON.stringify({ ...q.record, version: 1, file: q.file, done }) + '\n');
        }
      } catch (err) {
        throw unavailable(this.dir, err);
      }
      return result;
    };
    const p = this.deadChain.then(run);
    this.deadChain = p.catch(() => undefined);
    return p;
  }

  async close(): Promise<void> {
    await this.ackChain;
    await this.deadChain;
    this.closed = true;
    const h = this.ackHandle;
    this.ackHandle = undefined;
    try {
      if (h) {
        // A lost ack means one duplicate delivery (same id), never a lost alert: say so and go on closing.
        await h.sync().catch((err: unknown) => this.#said(`could not sync ${join(this.dir, ACK_LOG)} (some deliveries may be repeated after a restart)`, err));
        await h.close();
      }
    } finally {
      await this.lock.release();
    }
  }

  /** A failure that changes nothing for delivery, said rather than swallowed. */
  #said(what: string, err: unknown): void {
    this.log?.(`${what}: ${fsErrorText(err)}`);
  }

  /** What an outbox directory holds, read without opening it (no lock, nothing written): `dasguard outbox status`. */
  static inspect(dir: string): Promise<OutboxStatus> {
    return inspectOutbox(dir);
  }
}

/** A write the file system refused: the error naming the outbox directory (src/util/fsErrors.ts decides its class). */
export function unavailable(dir: string, err: unknown): unknown {
  return fsWriteError(`cannot write to the outbox directory ${dir}`, err);
}
