/**
 * `--workers N`: a pool of worker threads for the CPU-heavy part of a record's path. The main thread keeps what
 * needs its state or its order: reading the input, the envelope, the data key (one KMS cache for all), and after the
 * pool, in record order, the MySQL statement joins, the correlation rules (windows, first-seen), suppression and
 * delivery. The workers do the rest (recordWorker.ts):
 *
 * - `process(sealed, position, rules, redaction)` -> the record's outcome, as processRecord gives it on the main
 *   thread: decrypt, gunzip, JSON, normalise, the stateless rules with their alerts (ids, messages, redaction) and the
 *   correlation base events; the batch's events stay in the worker unless `rules` is undefined (decode). The rule set
 *   must have its `sources` (what a worker compiles it from; a hot reload sends the new set before the first record
 *   pinned to it). With `render` (decode), the lines decode prints come back instead of the events. The same PoisonRecordError (reason, message, an encrypted record's) as the main-thread path.
 * - `decrypt(message, dataKey)` -> the decrypted, gunzipped payload bytes (for a rule set built in code).
 *
 * Neither call modifies its arguments: the worker gets copies whose memory is transferred, not cloned (the data key
 * copy is zeroed there after use). Callers commit results in their own order (the record driver does), so the pool
 * may finish jobs in any order. Bounded: at most `maxQueued` jobs wait for a worker; further callers wait for room.
 * Each worker is sent up to `perWorker` jobs before it answers, so it never idles while the main thread is busy.
 *
 * Starting: a worker says 'up' once its module loaded and 'compiled' once it holds a rule set (compiled from the
 * main thread's parse of the files, not parsed again: src/config/yamlTree.ts keepParse). Until one does, `ready()`
 * is false and processRecord runs the record on the main thread: the start of the workers costs no wall time.
 *
 * Failures: a worker that dies with jobs is replaced (with the rule sets the others hold); each of its jobs fails with
 * a TransientError (retried by withRetry), never dropped. Workers that die before they are up MAX_START_FAILURES
 * times in a row are not replaced again: the pool is broken, every job and call fails with why (not transient).
 * `close()` terminates the workers; jobs still queued or running fail with a TransientError.
 */
import { Worker } from 'node:worker_threads';
import { PoisonRecordError, TransientError } from '../../errors.js';
import type { SealedPayload } from '../../codec/decode.js';
import type { RuleSet } from '../../rules/types.js';
import type { RecordPosition } from '../../types.js';
import type { Redaction } from '../alert.js';
import type { DecodeRendering } from '../decodedLines.js';
import type { RecordOutcome, RecordWorkers } from '../processRecord.js';
import { keptParse } from '../../config/yamlTree.js';
import { fromWire, type WireOutcome, type WorkerReply, type WorkerRequest } from './wire.js';

export interface RecordPoolOptions {
  /** Number of worker threads (at least 1). */
  workers: number;
  /** Jobs allowed to wait for a free worker before callers wait for room. Default 4 per worker. */
  maxQueued?: number;
  /**
   * Jobs sent to one worker before it answers the first (default PER_WORKER): the next job waits in the worker's own
   * port, so a worker never idles while the main thread is busy with something else (the correlations, the output).
   */
  perWorker?: number;
  /** The worker module. Default: recordWorker next to this file (.ts under tsx, .js once compiled). */
  workerUrl?: URL;
}

/**
 * A worker's young generation, in MB (V8's default is sized for one busy thread per process): a record's garbage is
 * short-lived, so a small nursery costs a few more scavenges and keeps each worker's resident memory small. The old
 * generation is left to V8's default: a large record must not crash its worker.
 */
const WORKER_LIMITS = { maxYoungGenerationSizeMb: 8 };

/** Jobs in a worker's hands by default (see RecordPoolOptions.perWorker). */
export const PER_WORKER = 2;

/** Rule sets a worker holds at once; an older one is compiled again if a record still names it. */
const MAX_RULE_SETS = 4;

type JobRequest = Extract<WorkerRequest, { kind: 'decrypt' | 'record' }>;
type JobReply = Extract<WorkerReply, { ok: true }>;

/**
 * A rule set for the workers: its files, and the main thread's parse of each (made when the rules were loaded), so
 * that a worker compiles them without parsing the YAML again (src/config/yamlTree.ts; null: the worker parses it).
 */
function rulesMessage(rules: RuleSet, id: number): WorkerRequest {
  const sources = rules.sources!;
  return { kind: 'rules', id, sources, parsed: sources.map((s) => keptParse(s.file, s.text) ?? null) };
}

interface Job {
  request: JobRequest;
  resolve: (reply: JobReply) => void;
  reject: (err: Error) => void;
  /** The rule set a 'record' job is evaluated with (registered before the job is sent). */
  rules?: RuleSet | undefined;
}

interface Slot {
  worker: Worker;
  /** The jobs sent to it and not answered yet, by id (at most `perWorker`). */
  jobs: Map<number, Job>;
  /** Its module has loaded (it said 'up'). */
  up: boolean;
  /** The rule sets it has compiled (it said 'compiled'), by number. */
  compiled: Set<number>;
}

