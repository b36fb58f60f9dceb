/**
 * `--workers auto`: a RecordPool started only when the input proves large enough to pay for it. The first
 * AUTO_START_RECORDS encrypted records are processed on the main thread (a sample stream, a test, a quiet `run` never
 * starts a thread); from the next one on, records go to `workers` threads. Where a record runs changes nothing in
 * what comes out (src/pipeline/workers/RecordPool.ts), so the switch needs no care about order or state.
 */
import type { SealedPayload } from '../../codec/decode.js';
import type { RuleSet } from '../../rules/types.js';
import type { RecordPosition } from '../../types.js';
import type { Redaction } from '../alert.js';
import type { DecodeRendering } from '../decodedLines.js';
import type { RecordOutcome, RecordWorkers } from '../processRecord.js';
import { RecordPool } from './RecordPool.js';

/** Encrypted records processed on the main thread before the workers start (about 0.3 s of small records). */
export const AUTO_START_RECORDS = 256;

export class AutoRecordPool implements RecordWorkers {
  #seen = 0;
  #pool: RecordPool | undefined;
  #closed = false;

  constructor(readonly workers: number, private readonly startAfter = AUTO_START_RECORDS) {}

  /** Whether the workers are running (they start after `startAfter` records). */
  get started(): boolean {
    return this.#pool !== undefined;
  }

  /** Records the workers processed (none before they started). */
  get recordsProcessed(): number {
    return this.#pool?.recordsProcessed ?? 0;
  }

  /** Once started, every record goes to the workers (it waits for them to start: the input proved large). */
  ready(): boolean {
    if (this.#pool !== undefined) return true;
    if (this.#closed || ++this.#seen <= this.startAfter) return false;
    this.#pool = new RecordPool({ workers: this.workers });
    return true;
  }

  process(sealed: SealedPayload, position: RecordPosition, rules: RuleSet | undefined, redaction: Redaction, render?: DecodeRendering): Promise<RecordOutcome> {
    if (this.#pool === undefined) throw new Error('AutoRecordPool.process before the workers started (processRecord asks ready() first)');
    return this.#pool.process(sealed, position, rules, redaction, render);
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#pool?.close();
  }
}
