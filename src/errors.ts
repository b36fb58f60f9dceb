/**
 * Every error dasguard raises derives from DasguardError; every name ends in `Error`, and `cause` is always
 * passed on. The class decides what happens next:
 * - PoisonRecordError: this record can never be processed (bad JSON, wrong key, tampered payload...). It is
 *   quarantined, counted and skipped; retrying would give the same answer.
 * - TransientError: the outside world failed (KMS throttling, a 5xx, a timeout). Retry; never skip.
 * - UsageError / ConfigError (and its subclasses DataKeyError, DirLockedError): the user has to fix something;
 *   exit code 2. Rule files with problems end a command through ExitError (src/commands/common.ts).
 * src/cli.ts `main` turns every class into its exit code (`exitCodeOf`); a command adds context with `stopped`.
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
  /** The record's envelope said it was encrypted (set by the decoder): summaries count it as encrypted. */
  encryptedRecord = false;
  constructor(reason: PoisonReason, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.reason = reason;
  }
}

export class TransientError extends DasguardError {}

export class UsageError extends DasguardError {}

export class ConfigError extends DasguardError {}

/** Why the data keys of an encryption context cannot be used. Stable strings: they appear in logs. */
export const DataKeyProblem = {
  /** An encrypted record whose resource id (so its encryption context) is unknown. */
  noResourceId: 'no-resource-id',
  /** No data key has decrypted under this context yet, and this one did not: wrong resource id, key file or key. */
  neverDecrypted: 'never-decrypted',
  /** Data keys decrypted under this context before; now the key service refuses (access revoked, key disabled). */
  stoppedDecrypting: 'stopped-decrypting',
} as const;
export type DataKeyProblem = (typeof DataKeyProblem)[keyof typeof DataKeyProblem];

/**
 * A data key problem that is the configuration's, not the record's (src/keys/KeyGuard.ts decides): the record is
 * not quarantined, and nothing is checkpointed past it.
 */
export class DataKeyError extends ConfigError {
  readonly problem: DataKeyProblem;
  /**
   * Whether the verdict may still change: a record decoded at the same time may prove the key right, and this
   * record damaged. The record driver lets the records in flight settle and tries this one once more first.
   */
  readonly retryAfterInFlight: boolean;
  /** Canonical JSON of the encryption context tried, when there was one. */
  readonly context: string | undefined;
  constructor(
    problem: DataKeyProblem,
    message: string,
    options?: { cause?: unknown; retryAfterInFlight?: boolean; context?: string },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.problem = problem;
    this.retryAfterInFlight = options?.retryAfterInFlight ?? false;
    this.context = options?.context;
  }

  /** The same error, its message prefixed with where the record is (`file:line`, shard and sequence number). */
  at(where: string): DataKeyError {
    return new DataKeyError(this.problem, `${where}: ${this.message}`, {
      cause: this.cause,
      retryAfterInFlight: this.retryAfterInFlight,
      ...(this.context !== undefined ? { context: this.context } : {}),
    });
  }
}

/**
 * A directory (checkpoints, outbox) is locked by another dasguard process: a second writer would corrupt it.
 * Exit code 2, like any ConfigError: the user runs one process per directory, or gives each its own.
 */
export class DirLockedError extends ConfigError {
  constructor(
    message: string,
    readonly lockFile: string,
    /** What the lock file says, when it could be read. */
    readonly holder: { pid: number; host: string; startedAt: string } | undefined,
  ) {
    super(message);
  }
}

/**
 * A shard lease (src/consumer/ShardLeases.ts) is no longer this worker's: another worker took it, or it could not
 * be renewed for a lease duration. Not a failure of the consumer: the shard's reader stops (logged), the others go on.
 */
export class LeaseLostError extends DasguardError {
  constructor(
    message: string,
    /** The shards whose leases were lost. */
    readonly shardIds: readonly string[],
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

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

/**
 * The exit code an error ends a command with: an ExitError's own; 2 for usage and configuration errors; 4 for a
 * TransientError that reached the top (retries ran out, nothing was skipped); undefined for anything else (a bug:
 * src/cli.ts reports it as an internal error).
 */
export function exitCodeOf(err: unknown): number | undefined {
  if (err instanceof ExitError) return err.exitCode;
  if (err instanceof UsageError || err instanceof ConfigError) return ExitCode.usage;
  if (err instanceof TransientError) return ExitCode.unavailable;
  return undefined;
}

/**
 * The stop message of a command that ran out of retries: a TransientError becomes one whose message says so, that
 * nothing was skipped and what to do next (`next`, default `re-run to continue`); any other error is returned
 * unchanged. Exit code 4 either way (`exitCodeOf`). `replay`, `run` and `watch` throw `stopped(err)`.
 */
export function stopped(err: unknown, next = 're-run to continue'): unknown {
  if (!(err instanceof TransientError)) return err;
  return new TransientError(`stopped: ${err.message} (retries exhausted; nothing was skipped: ${next})`, { cause: err });
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
