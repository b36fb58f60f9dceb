/**
 * Every error dasguard raises derives from DasguardError; every name ends in `Error`, and `cause` is always
 * passed on. The class decides what happens next:
 * - PoisonRecordError: this record can never be processed (bad JSON, wrong key, tampered payload...). It is
 *   quarantined, counted and skipped; retrying would give the same answer.
 * - TransientError: the outside world failed (KMS throttling, a 5xx, a timeout). Retry; never skip.
 * - UsageError / ConfigError / RuleLoadError: the user has to fix something; exit code 2.
 */
export class DasguardError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Why a record was quarantined. Stable strings: they appear in summaries and quarantine files. */
export const PoisonReason = {
  notJson: 'not-json',
  badEnvelope: 'bad-envelope',
  badBase64: 'bad-base64',
  keyDecrypt: 'key-decrypt-failed',
  payloadDecrypt: 'payload-decrypt-failed',
  notGzip: 'not-gzip',
  payloadNotJson: 'payload-not-json',
  badPayload: 'bad-payload',
  noResourceId: 'no-resource-id',
  badEvent: 'bad-event',
  /** Nested deeper than MAX_JSON_DEPTH (src/limits.ts): an event alone, or a whole plaintext input value. */
  tooDeep: 'too-deep',
  /** Record data over MAX_RECORD_BYTES: refused before it is decoded. */
  recordTooLarge: 'record-too-large',
  /** The gunzipped payload would pass MAX_PAYLOAD_BYTES (a gzip bomb): decompression stopped there. */
  payloadTooLarge: 'payload-too-large',
  /** An input line or top-level JSON value over MAX_INPUT_VALUE_CHARS: skipped without being held. */
  valueTooLarge: 'value-too-large',
} as const;
export type PoisonReason = (typeof PoisonReason)[keyof typeof PoisonReason];

export class PoisonRecordError extends DasguardError {
  readonly reason: PoisonReason;
  constructor(reason: PoisonReason, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.reason = reason;
  }
}

export class TransientError extends DasguardError {}

export class UsageError extends DasguardError {}

export class ConfigError extends DasguardError {}

/** Thrown by a command to end the process with a specific exit code (the CLI maps it in one place). */
export class ExitError extends DasguardError {
  readonly exitCode: number;
  constructor(exitCode: number, message = '') {
    super(message);
    this.exitCode = exitCode;
  }
}

/** Exit codes: documented in the README; the CLI is the only place that turns them into process exits. */
export const ExitCode = {
  ok: 0,
  /** --strict and some records were quarantined */
  quarantined: 1,
  /** `dasguard test`: a rule's embedded test failed */
  ruleTestsFailed: 1,
  /** bad usage, configuration or rule files */
  usage: 2,
  /** --fail-on SEVERITY and an alert at or above it fired */
  alertFired: 3,
  /** a service (KMS, Kinesis...) kept failing after retries: the run stopped without skipping anything */
  unavailable: 4,
  /** an unexpected internal failure */
  internal: 70,
} as const;

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
