/**
 * One writer per directory: `<dir>/.lock` holds `{pid, host, startedAt, id}` of the dasguard process that owns the
 * directory (checkpoints, the delivery outbox), so that a second `run` on the same directory refuses to start
 * instead of interleaving its writes with the first one's.
 *
 * - Taking it: the JSON is written to a file of our own and hard-linked to `.lock`. link(2) fails when `.lock`
 *   exists, atomically, on local disks and on NFS (where it is the documented way to make a lock file; O_EXCL
 *   creation was not reliable on older NFS), and the lock appears with its whole content, never half-written.
 * - A lock whose holder is gone is taken over, and the log says so: on the same host, when its pid is not
 *   running, or is our own pid while this process does not hold the lock (a restarted container gets the same pid
 *   and hostname); from another host (a shared volume), when it has not been refreshed for `staleMs`: the holder
 *   touches the file every `refreshMs`, so only a holder that stopped (killed, host lost) lets it go stale. A
 *   holder's own pid cannot be checked across hosts, hence the heartbeat; on the same host the pid says more, and
 *   at once.
 * - A holder that finds its lock replaced (it was paused past `staleMs` and another process took over) stops
 *   writing: `assertHeld()` throws, and `onLost` is told.
 * - Released on close; a lock left by a crash is taken over as above.
 *
 * Not `proper-lockfile` (the well-kept library for this): its lock records no holder, so no message could name the
 * pid, host and start time; it judges staleness by mtime alone, so a crash on the same host would block the restart
 * for the whole stale period where a pid check knows at once; and by default it throws from a timer when its lock
 * is compromised. What dasguard needs is this file, without a new dependency.
 */
