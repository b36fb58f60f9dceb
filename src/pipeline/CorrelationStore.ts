/**
 * The port where correlation state lives between runs (the state of src/rules/CorrelationEngine.ts as one JSON
 * snapshot): `load` at start, `save` before each checkpoint (run, through CheckpointedState) or at the end (replay).
 * Two adapters: in memory (the default: a process's life; the Lambda's container), and a file (`replay
 * --state-file`, `run`'s state directory). A DynamoDB adapter is a later issue: it implements the same two calls.
 */
import { readFile } from 'node:fs/promises';
import { ConfigError } from '../errors.js';
import type { CorrelationSnapshot } from '../rules/index.js';
import { writeFileAtomic } from '../util/atomicFile.js';
import { fsErrorCode, fsErrorText, fsWriteError } from '../util/fsErrors.js';

export interface CorrelationStore {
  /** What the store is, for messages: "the correlation state file PATH". */
  readonly name: string;
  /** The saved state, or undefined when there is none yet. */
  load(): Promise<CorrelationSnapshot | undefined>;
  /** Replaces the saved state durably; a TransientError when it cannot now (retried). */
  save(snapshot: CorrelationSnapshot): Promise<void>;
}

export class MemoryCorrelationStore implements CorrelationStore {
  readonly name = 'the correlation state in memory';
  #saved: string | undefined;
  async load(): Promise<CorrelationSnapshot | undefined> {
    return this.#saved === undefined ? undefined : (JSON.parse(this.#saved) as CorrelationSnapshot);
  }
  async save(snapshot: CorrelationSnapshot): Promise<void> {
    this.#saved = JSON.stringify(snapshot);
  }
}

/** One JSON file, replaced atomically (mode 0600: it holds redacted events of audit activity). */
export class FileCorrelationStore implements CorrelationStore {
  constructor(readonly path: string) {}

  get name(): string {
    return `the correlation state file ${this.path}`;
  }

  async load(): Promise<CorrelationSnapshot | undefined> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if (fsErrorCode(err) === 'ENOENT') return undefined;
      throw new ConfigError(`cannot read the correlation state file ${this.path}: ${fsErrorText(err)}`, { cause: err });
    }
    try {
      return JSON.parse(text) as CorrelationSnapshot;
    } catch (err) {
      throw new ConfigError(`the correlation state file ${this.path} is not JSON (${(err as Error).message}); move it away to start afresh`, { cause: err });
    }
  }

  async save(snapshot: CorrelationSnapshot): Promise<void> {
    try {
      await writeFileAtomic(this.path, JSON.stringify(snapshot));
    } catch (err) {
      throw fsWriteError(`cannot write the correlation state file ${this.path}`, err);
    }
  }
}