/** Workers that die before they are up, in a row, before the pool gives up (a worker that cannot start). */
const MAX_START_FAILURES = 3;

/** recordWorker.ts under tsx (this file is .ts), recordWorker.js in dist/. */
export function defaultWorkerUrl(): URL {
  const ext = new URL(import.meta.url).pathname.endsWith('.ts') ? '.ts' : '.js';
  return new URL(`./recordWorker${ext}`, import.meta.url);
}

export class RecordPool implements RecordWorkers {
  readonly size: number;
  private readonly maxQueued: number;
  private readonly perWorker: number;
  private readonly workerUrl: URL;
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private readonly roomWaiters: Array<() => void> = [];
  /** The rule sets every worker holds, by number, oldest first. */
  private readonly ruleSets = new Map<RuleSet, number>();
  private nextId = 1;
  private nextRuleSet = 1;
  private closed = false;
  private replaced = 0;
  private processed = 0;
  /** Workers that died before they were up, since one was last up. */
  private startFailures = 0;
  /** Set once workers keep dying before they are up: every call fails with it. */
  private broken: Error | undefined;

  constructor(opts: RecordPoolOptions) {
    if (!Number.isInteger(opts.workers) || opts.workers < 1) throw new RangeError(`RecordPool needs at least 1 worker; got ${opts.workers}`);
    this.size = opts.workers;
    this.maxQueued = opts.maxQueued ?? 4 * opts.workers;
    this.perWorker = opts.perWorker ?? PER_WORKER;
    if (!Number.isInteger(this.perWorker) || this.perWorker < 1) throw new RangeError(`RecordPool's perWorker must be at least 1; got ${opts.perWorker}`);
    this.workerUrl = opts.workerUrl ?? defaultWorkerUrl();
    for (let i = 0; i < this.size; i++) this.slots.push(this.spawn());
  }

  /** Workers started to replace ones that died. */
  get workersReplaced(): number {
    return this.replaced;
  }

  /** Records the workers processed (`process` calls that gave an outcome). */
  get recordsProcessed(): number {
    return this.processed;
  }

  /**
   * Whether a record pinned to `rules` (undefined: decode) is best sent now: some worker holds the rules compiled (or,
   * for decode, is up). Until then (the workers start, or compile a reloaded set) the caller processes the record on
   * its own thread (processRecord does), instead of waiting idle for them; the first call sends the rules. True once
   * the pool is closed or broken: `process` then fails as it should.
   */
  ready(rules: RuleSet | undefined): boolean {
    if (this.closed || this.broken !== undefined) return true;
    if (rules === undefined) return this.slots.some((s) => s.up);
    if (rules.sources === undefined) return false;
    const id = this.ruleSetId(rules);
    return this.slots.some((s) => s.compiled.has(id));
  }

  /** Decrypts an ESDK message with a data key and gunzips the plaintext, in a worker. */
  async decrypt(message: Uint8Array, dataKey: Uint8Array): Promise<Uint8Array> {
    const reply = await this.submit({ kind: 'decrypt', id: 0, message: new Uint8Array(message), dataKey: new Uint8Array(dataKey) });
    if (!('plaintext' in reply)) throw new Error('record worker: a decrypt job came back without its plaintext');
    return reply.plaintext;
  }

  /** The rest of a sealed record's path in a worker (see the file's header). */
  async process(sealed: SealedPayload, position: RecordPosition, rules: RuleSet | undefined, redaction: Redaction, render?: DecodeRendering): Promise<RecordOutcome> {
    if (rules !== undefined && rules.sources === undefined) throw new Error('RecordPool.process: the rule set has no sources to compile in a worker');
    const reply = await this.submit(
      {
        kind: 'record',
        id: 0,
        message: new Uint8Array(sealed.message),
        dataKey: new Uint8Array(sealed.dataKey),
        version: sealed.version,
        warnings: sealed.warnings,
        position,
        rules: null,
        redaction,
        render: render ?? null,
      },
      rules,
    );
    if (!('outcome' in reply)) throw new Error('record worker: a record job came back without its outcome');
    const outcome = fromWire(reply.outcome as WireOutcome, rules, redaction);
    this.processed++;
    return outcome;
  }

