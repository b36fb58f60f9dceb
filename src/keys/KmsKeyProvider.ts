/**
 * KeyProvider backed by AWS KMS `Decrypt`, with a DataKeyCache in front (one KMS call per distinct data
 * key instead of one per record).
 *
 * The client is injected OR built from `clientConfig`, never both. Built with no config, it uses the standard
 * SDK configuration: credential chain, region, profiles, `AWS_ENDPOINT_URL_KMS`.
 *
 * Errors: a ciphertext that cannot decrypt under the context (wrong resource id, another key, garbage) is a
 * PoisonRecordError('key-decrypt-failed') naming the context tried; throttling, KMS internal errors, 5xx and
 * network failures are TransientError (retry, do not skip); access, key state, credential and region
 * problems are ConfigError (every record would fail: stop, do not quarantine the stream).
 */
import { DecryptCommand, KMSClient, type KMSClientConfig } from '@aws-sdk/client-kms';
import { awsErrorInfo, classifyAwsError } from '../aws/errors.js';
import { ConfigError, PoisonRecordError, PoisonReason } from '../errors.js';
import type { EncryptionContext } from '../types.js';
import { canonicalEncryptionContext, DataKeyCache, type DataKeyCacheOptions } from './DataKeyCache.js';
import type { KeyProvider, KeyProviderStats } from './KeyProvider.js';

/** A KMS client or its configuration (not both), the cache, and optionally the key id Decrypt must use. */
export type KmsKeyProviderOptions = (
  | { client: KMSClient; clientConfig?: never }
  | { clientConfig?: KMSClientConfig; client?: never }
) & {
  /** Cache settings, or an existing cache to share; `false` disables caching. */
  cache?: DataKeyCacheOptions | DataKeyCache | false;
  /** When set, sent as Decrypt's `KeyId`: KMS then refuses ciphertexts of any other key. */
  keyId?: string;
};

const DATA_KEY_LENGTH = 32;

/** KMS error names that mean "this ciphertext will never decrypt under this context". */
const POISON_ERRORS = new Set(['InvalidCiphertextException', 'ValidationException']);

export class KmsKeyProvider implements KeyProvider {
  readonly #client: KMSClient;
  readonly #cache: DataKeyCache | undefined;
  readonly #keyId: string | undefined;
  #backendCalls = 0;
  #uncachedRequests = 0;

  constructor(options: KmsKeyProviderOptions = {}) {
    this.#client = options.client ?? new KMSClient(options.clientConfig ?? {});
    const cache = options.cache ?? {};
    this.#cache = cache === false ? undefined : cache instanceof DataKeyCache ? cache : new DataKeyCache(cache);
    this.#keyId = options.keyId;
  }

  async getDataKey(keyCiphertext: Uint8Array, context: EncryptionContext): Promise<Uint8Array> {
    if (this.#cache === undefined) {
      this.#uncachedRequests++;
      return this.#decrypt(keyCiphertext, context);
    }
    return this.#cache.get(keyCiphertext, context, () => this.#decrypt(keyCiphertext, context));
  }

  async #decrypt(keyCiphertext: Uint8Array, context: EncryptionContext): Promise<Uint8Array> {
    this.#backendCalls++;
    let plaintext: Uint8Array | undefined;
    try {
      const out = await this.#client.send(
        new DecryptCommand({
          CiphertextBlob: keyCiphertext,
          EncryptionContext: context,
          ...(this.#keyId !== undefined ? { KeyId: this.#keyId } : {}),
        }),
      );
      plaintext = out.Plaintext;
    } catch (err) {
      throw classifyKmsError(err, context);
    }
    if (plaintext === undefined || plaintext.byteLength !== DATA_KEY_LENGTH) {
      const got = plaintext === undefined ? 'no plaintext' : `${plaintext.byteLength} bytes`;
      plaintext?.fill(0);
      throw new PoisonRecordError(
        PoisonReason.keyDecrypt,
        `KMS decrypted the data key under encryption context ${canonicalEncryptionContext(context)} but ` +
          `returned ${got}, not a ${DATA_KEY_LENGTH}-byte DAS data key`,
      );
    }
    // The SDK's buffer may be a view of a shared pool: keep an isolated copy, wipe the original.
    const key = new Uint8Array(DATA_KEY_LENGTH);
    key.set(plaintext);
    plaintext.fill(0);
    return key;
  }

  stats(): KeyProviderStats {
    const cache = this.#cache?.stats();
    return {
      backendCalls: this.#backendCalls,
      cacheHits: cache?.hits ?? 0,
      cacheMisses: cache?.misses ?? this.#uncachedRequests,
    };
  }

  /** Zeroes every cached data key. */
  clearCache(): void {
    this.#cache?.clear();
  }
}

/** Maps an error of KMS Decrypt (or of the SDK around it) to the dasguard error class deciding what happens. */
function classifyKmsError(err: unknown, context: EncryptionContext): Error {
  const info = awsErrorInfo(err);
  const ctx = canonicalEncryptionContext(context);
  if (POISON_ERRORS.has(info.name)) {
    return new PoisonRecordError(
      PoisonReason.keyDecrypt,
      `KMS could not decrypt the data key under encryption context ${ctx} (${info.summary}). ` +
        'Check that the resource id is the DAS resource id of the cluster (cluster-…) or instance (db-…) ' +
        'that wrote the record, not its name.',
      { cause: err },
    );
  }
  if (info.name === 'IncorrectKeyException') {
    // Only with a pinned key id (DASGUARD_KMS_KEY_ID): the stream's data keys are under another KMS key. Every
    // record of the stream fails alike, so this is the configuration (a stream moved to a new key), not the record.
    return new ConfigError(
      `KMS refused to decrypt the data key under encryption context ${ctx}: it was encrypted under another KMS key than ` +
        `the pinned one (${info.summary}). Did the activity stream move to a new KMS key? Update the pinned key id.`,
      { cause: err },
    );
  }
  return classifyAwsError(err, `KMS Decrypt for encryption context ${ctx}`, {
    configHint: 'the AWS credentials, region, permissions (kms:Decrypt) or key state',
  });
}
