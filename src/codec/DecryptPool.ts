/**
 * An opt-in pool of worker threads for the CPU-heavy part of decoding a record: ESDK payload decryption (signature
 * verification dominates) and gunzip. The main thread keeps the rest: data-key fetching (the KMS cache is shared),
 * JSON parsing and normalisation. Callers commit results in their own order (drive() and the shard reader do), so
 * the pool may finish jobs in any order.
 *
 * - `decrypt(message, dataKey)` -> the decrypted, gunzipped payload bytes; the same PoisonRecordError (reason and
 *   message) as the main-thread path for a bad record. Neither argument is modified: the worker gets its own copies
 *   (the data key copy is zeroed there after use).
 * - Bounded: at most `maxQueued` jobs wait for a worker; further callers wait for room (backpressure).
 * - A worker that dies mid-job is replaced; its job fails with a TransientError (retried by withRetry), never dropped.
 * - `close()` terminates the workers; jobs still queued or running fail with a TransientError.
 */
import { Worker } from 'node:worker_threads';
import { PoisonRecordError, TransientError, type PoisonReason } from '../errors.js';

/** Main thread -> worker. `message` and `dataKey` are fresh copies whose memory is transferred. */
export interface DecryptJob {
  id: number;
  message: Uint8Array;
  dataKey: Uint8Array;
}

/** Worker -> main thread. */
export type DecryptReply =
  | { id: number; ok: true; plaintext: Uint8Array }
  | { id: number; ok: false; poison: true; reason: PoisonReason; message: string }
  | { id: number; ok: false; poison: false; name: string; message: string };

export interface DecryptPoolOptions {
  /** Number of worker threads (at least 1). */
  workers: number;
  /** Jobs allowed to wait for a free worker before callers wait for room. Default 4 per worker. */
  maxQueued?: number;
  /** The worker module. Default: decryptWorker next to this file (.ts under tsx, .js once compiled). */
  workerUrl?: URL;
}

interface Job {
  id: number;
  message: Uint8Array;
  dataKey: Uint8Array;
  resolve: (plaintext: Uint8Array) => void;
  reject: (err: Error) => void;
}

interface Slot {
  worker: Worker;
  job?: Job;
}

/** decryptWorker.ts under tsx (this file is .ts), decryptWorker.js in dist/. */
export function defaultWorkerUrl(): URL {
  const ext = new URL(import.meta.url).pathname.endsWith('.ts') ? '.ts' : '.js';
  return new URL(`./decryptWorker${ext}`, import.meta.url);
}

export class DecryptPool {
  readonly size: number;
  private readonly maxQueued: number;
  private readonly workerUrl: URL;
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private readonly roomWaiters: Array<() => void> = [];
  private nextId = 1;
  private closed = false;
  private replaced = 0;

  constructor(opts: DecryptPoolOptions) {
    if (!Number.isInteger(opts.workers) || opts.workers < 1) throw new RangeError(`DecryptPool needs at least 1 worker; got ${opts.workers}`);
    this.size = opts.workers;
    this.maxQueued = opts.maxQueued ?? 4 * opts.workers;
    this.workerUrl = opts.workerUrl ?? defaultWorkerUrl();
    for (let i = 0; i < this.size; i++) this.slots.push(this.spawn());
  }

  /** Workers started to replace ones that died. */
  get workersReplaced(): number {
    return this.replaced;
  }

  /** Decrypts an ESDK message with a data key and gunzips the plaintext, in a worker. */
  async decrypt(message: Uint8Array, dataKey: Uint8Array): Promise<Uint8Array> {
    while (!this.closed && this.queue.length >= this.maxQueued) {
      await new Promise<void>((resolve) => this.roomWaiters.push(resolve));
    }
    if (this.closed) throw new TransientError('decrypt pool is closed');
    return new Promise<Uint8Array>((resolve, reject) => {
      this.queue.push({ id: this.nextId++, message: new Uint8Array(message), dataKey: new Uint8Array(dataKey), resolve, reject });
      this.dispatch();
    });
  }

  /** Terminates the workers. Jobs not finished fail with a TransientError. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const pending = [...this.queue.splice(0), ...this.slots.flatMap((s) => (s.job ? [s.job] : []))];
    for (const s of this.slots) s.job = undefined;
    for (const job of pending) this.fail(job, new TransientError('decrypt pool closed before the record was decrypted'));
    for (const wake of this.roomWaiters.splice(0)) wake();
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  private spawn(): Slot {
    const worker = this.workerUrl.pathname.endsWith('.ts')
      ? // Under tsx (tests, bench): on Node 20 the `--import tsx` a worker inherits does not make its loader hooks
        // apply to the worker's modules, so a .ts entry fails to load; a bootstrap registers tsx, then imports it.
        new Worker(
          `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))})` +
            `.then(({ register }) => { register(); return import(${JSON.stringify(this.workerUrl.href)}); });`,
          { eval: true },
        )
      : new Worker(this.workerUrl);
    const slot: Slot = { worker };
    worker.on('message', (reply: DecryptReply) => this.onReply(slot, reply));
    worker.on('error', (err) => this.onDeath(slot, err));
    worker.on('exit', (code) => this.onDeath(slot, new Error(`exited with code ${code}`)));
    return slot;
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (this.queue.length === 0) break;
      if (slot.job) continue;
      const job = this.queue.shift()!;
      slot.job = job;
      const msg: DecryptJob = { id: job.id, message: job.message, dataKey: job.dataKey };
      slot.worker.postMessage(msg, [job.message.buffer as ArrayBuffer, job.dataKey.buffer as ArrayBuffer]);
      this.roomWaiters.shift()?.();
    }
  }

  private onReply(slot: Slot, reply: DecryptReply): void {
    const job = slot.job;
    if (!job || job.id !== reply.id) return; // the job was already failed (close); nothing waits for it
    slot.job = undefined;
    if (reply.ok) job.resolve(reply.plaintext);
    else if (reply.poison) job.reject(new PoisonRecordError(reply.reason, reply.message));
    else job.reject(Object.assign(new Error(`decrypt worker: ${reply.message}`), { name: reply.name }));
    this.dispatch();
  }

  /** 'error' then 'exit' both arrive for an uncaught exception: the first one replaces the worker. */
  private onDeath(slot: Slot, err: Error): void {
    if (this.closed) return;
    const i = this.slots.indexOf(slot);
    if (i === -1) return;
    const job = slot.job;
    slot.job = undefined;
    slot.worker.removeAllListeners();
    slot.worker.on('error', () => undefined); // already reported through the job (if any); the worker is gone
    void slot.worker.terminate();
    this.slots[i] = this.spawn();
    this.replaced++;
    if (job) this.fail(job, new TransientError(`decrypt worker died while decrypting a record (${err.message}); retrying`, { cause: err }));
    this.dispatch();
  }

  private fail(job: Job, err: Error): void {
    if (job.dataKey.byteLength > 0) job.dataKey.fill(0); // not yet transferred to a worker
    job.reject(err);
  }
}