  /** Terminates the workers. Jobs not finished fail with a TransientError. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const pending = [...this.queue.splice(0), ...this.slots.flatMap((s) => [...s.jobs.values()])];
    for (const s of this.slots) s.jobs.clear();
    for (const job of pending) this.fail(job, new TransientError('record workers closed before the record was processed'));
    for (const wake of this.roomWaiters.splice(0)) wake();
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  private async submit(request: JobRequest, rules?: RuleSet): Promise<JobReply> {
    while (!this.closed && this.broken === undefined && this.queue.length >= this.maxQueued) {
      await new Promise<void>((resolve) => this.roomWaiters.push(resolve));
    }
    if (this.closed || this.broken !== undefined) {
      request.dataKey.fill(0);
      throw this.broken ?? new TransientError('record workers are closed');
    }
    return new Promise((resolve, reject) => {
      request.id = this.nextId++;
      this.queue.push({ request, resolve, reject, rules });
      this.dispatch();
    });
  }

  private spawn(): Slot {
    const worker = this.workerUrl.pathname.endsWith('.ts')
      ? // Under tsx (tests, bench): on Node 20 the `--import tsx` a worker inherits does not make its loader hooks
        // apply to the worker's modules, so a .ts entry fails to load; a bootstrap registers tsx, then imports it.
        new Worker(
          `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))})` +
            `.then(({ register }) => { register(); return import(${JSON.stringify(this.workerUrl.href)}); });`,
          { eval: true, resourceLimits: WORKER_LIMITS },
        )
      : new Worker(this.workerUrl, { resourceLimits: WORKER_LIMITS });
    const slot: Slot = { worker, jobs: new Map(), up: false, compiled: new Set() };
    worker.on('message', (reply: WorkerReply) => this.onReply(slot, reply));
    worker.on('error', (err) => this.onDeath(slot, err));
    worker.on('exit', (code) => this.onDeath(slot, new Error(`exited with code ${code}`)));
    // A replacement holds the rule sets the others do (messages are handled in order: before any job).
    for (const [rules, id] of this.ruleSets) worker.postMessage(rulesMessage(rules, id));
    return slot;
  }

  /** The number every worker knows `rules` by, sending it to them first if they do not hold it. */
  private ruleSetId(rules: RuleSet): number {
    const known = this.ruleSets.get(rules);
    if (known !== undefined) return known;
    if (this.ruleSets.size >= MAX_RULE_SETS) {
      const [oldest, id] = this.ruleSets.entries().next().value as [RuleSet, number];
      this.ruleSets.delete(oldest);
      for (const s of this.slots) s.compiled.delete(id);
      this.broadcast({ kind: 'forget', id });
    }
    const id = this.nextRuleSet++;
    this.ruleSets.set(rules, id);
    this.broadcast(rulesMessage(rules, id));
    return id;
  }

  private broadcast(msg: WorkerRequest): void {
    for (const slot of this.slots) slot.worker.postMessage(msg);
  }

  /** Queued jobs to the least busy workers, while one has fewer than `perWorker`. */
  private dispatch(): void {
    while (this.queue.length > 0) {
      let slot: Slot | undefined;
      for (const s of this.slots) if (s.jobs.size < this.perWorker && (slot === undefined || s.jobs.size < slot.jobs.size)) slot = s;
      if (slot === undefined) return;
      const job = this.queue.shift()!;
      const req = job.request;
      slot.jobs.set(req.id, job);
      if (req.kind === 'record' && job.rules !== undefined) req.rules = this.ruleSetId(job.rules);
      slot.worker.postMessage(req, [req.message.buffer as ArrayBuffer, req.dataKey.buffer as ArrayBuffer]);
      this.roomWaiters.shift()?.();
    }
  }

  private onReply(slot: Slot, reply: WorkerReply): void {
    if ('kind' in reply) {
      if (reply.kind === 'up') {
        slot.up = true;
        this.startFailures = 0;
      } else if ([...this.ruleSets.values()].includes(reply.rules)) slot.compiled.add(reply.rules); // not one forgotten since
      return;
    }
    const job = slot.jobs.get(reply.id);
    if (job === undefined) return; // the job was already failed (close); nothing waits for it
    slot.jobs.delete(reply.id);
    if (reply.ok) job.resolve(reply);
    else if (reply.poison) {
      const err = new PoisonRecordError(reply.reason, reply.message);
      if (job.request.kind === 'record') err.encryptedRecord = true;
      job.reject(err);
    } else job.reject(Object.assign(new Error(`record worker: ${reply.message}`), { name: reply.name }));
    this.dispatch();
  }

  /** 'error' then 'exit' both arrive for an uncaught exception: the first one replaces the worker. */
  private onDeath(slot: Slot, err: Error): void {
    if (this.closed) return;
    const i = this.slots.indexOf(slot);
    if (i === -1) return;
    const jobs = [...slot.jobs.values()];
    slot.jobs.clear();
    slot.worker.removeAllListeners();
    slot.worker.on('error', () => undefined); // already reported through the job (if any); the worker is gone
    void slot.worker.terminate();
    if (!slot.up && ++this.startFailures >= MAX_START_FAILURES) {
      // Not a record's fault, and no retry helps: every job waiting, and every call from now on, fails with it.
      this.broken ??= new Error(`record workers cannot start: ${MAX_START_FAILURES} in a row died before they were up (the last: ${err.message})`, { cause: err });
      const pending = [...jobs, ...this.queue.splice(0)];
      for (const job of pending) this.fail(job, this.broken);
      for (const wake of this.roomWaiters.splice(0)) wake();
      this.slots.splice(i, 1);
      return;
    }
    this.slots[i] = this.spawn();
    this.replaced++;
    for (const job of jobs) this.fail(job, new TransientError(`record worker died while processing a record (${err.message}); retrying`, { cause: err }));
    this.dispatch();
  }

  private fail(job: Job, err: Error): void {
    if (job.request.dataKey.byteLength > 0) job.request.dataKey.fill(0); // not yet transferred to a worker
    job.reject(err);
  }
}
