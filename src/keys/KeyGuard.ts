/**
 * Tells a wrong configuration from a bad record, around any KeyProvider. It remembers, per encryption context,
 * whether a data key has decrypted yet:
 *
 * - a data key that does not decrypt (PoisonRecordError 'key-decrypt-failed': KMS InvalidCiphertextException, a
 *   key file that does not unwrap it) BEFORE any key of its context has is the configuration's fault (wrong
 *   resource id, key file or KMS key): DataKeyError 'never-decrypted', with `retryAfterInFlight` (records decoded
 *   at the same time may still prove the key right: the record driver lets them settle and asks again);
 * - AFTER one has, it is that record's fault: the PoisonRecordError passes on (quarantined);
 * - a ConfigError of the key service (access denied, key disabled or not found, bad credentials) is
 *   'never-decrypted' before a success (stop at startup) and 'stopped-decrypting' after one (the key broke
 *   mid-stream: `run` holds the record and alerts rather than exit);
 * - anything else (TransientError, bugs) passes on untouched.
 *
 * One guard per key source, shared by everything that decodes with it (every shard of `run`, a Lambda
 * container's invocations). `hint` says what the user should pass or check, in the words of the command.
 */
import { ConfigError, DataKeyError, DataKeyProblem, PoisonReason, PoisonRecordError } from '../errors.js';
import type { EncryptionContext } from '../types.js';
import { canonicalEncryptionContext } from './DataKeyCache.js';
import type { KeyProvider, KeyProviderStats } from './KeyProvider.js';

/** How a KeyGuard words its advice. */
export interface KeyGuardOptions {
  /** Appended to a 'never-decrypted' message: what to pass or check (e.g. "pass the --resource-id ..."). */
  hint?: string;
}

const DEFAULT_HINT =
  'check the resource id (the DbClusterResourceId cluster-… or DbiResourceId db-… of the database that wrote ' +
  'the records, not its name) and the key the records were encrypted with';

export class KeyGuard implements KeyProvider {
  readonly #inner: KeyProvider;
  readonly #hint: string;
  /** Canonical contexts under which a data key has decrypted. */
  readonly #proven = new Set<string>();

  constructor(inner: KeyProvider, options: KeyGuardOptions = {}) {
    this.#inner = inner;
    this.#hint = options.hint ?? DEFAULT_HINT;
  }

  /** `keys` guarded; a guard is returned as it is (its knowledge of the contexts is kept). */
  static wrap(keys: KeyProvider, options?: KeyGuardOptions): KeyGuard {
    return keys instanceof KeyGuard ? keys : new KeyGuard(keys, options);
  }

  async getDataKey(keyCiphertext: Uint8Array, context: EncryptionContext): Promise<Uint8Array> {
    const ctx = canonicalEncryptionContext(context);
    let key: Uint8Array;
    try {
      key = await this.#inner.getDataKey(keyCiphertext, context);
    } catch (err) {
      throw this.#classify(err, ctx);
    }
    this.#proven.add(ctx);
    return key;
  }

  stats(): KeyProviderStats {
    return this.#inner.stats();
  }

  #classify(err: unknown, ctx: string): unknown {
    const proven = this.#proven.has(ctx);
    if (err instanceof PoisonRecordError && err.reason === PoisonReason.keyDecrypt) {
      if (proven) return err;
      return new DataKeyError(
        DataKeyProblem.neverDecrypted,
        `no data key has decrypted under encryption context ${ctx} yet, and this record's did not (${err.message}). ` +
          `A configuration problem, not a bad record (nothing was quarantined): ${this.#hint}`,
        { cause: err, retryAfterInFlight: true, context: ctx },
      );
    }
    if (err instanceof ConfigError && !(err instanceof DataKeyError)) {
      return proven
        ? new DataKeyError(
            DataKeyProblem.stoppedDecrypting,
            `data keys decrypted under encryption context ${ctx} before, but now: ${err.message}`,
            { cause: err, context: ctx },
          )
        : new DataKeyError(DataKeyProblem.neverDecrypted, err.message, { cause: err, context: ctx });
    }
    return err;
  }
}
