/**
 * A master-key file standing in for KMS: for the bundled samples and for offline tests. It enforces the
 * encryption context exactly like KMS does, so a record of one cluster never decrypts as another's.
 *
 * Key file (JSON): `{"description": "...", "keyId": "dasguard-demo", "key": "<base64 of 32 bytes>"}`.
 *
 * Wrapped data key (the bytes whose base64 is the envelope's `key` field):
 * `"DGK1" | keyId length (1 byte) | keyId (utf8) | iv (12) | ciphertext (32) | GCM tag (16)`,
 * AES-256-GCM under the master key with AAD = `"DGK1"` + canonical JSON of the encryption context.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError, DasguardError, PoisonRecordError, PoisonReason } from '../errors.js';
import type { EncryptionContext } from '../types.js';
import { canonicalEncryptionContext } from './DataKeyCache.js';
import type { KeyProvider, KeyProviderStats } from './KeyProvider.js';

/** Anything that can wrap a data key the way the stream's key source will unwrap it. */
export interface KeyWrapper {
  wrapDataKey(dataKey: Uint8Array, context: EncryptionContext): Promise<Uint8Array> | Uint8Array;
}

export interface LocalKeyFile {
  description: string;
  keyId: string;
  key: string;
}

const MAGIC = Buffer.from('DGK1', 'ascii');
const IV_LENGTH = 12;
const TAG_LENGTH = 16;
const DATA_KEY_LENGTH = 32;
const MASTER_KEY_LENGTH = 32;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export class LocalKeyProvider implements KeyProvider, KeyWrapper {
  readonly keyId: string;
  readonly description: string;
  readonly #masterKey: Buffer;
  readonly #keyIdBytes: Buffer;
  #unwraps = 0;

  private constructor(keyId: string, masterKey: Buffer, description: string) {
    this.keyId = keyId;
    this.description = description;
    this.#masterKey = masterKey;
    this.#keyIdBytes = Buffer.from(keyId, 'utf8');
  }

  /** Loads a key file. Throws ConfigError naming the file and what is wrong with it. */
  static fromFile(path: string): LocalKeyProvider {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new ConfigError(`cannot read key file ${path}: ${(err as Error).message}`, { cause: err });
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new ConfigError(`key file ${path} is not valid JSON: ${(err as Error).message}`, { cause: err });
    }
    return LocalKeyProvider.fromJson(parsed, `key file ${path}`);
  }

  /** Builds a provider from the parsed content of a key file; `source` names it in errors. */
  static fromJson(parsed: unknown, source = 'key file'): LocalKeyProvider {
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new ConfigError(`${source}: expected a JSON object with "keyId" and "key"`);
    }
    const obj = parsed as Record<string, unknown>;
    const { keyId, key, description } = obj;
    if (typeof keyId !== 'string' || keyId.length === 0) {
      throw new ConfigError(`${source}: "keyId" must be a non-empty string`);
    }
    if (Buffer.byteLength(keyId, 'utf8') > 255) {
      throw new ConfigError(`${source}: "keyId" must be at most 255 bytes long`);
    }
    if (typeof key !== 'string') {
      throw new ConfigError(`${source}: "key" must be a string holding the base64 of a 32-byte key`);
    }
    if (!BASE64.test(key)) {
      throw new ConfigError(`${source}: "key" is not valid base64`);
    }
    const masterKey = Buffer.from(key, 'base64');
    if (masterKey.length !== MASTER_KEY_LENGTH) {
      throw new ConfigError(
        `${source}: "key" must decode to ${MASTER_KEY_LENGTH} bytes (AES-256), got ${masterKey.length}`,
      );
    }
    if (description !== undefined && typeof description !== 'string') {
      throw new ConfigError(`${source}: "description" must be a string`);
    }
    return new LocalKeyProvider(keyId, masterKey, description ?? '');
  }

  /** A provider with a fresh random master key (tests, sample generation). */
  static generate(keyId: string, description?: string): LocalKeyProvider {
    return LocalKeyProvider.fromJson(
      {
        keyId,
        key: randomBytes(MASTER_KEY_LENGTH).toString('base64'),
        description: description ?? 'dasguard DEMO master key, never use for real data',
      },
      'generated key',
    );
  }

  /** The key file content (pretty JSON text with a trailing newline), ready to write to disk. */
  toFileJson(): string {
    const file: LocalKeyFile = {
      description: this.description,
      keyId: this.keyId,
      key: this.#masterKey.toString('base64'),
    };
    return `${JSON.stringify(file, null, 2)}\n`;
  }

  /** Wraps a 32-byte data key under the master key, bound to `context` (what Aurora asks KMS to do). */
  wrapDataKey(dataKey: Uint8Array, context: EncryptionContext): Uint8Array {
    if (dataKey.byteLength !== DATA_KEY_LENGTH) {
      throw new DasguardError(`a DAS data key is ${DATA_KEY_LENGTH} bytes, got ${dataKey.byteLength}`);
    }
    const iv = randomBytes(IV_LENGTH);
    const cipher = createCipheriv('aes-256-gcm', this.#masterKey, iv, { authTagLength: TAG_LENGTH });
    cipher.setAAD(aad(context));
    const ciphertext = Buffer.concat([cipher.update(dataKey), cipher.final()]);
    const tag = cipher.getAuthTag();
    const idLen = Buffer.of(this.#keyIdBytes.length);
    return new Uint8Array(Buffer.concat([MAGIC, idLen, this.#keyIdBytes, iv, ciphertext, tag]));
  }

  /**
   * Unwraps synchronously (the loopback KMS server uses this). Throws PoisonRecordError('key-decrypt-failed')
   * naming the context tried when the bytes are not a key wrapped under this key file and this context.
   */
  unwrapDataKey(wrapped: Uint8Array, context: EncryptionContext): Uint8Array {
    this.#unwraps++;
    const bytes = Buffer.from(wrapped.buffer, wrapped.byteOffset, wrapped.byteLength);
    const fail = (what: string, cause?: unknown): PoisonRecordError =>
      new PoisonRecordError(
        PoisonReason.keyDecrypt,
        `data key did not decrypt under encryption context ${canonicalEncryptionContext(context)} ` +
          `with key file key "${this.keyId}": ${what}`,
        cause === undefined ? undefined : { cause },
      );

    if (bytes.length < MAGIC.length + 1 || !bytes.subarray(0, MAGIC.length).equals(MAGIC)) {
      throw fail('not a dasguard wrapped key (no "DGK1" header): is this a real KMS ciphertext?');
    }
    const idLen = bytes[MAGIC.length] as number;
    const idStart = MAGIC.length + 1;
    const ivStart = idStart + idLen;
    const expected = ivStart + IV_LENGTH + DATA_KEY_LENGTH + TAG_LENGTH;
    if (bytes.length !== expected) {
      throw fail(`wrapped key is ${bytes.length} bytes, expected ${expected}`);
    }
    const keyId = bytes.toString('utf8', idStart, ivStart);
    if (keyId !== this.keyId) {
      throw fail(`it was wrapped under key "${keyId}"`);
    }
    const iv = bytes.subarray(ivStart, ivStart + IV_LENGTH);
    const ciphertext = bytes.subarray(ivStart + IV_LENGTH, ivStart + IV_LENGTH + DATA_KEY_LENGTH);
    const tag = bytes.subarray(ivStart + IV_LENGTH + DATA_KEY_LENGTH);
    const decipher = createDecipheriv('aes-256-gcm', this.#masterKey, iv, { authTagLength: TAG_LENGTH });
    decipher.setAAD(aad(context));
    decipher.setAuthTag(tag);
    const out = new Uint8Array(DATA_KEY_LENGTH);
    // GCM releases plaintext before checking the tag: under a wrong context `first` IS the data key.
    let first: Buffer | undefined;
    try {
      first = decipher.update(ciphertext);
      const last = decipher.final();
      out.set(first, 0);
      out.set(last, first.length);
    } catch (err) {
      out.fill(0);
      throw fail('wrong encryption context (resource id), or the wrapped key was tampered with', err);
    } finally {
      first?.fill(0);
    }
    return out;
  }

  async getDataKey(keyCiphertext: Uint8Array, context: EncryptionContext): Promise<Uint8Array> {
    return this.unwrapDataKey(keyCiphertext, context);
  }

  stats(): KeyProviderStats {
    return { backendCalls: this.#unwraps, cacheHits: 0, cacheMisses: 0 };
  }
}

function aad(context: EncryptionContext): Buffer {
  return Buffer.concat([MAGIC, Buffer.from(canonicalEncryptionContext(context), 'utf8')]);
}
