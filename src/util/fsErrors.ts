/** What a file-system error means, in words a user acts on; one table for every directory dasguard writes. */
import { ConfigError, TransientError } from '../errors.js';

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
function isFsOutage(err: unknown): boolean {
  const code = fsErrorCode(err);
  return code === 'ENOSPC' || code === 'EDQUOT' || code === 'EIO';
}

/**
 * A write the file system refused, as the error that decides what happens next: a TransientError (retry, hold, exit
 * 4) for what clears by itself (a full disk, a quota, an I/O error, a directory removed under us), a ConfigError
 * (exit 2) for what the user must fix (permissions, a read-only file system). `what` names the place: `cannot
 * write to the outbox directory /x`. Errors that are not the file system's (bugs) come back as they are.
 */
export function fsWriteError(what: string, err: unknown): unknown {
  if (err instanceof TransientError || err instanceof ConfigError) return err;
  if (fsErrorCode(err) === undefined) return err;
  const message = `${what}: ${fsErrorText(err)}`;
  return isFsOutage(err) || fsErrorCode(err) === 'ENOENT' ? new TransientError(message, { cause: err }) : new ConfigError(message, { cause: err });
}
