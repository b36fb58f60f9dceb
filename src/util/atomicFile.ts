/**
 * Durable, atomic file replacement: write a temporary file in the same directory, fsync it, rename it over the
 * target, fsync the directory. After a crash the target holds either the old content or the new, never a torn
 * mix, and a completed write survives power loss. Used by checkpoints, health state and the delivery outbox.
 * `writeFileAtomic` does all of it; `replaceFile` is the steps up to the rename, for a writer that streams its
 * content or keeps the new file open (the outbox's batch files and ack log), and decides about the directory.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface AtomicWriteOptions {
  /** File mode (default 0600: these files describe audit activity). */
  mode?: number;
  /** Mode of a directory created on the way (default 0700). */
  dirMode?: number;
}

export async function writeFileAtomic(path: string, data: string | Uint8Array, opts: AtomicWriteOptions = {}): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: opts.dirMode ?? 0o700 });
  await replaceFile(path, (fh) => fh.writeFile(data), opts);
  await syncDir(dir);
}

/** The name of a temporary file `replaceFile` left behind (a crash before its rename): safe to remove. */
export function isTemporaryFile(name: string): boolean {
  return /\.tmp-\d+-[0-9a-f]{8}$/.test(name);
}

/**
 * Writes `path` anew: `write` fills a new temporary file beside it (in the directory, which must exist), which is
 * fsync'ed and renamed over `path`. On failure the temporary file is removed and `path` is as it was. The caller
 * syncs the directory (`syncDir`) for the rename to be durable. With `keepOpen`, the file is opened for appending
 * and its handle returned open (the caller closes it); otherwise it is closed.
 */
export async function replaceFile(path: string, write: (fh: FileHandle) => Promise<unknown>, opts: { mode?: number; keepOpen: true }): Promise<FileHandle>;
export async function replaceFile(path: string, write: (fh: FileHandle) => Promise<unknown>, opts?: { mode?: number; keepOpen?: false }): Promise<void>;
export async function replaceFile(path: string, write: (fh: FileHandle) => Promise<unknown>, opts: { mode?: number; keepOpen?: boolean } = {}): Promise<FileHandle | void> {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  let fh: FileHandle | undefined;
  try {
    fh = await open(tmp, opts.keepOpen ? 'ax' : 'wx', opts.mode ?? 0o600);
    await write(fh);
    await fh.sync();
    if (!opts.keepOpen) {
      const h = fh;
      fh = undefined;
      await h.close();
    }
    await rename(tmp, path);
  } catch (err) {
    // The original error is what matters; a temporary file left behind is litter (the outbox removes its own at open).
    await fh?.close().catch(() => undefined);
    await rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
  return opts.keepOpen ? fh : undefined;
}

/** fsync of a directory, so that a rename or a new file in it is durable. */
export async function syncDir(dir: string): Promise<void> {
  const dh = await open(dir, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}
