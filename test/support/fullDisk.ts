/**
 * A real full disk: a small tmpfs mounted for the test (needs root; `undefined` otherwise, and the caller skips),
 * filled with a ballast file until the kernel answers ENOSPC, and freed again by removing the ballast.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, rmSync, rmdirSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SmallDisk {
  /** The mount point. */
  readonly dir: string;
  /** Fills the rest of the disk: every later write that needs a new page fails with ENOSPC. */
  fill(): void;
  /** Removes the ballast: space is back. */
  free(): void;
  unmount(): void;
}

export function mountSmallDisk(sizeKb = 1024): SmallDisk | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'dasguard-disk-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeKb}k,mode=0700`, 'tmpfs', dir], { stdio: 'ignore' });
  } catch {
    rmdirSync(dir);
    return undefined;
  }
  const ballast = join(dir, 'ballast');
  return {
    dir,
    fill() {
      const fd = openSync(ballast, 'a');
      const chunk = Buffer.alloc(4096, 0x61);
      try {
        for (;;) writeSync(fd, chunk);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
      } finally {
        closeSync(fd);
      }
    },
    free() {
      rmSync(ballast, { force: true });
    },
    unmount() {
      execFileSync('umount', ['-l', dir], { stdio: 'ignore' });
      rmdirSync(dir);
    },
  };
}
