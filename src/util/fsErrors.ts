/** What a file-system error means, in words a user acts on; one table for every directory dasguard writes. */

const WHY: Record<string, string> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  ENOENT: 'the directory or a file in it is gone',
  EROFS: 'the file system is read-only',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EIO: 'input/output error',
};

/** The error's errno code, when it is a file-system error. */
export function fsErrorCode(err: unknown): string | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** `no space left on the device (ENOSPC)`, or the error's own message with its code. */
export function fsErrorText(err: unknown): string {
  const code = fsErrorCode(err);
  const message = err instanceof Error ? err.message : String(err);
  return code === undefined ? message : `${WHY[code] ?? message} (${code})`;
}

/** Errors that clear by themselves (space or quota freed, a device back): worth retrying, not a configuration. */
export function isFsOutage(err: unknown): boolean {
  const code = fsErrorCode(err);
  return code === 'ENOSPC' || code === 'EDQUOT' || code === 'EIO';
}
