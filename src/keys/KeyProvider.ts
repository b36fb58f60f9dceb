/**
 * Turns the `key` field of a DAS envelope (a KMS ciphertext of the 32-byte data key) into the data key.
 * Adapters: KmsKeyProvider (AWS KMS Decrypt), LocalKeyProvider (a master-key file, for samples and tests).
 * Callers import this interface only.
 */
import { resourceIdProblem } from '../sources/streamName.js';
import type { EncryptionContext } from '../types.js';

/** The data key of a record, from the `key` field's bytes and the encryption context of its resource id. */
export interface KeyProvider {
  /**
   * Returns a FRESH copy of the plaintext data key that the caller owns (and may zero). Throws
   * PoisonRecordError(reason 'key-decrypt-failed') when the ciphertext can never decrypt under this context,
   * TransientError when the service failed in a way worth retrying.
   */
  getDataKey(keyCiphertext: Uint8Array, context: EncryptionContext): Promise<Uint8Array>;
  /** Counters for summaries and benchmarks. */
  stats(): KeyProviderStats;
}

export interface KeyProviderStats {
  /** Calls that reached the backing service (KMS Decrypt calls, local unwraps). */
  backendCalls: number;
  cacheHits: number;
  cacheMisses: number;
}

/**
 * The encryption context Aurora/RDS uses for a DAS data key: cluster streams vs instance streams. Throws when
 * `resourceId` is not a DAS resource id (the one definition: src/sources/streamName.ts).
 */
export function encryptionContextFor(resourceId: string): EncryptionContext {
  const problem = resourceIdProblem(resourceId);
  if (problem !== undefined) throw new Error(`resource id: ${problem}`);
  return resourceId.startsWith('cluster-') ? { 'aws:rds:dbc-id': resourceId } : { 'aws:rds:db-id': resourceId };
}
