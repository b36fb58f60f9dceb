/**
 * Durable, atomic file replacement: write a temporary file in the same directory, fsync it, rename it over the
 * target, fsync the directory. After a crash the target holds either the old content or the new, never a torn
 * mix, and a completed write survives power loss. Used by checkpoints, health state and the delivery outbox.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
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
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    const fh = await open(tmp, 'wx', opts.mode ?? 0o600);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true }); // the original error is what matters
    throw err;
  }
  await syncDir(dir);
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
