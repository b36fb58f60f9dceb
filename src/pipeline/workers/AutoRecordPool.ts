/**
 * `--workers auto` on an input of unknown size (stdin): a RecordPool started only when the input proves large enough
 * to pay for it. The first AUTO_START_RECORDS encrypted records are processed on the main thread; from the next one
 * on, records go to `workers` threads as soon as one has compiled the rules. (An input of known size is judged by its
 * size before it is read: src/commands/common.ts openPool.) Where a record runs changes nothing in what comes out
 * (src/pipeline/workers/RecordPool.ts), so the switch needs no care about order or state.
 */
import type { SealedPayload } from '../../codec/decode.js';
import type { RuleSet } from '../../rules/types.js';
import type { RecordPosition } from '../../types.js';
import type { Redaction } from '../alert.js';
import type { DecodeRendering } from '../decodedLines.js';
import type { RecordOutcome, RecordWorkers } from '../processRecord.js';
import { RecordPool } from './RecordPool.js';

/**
 * Encrypted records processed on the main thread before the workers start. Starting them costs ~0.25 s of wall time
 * on 2 cores (two threads loading their modules beside the main one), which a few hundred more records do not win
 * back: measured with 256, inputs of 400-600 records of 100 events ran 10-13% slower than on the main thread alone,
 * 1,000 broke even. At 1,000 an input just past it loses less of its (longer) time; larger ones gain 1.1-1.2x.
 */
export const AUTO_START_RECORDS = 1000;

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

  /**
   * Once started, a record goes to the workers as soon as one has compiled its rules (RecordPool.ready); until then
   * this thread goes on processing records itself, instead of waiting for the workers to load (~0.3 s).
   */
  ready(rules?: RuleSet): boolean {
    if (this.#pool === undefined) {
      if (this.#closed || ++this.#seen <= this.startAfter) return false;
      this.#pool = new RecordPool({ workers: this.workers });
    }
    return this.#pool.ready(rules);
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