import { randomBytes } from 'node:crypto';
import { link, mkdir, readFile, realpath, rename, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { ConfigError, DirLockedError } from '../errors.js';
import { fsWriteError } from './fsErrors.js';

export const LOCK_FILE = '.lock';
/** How often a holder touches its lock. */
const LOCK_REFRESH_MS = 15_000;
/** A lock from another host is stale after this long without a refresh: 8 refreshes missed. */
const LOCK_STALE_MS = 8 * LOCK_REFRESH_MS;

export interface LockHolder {
  pid: number;
  host: string;
  startedAt: string;
  /** Tells this holder from an earlier one with the same pid and host. */
  id: string;
}

export interface DirLockOptions {
  /** What the directory is, for messages: `checkpoint`, `outbox`. */
  what: string;
  /** Where takeovers of stale locks and refresh failures are said. */
  log?: (message: string) => void;
  /** Called once when the lock turns out to have been taken over by another process. */
  onLost?: (err: ConfigError) => void;
  refreshMs?: number;
  staleMs?: number;
  now?: () => number;
}

/** Lock files this process holds (by real path): a second open in the same process is refused too. */
const heldHere = new Set<string>();

export class DirLock {
  #lost: ConfigError | undefined;
  #timer: NodeJS.Timeout | undefined;
  #released = false;

  private constructor(
    readonly dir: string,
    readonly file: string,
    readonly holder: LockHolder,
    private readonly text: string,
    private readonly opts: DirLockOptions,
  ) {}

  /** Takes the lock of `dir` (created, mode 0700, when missing), or throws DirLockedError naming its holder. */
  static async acquire(dir: string, opts: DirLockOptions): Promise<DirLock> {
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw new ConfigError(`cannot create the ${opts.what} directory ${dir}: ${(err as Error).message}`, { cause: err });
    }
    const file = join(await realpath(dir), LOCK_FILE);
    const now = opts.now ?? Date.now;
    const me: LockHolder = { pid: process.pid, host: hostname(), startedAt: new Date(now()).toISOString(), id: randomBytes(8).toString('hex') };
    const text = JSON.stringify(me) + '\n';
    // A few rounds: each lost race (another process took or freed the lock meanwhile) is looked at again.
    for (let round = 0; round < 5; round++) {
      if (await tryLink(file, text, me.id).catch((err: unknown) => Promise.reject(cannotWrite(opts.what, dir, err)))) {
        heldHere.add(file);
        const lock = new DirLock(dir, file, me, text, opts);
        lock.#startRefresh();
        return lock;
      }
      const found = await readLock(file);
      if (found === undefined) continue; // released meanwhile
      const stale = staleReason(found, file, opts.staleMs ?? LOCK_STALE_MS, now());
      if (stale === undefined) throw lockedError(dir, file, opts.what, found, opts.staleMs ?? LOCK_STALE_MS, now());
      if (await takeOver(file, found.text, me.id)) opts.log?.(`took over the lock of the ${opts.what} directory ${dir}: its holder (${describe(found.holder)}) ${stale}`);
    }
    throw new DirLockedError(`cannot take the lock of the ${opts.what} directory ${dir}: other processes keep taking it (${file})`, file, undefined);
  }

  /** Throws when the lock was taken over by another process: writing now would corrupt the directory. */
  assertHeld(): void {
    if (this.#lost) throw this.#lost;
    if (this.#released) throw new Error(`the lock of ${this.dir} was released`);
  }

  /** Removes the lock (only if it is still ours). Idempotent. */
  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    clearInterval(this.#timer);
    heldHere.delete(this.file);
    if (this.#lost) return;
    const found = await readLock(this.file);
    if (found?.text === this.text) await unlink(this.file).catch(ignoreMissing);
  }

  #startRefresh(): void {
    let refreshing = false;
    this.#timer = setInterval(() => {
      if (refreshing) return;
      refreshing = true;
      this.refresh().finally(() => (refreshing = false));
    }, this.opts.refreshMs ?? LOCK_REFRESH_MS);
    this.#timer.unref();
  }

  /** What the timer does every `refreshMs`: checks that the lock is still ours, and touches it. */
  async refresh(): Promise<void> {
    if (this.#released || this.#lost) return;
    try {
      const found = await readLock(this.file);
      if (found?.text !== this.text) {
        clearInterval(this.#timer);
        const by = found ? ` by ${describe(found.holder)}` : ' (the lock file was removed)';
        this.#lost = new ConfigError(`the lock of the ${this.opts.what} directory ${this.dir} was taken over${by}: this process stops writing there`);
        this.opts.onLost?.(this.#lost);
        return;
      }
      const t = new Date((this.opts.now ?? Date.now)());
      await utimes(this.file, t, t);
    } catch (err) {
      // Not fatal by itself (the next refresh tries again), but said: missed refreshes let another host take over.
      this.opts.log?.(`cannot refresh the lock ${this.file}: ${(err as Error).message}`);
    }
  }
}

/** The lock file cannot be written: a full disk clears by itself (retry later), anything else is the setup's. */
function cannotWrite(what: string, dir: string, err: unknown): unknown {
  return fsWriteError(`cannot write the lock file of the ${what} directory ${dir}`, err);
}

/** Links our lock into place; false when a lock is already there. */
async function tryLink(file: string, text: string, id: string): Promise<boolean> {
  const mine = `${file}.${id}.pending`; // not `.tmp`: the outbox removes its own `.tmp` files at open
  try {
    await writeFile(mine, text, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    await unlink(mine).catch(ignoreMissing); // a full disk may leave it empty
    throw err;
  }
  try {
    await link(mine, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    // NFS may report a failure for a link that was made (the reply was lost): the link count tells.
    return (await stat(mine)).nlink === 2;
  } finally {
    await unlink(mine).catch(ignoreMissing);
  }
}

interface FoundLock {
  text: string;
  /** Undefined when the file is not a lock written by dasguard. */
  holder: LockHolder | undefined;
  mtimeMs: number;
}

async function readLock(file: string): Promise<FoundLock | undefined> {
  let text: string;
  let mtimeMs: number;
  try {
    [text, { mtimeMs }] = await Promise.all([readFile(file, 'utf8'), stat(file)]);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ConfigError(`cannot read the lock file ${file}: ${(err as Error).message}`, { cause: err });
  }
  return { text, holder: parseHolder(text), mtimeMs };
}

function parseHolder(text: string): LockHolder | undefined {
  try {
    const v = JSON.parse(text) as Partial<LockHolder>;
    if (Number.isInteger(v.pid) && typeof v.host === 'string' && typeof v.startedAt === 'string' && typeof v.id === 'string') return v as LockHolder;
  } catch {
    // not JSON: judged by its age alone, below
  }
  return undefined;
}

/** Why the lock's holder is gone (undefined: it may be alive, the lock stands). */
function staleReason(found: FoundLock, file: string, staleMs: number, now: number): string | undefined {
  const h = found.holder;
  if (h !== undefined && h.host === hostname()) {
    if (h.pid === process.pid) return heldHere.has(file) ? undefined : 'had our pid: it was an earlier process (a restarted container)';
    return pidAlive(h.pid) ? undefined : `is not running (no process ${h.pid})`;
  }
  const age = now - found.mtimeMs;
  return age > staleMs ? `has not refreshed it for ${seconds(age)} (stale after ${seconds(staleMs)})` : undefined;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // it exists, under another user
  }
}

/**
 * Moves the stale lock aside, then checks that what was moved is the lock that was judged (not one that another
 * process took meanwhile, which is put back). True when the way is clear.
 */
async function takeOver(file: string, staleText: string, id: string): Promise<boolean> {
  const aside = `${file}.${id}.stale`;
  try {
    await rename(file, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  const moved = await readFile(aside, 'utf8');
  if (moved !== staleText) {
    // A fresh lock: put it back (unless yet another one took its place, which then stands).
    await link(aside, file).catch((err: unknown) => {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    });
  }
  await unlink(aside);
  return moved === staleText;
}

function describe(h: LockHolder | undefined): string {
  return h ? `pid ${h.pid} on host ${h.host}, since ${h.startedAt}` : 'unknown: the lock file is not one dasguard wrote';
}

function ignoreMissing(err: NodeJS.ErrnoException): void {
  if (err.code !== 'ENOENT') throw err;
}

function seconds(ms: number): string {
  return `${Math.max(0, Math.round(ms / 1000))} s`;
}

function lockedError(dir: string, file: string, what: string, found: FoundLock, staleMs: number, now: number): DirLockedError {
  const h = found.holder;
  const head = `the ${what} directory ${dir} is in use by another dasguard process (${describe(h)})`;
  let how: string;
  if (h !== undefined && h.host === hostname()) {
    how = h.pid === process.pid ? 'this process opened it twice' : `stop that process, or give this one another ${what} directory`;
  } else {
    how =
      `its lock was refreshed ${seconds(now - found.mtimeMs)} ago and is taken over once it goes unrefreshed for ` +
      `${seconds(staleMs)}; if you are sure no dasguard${h ? ` on ${h.host}` : ''} uses the directory, remove ${file}`;
  }
  return new DirLockedError(`${head}: two processes would corrupt it; ${how}`, file, h ? { pid: h.pid, host: h.host, startedAt: h.startedAt } : undefined);
}
