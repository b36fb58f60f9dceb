/**
 * The payload of a DAS record (`databaseActivityEvents`, base64-decoded) is an AWS Encryption SDK message:
 * format v1, suite 0x0378 (AES-256-GCM, HKDF-SHA384, ECDSA P-384: non-committing and signed), one data key
 * wrapped by a raw AES keyring BC/DataKey under the 32-byte DAS data key. The plaintext is gzip (callers gunzip).
 *
 * decryptPayload is the production path: native node:crypto (esdkNative.ts) for what DAS sends, the stock SDK
 * for anything else. Both verify everything (key unwrap, header auth, every frame, the signature).
 */
import type { RawAesKeyringNode } from '@aws-crypto/client-node';
import { errorMessage, PoisonReason, PoisonRecordError } from '../errors.js';
import { decryptEsdkNative } from './esdkNative.js';

const KEY_NAMESPACE = 'BC';
const KEY_NAME = 'DataKey';

/**
 * The stock SDK, loaded on first use: what DAS sends never needs it (esdkNative.ts), and it weighs ~15 MB of heap
 * in every thread that loads it (each worker of src/pipeline/workers/ would).
 */
let stock: Promise<{ sdk: typeof import('@aws-crypto/client-node'); decryptClient: Client; encryptClient: Client }> | undefined;
type Client = ReturnType<(typeof import('@aws-crypto/client-node'))['buildClient']>;

function stockSdk() {
  return (stock ??= import('@aws-crypto/client-node').then((sdk) => ({
    sdk,
    /** Decrypts what Aurora sends: the default policy (REQUIRE_ENCRYPT_REQUIRE_DECRYPT) refuses suite 0x0378. */
    decryptClient: sdk.buildClient(sdk.CommitmentPolicy.REQUIRE_ENCRYPT_ALLOW_DECRYPT),
    /** Encrypts like Aurora: a non-committing suite, which only FORBID_ENCRYPT_* lets us choose. */
    encryptClient: sdk.buildClient(sdk.CommitmentPolicy.FORBID_ENCRYPT_ALLOW_DECRYPT),
  })));
}

/** The keyring zeroes the key it is given and refuses pooled Buffers: give it its own fresh copy. */
function keyringFor(sdk: typeof import('@aws-crypto/client-node'), dataKey: Uint8Array): RawAesKeyringNode {
  return new sdk.RawAesKeyringNode({
    keyNamespace: KEY_NAMESPACE,
    keyName: KEY_NAME,
    wrappingSuite: sdk.RawAesWrappingSuiteIdentifier.AES256_GCM_IV12_TAG16_NO_PADDING,
    unencryptedMasterKey: new Uint8Array(dataKey),
  });
}

/** Encrypts like Aurora does (suite 0x0378, keyring BC/DataKey, framed). For samples/tests. dataKey: 32 bytes; not modified. */
export async function encryptPayload(plaintext: Uint8Array, dataKey: Uint8Array): Promise<Uint8Array> {
  const { sdk, encryptClient } = await stockSdk();
  const { result } = await encryptClient.encrypt(keyringFor(sdk, dataKey), plaintext, {
    suiteId: sdk.AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384,
  });
  return result;
}

function stockFailure(err: unknown): PoisonRecordError {
  const detail = errorMessage(err);
  // The SDK's words for "no encrypted data key could be decrypted" are misleading: say what it means.
  const hint = /unencryptedDataKey has not been set/i.test(detail)
    ? ` (no encrypted data key for ${KEY_NAMESPACE}/${KEY_NAME} could be decrypted with this data key: ` +
      'wrong data key, or tampered header)'
    : '';
  return new PoisonRecordError(
    PoisonReason.payloadDecrypt,
    `payload decryption failed (AWS Encryption SDK): ${detail}${hint}`,
    { cause: err },
  );
}

/** The reference: stock @aws-crypto/client-node decrypt (buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_ALLOW_DECRYPT),
 *  RawAesKeyringNode). dataKey is not modified (hand the keyring its own fresh Uint8Array copy: it zeroes what it gets
 *  and rejects pooled Buffers). */
export async function stockDecryptPayload(message: Uint8Array, dataKey: Uint8Array): Promise<Uint8Array> {
  const { sdk, decryptClient } = await stockSdk();
  try {
    const { plaintext } = await decryptClient.decrypt(keyringFor(sdk, dataKey), message);
    return plaintext;
  } catch (err) {
    throw stockFailure(err);
  }
}

/** The production path: native node:crypto fast path for what DAS sends; falls back to the stock SDK for any message
 *  the fast path does not handle (other suites/versions), never silently weaker. Same results and same rejections as
 *  stock. Throws PoisonRecordError(PoisonReason.payloadDecrypt, message) on any failure (wrong key, tampered header,
 *  body or signature, truncated, not an ESDK message) with a clear message saying what failed. */
export async function decryptPayload(message: Uint8Array, dataKey: Uint8Array): Promise<Uint8Array> {
  let plaintext: Uint8Array | undefined;
  try {
    plaintext = await decryptEsdkNative(message, dataKey);
  } catch (err) {
    if (err instanceof PoisonRecordError) throw err;
    throw new PoisonRecordError(PoisonReason.payloadDecrypt, `payload decryption failed: ${errorMessage(err)}`, {
      cause: err,
    });
  }
  return plaintext ?? stockDecryptPayload(message, dataKey);
}
