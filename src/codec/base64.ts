/**
 * Strict base64: standard alphabet, padded, no whitespace, canonical (unused bits of the last character zero, as
 * every encoder writes them). `Buffer.from(s, 'base64')` alone would accept anything: it skips what it does not
 * know and reads the URL-safe alphabet too. So the text is decoded natively and encoded again; it is strict base64
 * exactly when that gives the same text back. No regular expression: a regex over megabytes of base64 backtracked
 * its way into a stack overflow (4 MB of base64 crashed the process), and this is ~5x faster besides.
 */

import { PoisonReason, PoisonRecordError } from '../errors.js';
import { base64ByteLength, recordSizeProblem } from '../limits.js';

/**
 * Record data still in base64, as a file or a Lambda event carries it (a Kinesis record's `Data`, `kinesis.data`):
 * decoded by the record's own processing (decodeRecord), so that its size limit, strictness and quarantine are the
 * same whatever the source, and the decoding runs with the rest of the record's work.
 */
export class Base64Data {
  constructor(
    readonly text: string,
    /** What the text is, for messages: `the Kinesis record's "Data"`. */
    readonly what: string,
  ) {}
}

/**
 * Base64 record data checked and decoded: PoisonRecordError `record-too-large` when it stands for more than
 * MAX_RECORD_BYTES (checked before decoding), `bad-base64` when it is not strict base64. The one place for both.
 */
export function decodeBase64Field(text: string, what: string): Buffer {
  const tooLarge = recordSizeProblem(base64ByteLength(text));
  if (tooLarge !== undefined) throw new PoisonRecordError(PoisonReason.recordTooLarge, `${what} is ${tooLarge}`);
  const bytes = decodeBase64Strict(text);
  if (bytes === undefined) {
    throw new PoisonRecordError(PoisonReason.badBase64, `${what} is not valid base64 (${text.length} characters)`);
  }
  return bytes;
}

/** The bytes, or undefined when `text` is not strict base64. Callers bound `text` first (MAX_RECORD_BYTES). */
export function decodeBase64Strict(text: string): Buffer | undefined {
  if (text.length === 0 || text.length % 4 !== 0) return undefined;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : undefined;
}
