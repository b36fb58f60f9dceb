/**
 * Small JSON state files under `--state-dir` (default `.dasguard/state`): read whole, written atomically
 * (temporary file in the same directory, fsync, rename), so a crash leaves either the old file or the new one,
 * never half of one.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '../errors.js';
import { writeFileAtomic } from '../util/atomicFile.js';

export const DEFAULT_STATE_DIR = '.dasguard/state';

/** A file name safe for any cluster identifier (they are letters, digits and hyphens; ARNs have colons). */
function stateFileName(prefix: string, clusterId: string): string {
  return `${prefix}-${clusterId.replace(/[^A-Za-z0-9._-]/g, '_')}.json`;
}

export function statePath(stateDir: string, prefix: string, clusterId: string): string {
  return join(stateDir, stateFileName(prefix, clusterId));
}

/** The parsed file, or undefined when it does not exist. A file that is not JSON is a ConfigError (never reset silently). */
export async function readJsonState<T>(path: string): Promise<T | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ConfigError(`cannot read state file ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new ConfigError(`state file ${path} is not valid JSON (${(err as Error).message}): fix or remove it`, { cause: err });
  }
}

/** Writes `value` as JSON to `path` atomically and durably; creates the directory (mode 0700) when needed. */
export async function writeJsonState(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, JSON.stringify(value, null, 1) + '\n');
}
