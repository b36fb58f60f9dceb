/**
 * The outbox's batch file format. Since version 2, JSON Lines: a header line `{"version":2,"jobs":N}`, then one
 * job `{"sink":...,"alert":...}` per line, written job by job (no single string holds the batch). A file cut short
 * (or with a damaged line) still yields its complete jobs. Version 1 files (`.json`, one JSON document
 * `{"version":1,"jobs":[...]}`) written by earlier releases are still read; a damaged one yields nothing.
 */
import type { FileHandle } from 'node:fs/promises';
import type { DeliveredAlert } from './types.js';
import { describeJsonError } from '../util/jsonError.js';

export interface BatchJob {
  sink: string;
  alert: DeliveredAlert;
}

export interface BatchContent {
  /** The readable jobs, with their index in the file (what the ack log names). */
  jobs: { index: number; job: BatchJob }[];
  /** Jobs the file says it holds (its header); undefined when the header is unreadable. */
  expected: number | undefined;
  /** Why the file is damaged (truncated, unreadable lines); undefined when it is whole. */
  damage?: string;
}

const BATCH_VERSION = 2;

/** `batch-<time>-<pid>-<seq>-<rand>[-…].jsonl`, or `.json` (version 1). */
export function isBatchFile(name: string): boolean {
  return /^batch-[A-Za-z0-9-]+\.jsonl?$/.test(name);
}

/** Chunks handed to the file system: large enough to be cheap, small enough never to be a giant string. */
const CHUNK_CHARS = 1 << 20;

/** Writes a version 2 batch to `fh` (opened for writing), job by job. */
export async function writeBatch(fh: FileHandle, jobs: readonly BatchJob[]): Promise<void> {
  let chunk = JSON.stringify({ version: BATCH_VERSION, jobs: jobs.length }) + '\n';
  for (const j of jobs) {
    chunk += JSON.stringify({ sink: j.sink, alert: j.alert }) + '\n';
    if (chunk.length >= CHUNK_CHARS) {
      await fh.write(chunk);
      chunk = '';
    }
  }
  if (chunk !== '') await fh.write(chunk);
}

/** Reads a batch file's text (`name` tells the version). Never throws: damage is reported in `damage`. */
export function parseBatch(name: string, text: string): BatchContent {
  return name.endsWith('.jsonl') ? parseLines(text) : parseDocument(text);
}

function parseLines(text: string): BatchContent {
  const lines = text.split('\n');
  const tail = lines.pop() ?? ''; // '' when the file ends with a newline, as a whole file does
  const problems: string[] = [];
  let expected: number | undefined;
  const header = tryJson(lines[0] ?? '');
  if (isRecord(header) && header.version === BATCH_VERSION && Number.isInteger(header.jobs)) expected = header.jobs as number;
  else problems.push('the header line is unreadable');
  const jobs: BatchContent['jobs'] = [];
  for (let i = 1; i < lines.length; i++) {
    const job = asJob(tryJson(lines[i]!));
    if (job) jobs.push({ index: i - 1, job });
    else problems.push(`line ${i + 1} is not a job`);
  }
  const complete = lines.length - 1;
  if (tail !== '') problems.push(`cut short in line ${lines.length + 1}`);
  if (expected !== undefined && complete < expected) problems.push(`${complete} of ${expected} jobs complete`);
  if (expected !== undefined && complete > expected) problems.push(`${complete} jobs, the header says ${expected}`);
  return problems.length > 0 ? { jobs, expected, damage: problems.join('; ') } : { jobs, expected };
}

function parseDocument(text: string): BatchContent {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return { jobs: [], expected: undefined, damage: `not JSON (${describeJsonError(err)})` };
  }
  const raw = isRecord(doc) && Array.isArray(doc.jobs) ? (doc.jobs as unknown[]) : undefined;
  if (!raw) return { jobs: [], expected: undefined, damage: 'not a batch file' };
  const jobs: BatchContent['jobs'] = [];
  const bad: number[] = [];
  raw.forEach((j, index) => {
    const job = asJob(j);
    if (job) jobs.push({ index, job });
    else bad.push(index);
  });
  return bad.length > 0 ? { jobs, expected: raw.length, damage: `jobs ${bad.join(', ')} are not jobs` } : { jobs, expected: raw.length };
}

function asJob(v: unknown): BatchJob | undefined {
  if (!isRecord(v) || typeof v.sink !== 'string' || !isRecord(v.alert)) return undefined;
  const a = v.alert;
  if (typeof a.id !== 'string' || typeof a.ruleId !== 'string' || !isRecord(a.event)) return undefined;
  return { sink: v.sink, alert: a as unknown as DeliveredAlert };
}

function tryJson(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
