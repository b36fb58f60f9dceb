/**
 * CheckpointStore in local files: `<dir>/<streamName>.json` holding
 * `{"version": 1, "streamName": "...", "shards": {"shardId-…": {"sequenceNumber": "...", "finished": true?, "updatedAt": "..."}}}`.
 *
 * Writes are atomic and durable: write a temporary file, fsync it, rename it over the old one, fsync the
 * directory. A crash leaves either the old or the new file, never a torn one. A file that does not parse is a
 * ConfigError naming it: resetting it silently would re-read or skip a whole stream.
 *
 * One writer per directory: writing takes the directory's lock (src/util/dirLock.ts), held until `close()`. `run`
 * takes it at startup (`FileCheckpointStore.open`), so a second `run` on the same directory refuses to start (a
 * DirLockedError naming the holder) instead of overwriting the first one's checkpoints. Reading needs no lock
 * (`status`): files are replaced atomically.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '../errors.js';
import { writeFileAtomic } from '../util/atomicFile.js';
import { fsWriteError } from '../util/fsErrors.js';
import { DirLock } from '../util/dirLock.js';
import type { CheckpointStore, ShardCheckpoint } from './CheckpointStore.js';

/** The checkpoints of every stream of one directory, one file per stream (see above). */
export class FileCheckpointStore implements CheckpointStore {
  readonly dir: string;
  /** Per stream: the full content last written (or loaded), and the chain of writes in flight. */
  readonly #streams = new Map<string, { shards: Map<string, ShardCheckpoint>; writing: Promise<void> }>();
  readonly #log: ((message: string) => void) | undefined;
  #lock: Promise<DirLock> | undefined;
  #closed = false;

  constructor(dir: string, opts: { log?: (message: string) => void } = {}) {
    this.dir = dir;
    this.#log = opts.log;
  }

  /** A store holding the lock of `dir` from the start; `log` hears of a stale lock taken over. */
  static async open(dir: string, opts: { log?: (message: string) => void } = {}): Promise<FileCheckpointStore> {
    const store = new FileCheckpointStore(dir, opts);
    await store.lock();
    return store;
  }

  /** Takes the directory's lock (once; every write waits for it). Throws DirLockedError when another process has it. */
  lock(): Promise<DirLock> {
    this.#lock ??= DirLock.acquire(this.dir, { what: 'checkpoint', ...(this.#log ? { log: this.#log } : {}) });
    return this.#lock;
  }

  fileFor(streamName: string): string {
    if (!/^[A-Za-z0-9_.-]+$/.test(streamName)) throw new ConfigError(`stream name "${streamName}" cannot name a checkpoint file`);
    return join(this.dir, `${streamName}.json`);
  }

  async load(streamName: string): Promise<Map<string, ShardCheckpoint>> {
    const shards = await this.#read(streamName);
    this.#streams.set(streamName, { shards: new Map(shards), writing: Promise.resolve() });
    return shards;
  }

  async save(streamName: string, shards: ReadonlyMap<string, ShardCheckpoint>): Promise<void> {
    if (this.#closed) throw new Error('FileCheckpointStore: save after close');
    let state = this.#streams.get(streamName);
    if (!state) {
      state = { shards: await this.#read(streamName), writing: Promise.resolve() };
      this.#streams.set(streamName, state);
    }
    for (const [id, cp] of shards) state.shards.set(id, { ...cp });
    const content = serialize(streamName, state.shards);
    const s = state;
    // Chain writes so they land in call order; a failed write fails its own save, not the next one.
    const write = s.writing.catch(() => undefined).then(() => this.#writeAtomic(streamName, content));
    s.writing = write;
    return write;
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled([...this.#streams.values()].map((s) => s.writing));
    const lock = await this.#lock?.catch(() => undefined);
    await lock?.release();
  }

  async #read(streamName: string): Promise<Map<string, ShardCheckpoint>> {
    const file = this.fileFor(streamName);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
      throw new ConfigError(`cannot read checkpoint file ${file}: ${(err as Error).message}`, { cause: err });
    }
    return parseCheckpointFile(text, file, streamName);
  }

  async #writeAtomic(streamName: string, content: string): Promise<void> {
    const file = this.fileFor(streamName);
    (await this.lock()).assertHeld();
    try {
      await writeFileAtomic(file, content);
    } catch (err) {
      // A full disk is retried (the consumer holds); no permission or a read-only file system is the setup's.
      throw fsWriteError(`cannot write checkpoint file ${file}`, err);
    }
  }
}

function serialize(streamName: string, shards: Map<string, ShardCheckpoint>): string {
  const sorted = [...shards].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return JSON.stringify({ version: 1, streamName, shards: Object.fromEntries(sorted) }, null, 2) + '\n';
}

/** Parses a checkpoint file; ConfigError naming the file when it is not one. */
export function parseCheckpointFile(text: string, file: string, streamName: string): Map<string, ShardCheckpoint> {
  const bad = (why: string, cause?: unknown): ConfigError =>
    new ConfigError(
      `checkpoint file ${file} is corrupt (${why}); it was not reset. Fix or delete it (deleting it restarts the stream from --from)`,
      cause === undefined ? undefined : { cause },
    );
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw bad(`not JSON: ${(err as Error).message}`, err);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw bad('not a JSON object');
  const obj = parsed as Record<string, unknown>;
  if (obj.version !== 1) throw bad(`unknown version ${JSON.stringify(obj.version)}`);
  if (obj.streamName !== streamName) throw bad(`it belongs to stream ${JSON.stringify(obj.streamName)}`);
  const shards = obj.shards;
  if (typeof shards !== 'object' || shards === null || Array.isArray(shards)) throw bad('"shards" is not an object');
  const out = new Map<string, ShardCheckpoint>();
  for (const [id, v] of Object.entries(shards as Record<string, unknown>)) {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad(`shard ${id} is not an object`);
    const c = v as Record<string, unknown>;
    if (c.sequenceNumber !== undefined && (typeof c.sequenceNumber !== 'string' || !/^\d+$/.test(c.sequenceNumber))) {
      throw bad(`shard ${id}: "sequenceNumber" is not a sequence number`);
    }
    if (c.finished !== undefined && typeof c.finished !== 'boolean') throw bad(`shard ${id}: "finished" is not a boolean`);
    const cp: ShardCheckpoint = {};
    if (typeof c.sequenceNumber === 'string') cp.sequenceNumber = c.sequenceNumber;
    if (typeof c.startedAt === 'string' && !Number.isNaN(Date.parse(c.startedAt))) cp.startedAt = c.startedAt;
    else if (c.startedAt !== undefined) throw bad(`shard ${id}: "startedAt" is not a time`);
    if (c.finished === true) cp.finished = true;
    if (typeof c.updatedAt === 'string') cp.updatedAt = c.updatedAt;
    out.set(id, cp);
  }
  return out;
}
