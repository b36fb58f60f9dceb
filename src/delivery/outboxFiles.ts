/**
 * The outbox directory's files as they are read back (Outbox.ts writes them): the ack log, the dead-letter file,
 * the quarantine records, and `inspectOutbox` (`dasguard outbox status`), which reads a directory without opening
 * it (no lock, nothing written).
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '../errors.js';
import { fsErrorCode, fsErrorText } from '../util/fsErrors.js';
import { describeJsonError } from '../util/jsonError.js';
import { isBatchFile, parseBatch, type BatchContent } from './batchFile.js';
import type { DeliveredAlert } from './types.js';

export const ACK_LOG = 'acks.log';
export const DEAD_LETTER_FILE = 'dead-letter.jsonl';
export const QUARANTINE_DIR = 'quarantine';
export const DONE_SUFFIX = '.done.json';

export interface DeadLetter {
  sink: string;
  alert: DeliveredAlert;
}

export interface OutboxStatus {
  dir: string;
  /** Unacked jobs per sink. */
  pending: Record<string, number>;
  deadLettered: Record<string, number>;
  /** Dead-letter lines that are not readable entries (kept as they are). */
  unreadableDeadLetters: number;
  quarantined: { file: string; expected: number | null; readable: number; resendable: number; damage: string }[];
}

/** What an outbox directory holds, read without opening it (no lock, nothing written): `dasguard outbox status`. */
export async function inspectOutbox(dir: string): Promise<OutboxStatus> {
  let names: string[];
  try {
    names = (await readdir(dir)).sort();
  } catch (err) {
    if (fsErrorCode(err) === 'ENOENT') {
      throw new ConfigError(`there is no outbox at ${dir}: nothing was ever queued there (is --outbox-dir, or the config's delivery.outboxDir, the one replay or run used?)`, { cause: err });
    }
    throw new ConfigError(`cannot read the outbox directory ${dir}: ${fsErrorText(err)}`, { cause: err });
  }
  const ackedBy = parseAcks(await readIfPresent(join(dir, ACK_LOG)));
  const pending: Record<string, number> = {};
  for (const name of names.filter(isBatchFile)) {
    const content = parseBatch(name, await readIfPresent(join(dir, name)));
    const done = ackedBy.get(name);
    for (const { index, job } of content.jobs) if (!done?.has(index)) pending[job.sink] = (pending[job.sink] ?? 0) + 1;
  }
  const dead = await readDeadLetters(join(dir, DEAD_LETTER_FILE));
  const deadLettered: Record<string, number> = {};
  for (const { entry } of dead.entries) deadLettered[entry.sink] = (deadLettered[entry.sink] ?? 0) + 1;
  const quarantined = (await readQuarantine(dir)).map((q) => ({
    file: q.file,
    expected: q.content.expected ?? null,
    readable: q.content.jobs.length,
    resendable: q.content.jobs.filter((j) => !q.done.has(j.index)).length,
    damage: q.content.damage ?? 'none (repaired?)',
  }));
  return { dir, pending, deadLettered, unreadableDeadLetters: dead.unreadable.length, quarantined };
}

/** Acked indices per batch, from the whole lines of an ack log (a fragment after the last newline is ignored). */
export function parseAcks(text: string): Map<string, Set<number>> {
  const out = new Map<string, Set<number>>();
  const whole = text.slice(0, text.lastIndexOf('\n') + 1);
  for (const line of whole.split('\n')) {
    const m = /^(\S+) (\d+)$/.exec(line);
    if (!m || !isBatchFile(m[1]!)) continue;
    let set = out.get(m[1]!);
    if (!set) out.set(m[1]!, (set = new Set()));
    set.add(Number(m[2]));
  }
  return out;
}

export async function readDeadLetters(path: string): Promise<{ entries: { entry: DeadLetter; text: string }[]; unreadable: string[] }> {
  const text = await readIfPresent(path);
  const entries: { entry: DeadLetter; text: string }[] = [];
  const unreadable: string[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      unreadable.push(line);
      continue;
    }
    const e = v as Partial<DeadLetter> | null;
    if (e && typeof e.sink === 'string' && typeof e.alert === 'object' && e.alert !== null && typeof e.alert.id === 'string') entries.push({ entry: { sink: e.sink, alert: e.alert }, text: line });
    else unreadable.push(line);
  }
  return { entries, unreadable };
}

export interface QuarantineEntry {
  file: string;
  content: BatchContent;
  /** Indices acked or re-queued already. */
  done: Set<number>;
  record: Record<string, unknown>;
}

export async function readQuarantine(dir: string): Promise<QuarantineEntry[]> {
  const qdir = join(dir, QUARANTINE_DIR);
  let names: string[];
  try {
    names = (await readdir(qdir)).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new ConfigError(`cannot read ${qdir}: ${(err as Error).message}`, { cause: err });
  }
  const out: QuarantineEntry[] = [];
  for (const file of names.filter(isBatchFile)) {
    const content = parseBatch(file, await readFile(join(qdir, file), 'utf8'));
    let record: Record<string, unknown> = {};
    const doneText = await readIfPresent(join(qdir, file + DONE_SUFFIX));
    if (doneText !== '') {
      try {
        record = JSON.parse(doneText) as Record<string, unknown>;
      } catch (err) {
        throw new ConfigError(`${join(qdir, file + DONE_SUFFIX)} is corrupt (${describeJsonError(err)}): fix or delete it (deleting it makes resend re-queue every readable job of ${file})`, { cause: err });
      }
    }
    const done = new Set(Array.isArray(record.done) ? record.done.filter((n): n is number => Number.isInteger(n)) : []);
    out.push({ file, content, done, record });
  }
  return out;
}

export async function readIfPresent(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if (fsErrorCode(err) === 'ENOENT') return '';
    throw unreadable(path, err); // a directory where a file should be, no permission: said, not an internal error
  }
}

export function unreadable(path: string, err: unknown): ConfigError {
  return new ConfigError(`cannot read ${path}: ${fsErrorText(err)}`, { cause: err });
}
