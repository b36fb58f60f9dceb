/**
 * The header of an AWS Encryption SDK message, format v1 (byte layout: esdkNative.ts), read and checked for the
 * native decryption in esdkNative.ts: the algorithm suite, the encryption context (kept as the bytes the key unwrap
 * authenticates), the encrypted data keys of the raw AES keyring BC/DataKey, content type, frame length and the
 * header's auth IV and tag. No cryptography happens here. A message of a kind the native path does not handle
 * (format v2, another suite, an encryption context the SDK would re-serialize differently) gives `undefined`, so
 * the caller hands it to the stock SDK; a malformed or truncated header throws a PoisonRecordError.
 */
import type { CipherGCMTypes } from 'node:crypto';
import { PoisonReason, PoisonRecordError } from '../errors.js';

export interface SignatureSpec {
  /** The curve's WebCrypto name: the compressed point is imported as a WebCrypto 'raw' key (esdkNative.ts). */
  readonly namedCurve: 'P-256' | 'P-384';
  readonly hash: 'sha256' | 'sha384';
  /** byte length of the compressed public point */
  readonly compressedLength: number;
}

export interface NativeSuite {
  readonly id: number;
  readonly cipher: CipherGCMTypes;
  readonly keyLength: number;
  readonly kdfHash: 'sha256' | 'sha384';
  readonly signature: SignatureSpec | undefined;
}

const P256: SignatureSpec = { namedCurve: 'P-256', hash: 'sha256', compressedLength: 33 };
const P384: SignatureSpec = { namedCurve: 'P-384', hash: 'sha384', compressedLength: 49 };

const SUITES: ReadonlyMap<number, NativeSuite> = new Map(
  (
    [
      [0x0114, 'aes-128-gcm', 16, 'sha256', undefined],
      [0x0146, 'aes-192-gcm', 24, 'sha256', undefined],
      [0x0178, 'aes-256-gcm', 32, 'sha256', undefined],
      [0x0214, 'aes-128-gcm', 16, 'sha256', P256],
      [0x0346, 'aes-192-gcm', 24, 'sha384', P384],
      [0x0378, 'aes-256-gcm', 32, 'sha384', P384],
    ] as const
  ).map(([id, cipher, keyLength, kdfHash, signature]) => [id, { id, cipher, keyLength, kdfHash, signature }]),
);

export const IV_LENGTH = 12;
export const TAG_LENGTH = 16;
export const MESSAGE_ID_LENGTH = 16;
/** version .. ecLength */
const FIXED_HEADER_LENGTH = 22;
const PUBLIC_KEY_CONTEXT_KEY = 'aws-crypto-public-key';
const PROVIDER_ID = Buffer.from('BC', 'utf8');
export const KEY_NAME = Buffer.from('DataKey', 'utf8');
export const EMPTY = Buffer.alloc(0);
const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export function fail(what: string, cause?: unknown): PoisonRecordError {
  return new PoisonRecordError(
    PoisonReason.payloadDecrypt,
    `payload decryption failed: ${what}`,
    cause === undefined ? undefined : { cause },
  );
}

export function truncated(where: string): PoisonRecordError {
  return fail(`the Encryption SDK message is truncated (${where} incomplete)`);
}

/** What the header says, as esdkNative.ts needs it. Buffers are views of the message, not copies. */
export interface EsdkHeader {
  suite: NativeSuite;
  messageId: Buffer;
  /** The serialized encryption context without its length prefix: the AAD of the data key unwrap. */
  unwrapAad: Buffer;
  /** The encrypted data keys of keyring BC/DataKey (providerInfo, wrapped key + tag), in header order. */
  candidates: { info: Buffer; wrapped: Buffer }[];
  /** How many encrypted data keys the header holds in all. */
  edkCount: number;
  /** 1: a single block; 2: framed. */
  contentType: number;
  frameLength: number;
  /** Where the header (the AAD of its auth tag) ends; its IV and tag follow. */
  headerEnd: number;
  headerIv: Buffer;
  headerTag: Buffer;
  /** Where the body starts. */
  bodyStart: number;
  /** The signing key (`aws-crypto-public-key`, base64 of the compressed point): set exactly for signed suites. */
  publicKeyB64: string | undefined;
}

/**
 * The header of `buf`, or undefined when the message is of a kind the native path does not handle. Throws
 * PoisonRecordError(payloadDecrypt) when the header is malformed or truncated.
 */
export function parseEsdkHeader(buf: Buffer): EsdkHeader | undefined {
  const end = buf.length;

  /* ---- what we handle at all (decided before any cryptography) ---- */
  if (end === 0) throw fail('the payload is empty');
  const version = buf[0];
  if (version !== 1 && version !== 2) {
    const hex = (version ?? 0).toString(16).padStart(2, '0');
    const hint = version === 0x41 ? ' (it looks base64 encoded: decode it first)' : '';
    throw fail(`not an AWS Encryption SDK message: format version byte is 0x${hex}${hint}`);
  }
  if (version !== 1) return undefined;
  if (end < FIXED_HEADER_LENGTH) throw truncated('header');
  if (buf[1] !== 0x80) throw fail(`malformed header: message type 0x${buf[1]?.toString(16)} is not 0x80`);
  const suite = SUITES.get(buf.readUInt16BE(2));
  if (suite === undefined) return undefined;
  const messageId = buf.subarray(4, 4 + MESSAGE_ID_LENGTH);

  /* ---- encryption context ---- */
  const ecLength = buf.readUInt16BE(20);
  const ecStart = FIXED_HEADER_LENGTH;
  const ecEnd = ecStart + ecLength;
  if (ecEnd > end) throw truncated('header (encryption context)');
  let publicKeyB64: string | undefined;
  let pairCount = 0;
  if (ecLength > 0) {
    if (ecLength < 2) throw fail('malformed header: encryption context too short');
    pairCount = buf.readUInt16BE(ecStart);
    let at = ecStart + 2;
    let previousKey: string | undefined;
    const seen = new Set<string>();
    for (let i = 0; i < pairCount; i++) {
      const fields: string[] = [];
      for (let f = 0; f < 2; f++) {
        if (at + 2 > ecEnd) throw fail('malformed header: encryption context entries overrun its length');
        const len = buf.readUInt16BE(at);
        at += 2;
        if (at + len > ecEnd) throw fail('malformed header: encryption context entries overrun its length');
        let text: string;
        try {
          text = utf8Strict.decode(buf.subarray(at, at + len));
        } catch {
          // The SDK decodes lossily and re-serializes what it decoded: let it give its own answer.
          return undefined;
        }
        fields.push(text);
        at += len;
      }
      const [key, value] = fields as [string, string];
      if (seen.has(key)) throw fail(`malformed header: duplicate encryption context key '${key}'`);
      seen.add(key);
      // The unwrap AAD is the context as the SDK re-serializes it (keys sorted by localeCompare). When the
      // header's order differs, the AAD differs from the header bytes: leave that case to the SDK.
      if (previousKey !== undefined && previousKey.localeCompare(key) > 0) return undefined;
      previousKey = key;
      if (key === PUBLIC_KEY_CONTEXT_KEY) publicKeyB64 = value;
    }
    if (at !== ecEnd) throw fail('malformed header: encryption context length does not match its entries');
  }
  // An empty context re-serializes to nothing at all (not to a zero pair count).
  const unwrapAad = pairCount === 0 ? EMPTY : buf.subarray(ecStart, ecEnd);

  /* ---- encrypted data keys ---- */
  let pos = ecEnd;
  if (pos + 2 > end) throw truncated('header (encrypted data keys)');
  const edkCount = buf.readUInt16BE(pos);
  pos += 2;
  if (edkCount === 0) throw fail('malformed header: no encrypted data key');
  const candidates: { info: Buffer; wrapped: Buffer }[] = [];
  for (let i = 0; i < edkCount; i++) {
    const fields: Buffer[] = [];
    for (let f = 0; f < 3; f++) {
      if (pos + 2 > end) throw truncated('header (encrypted data keys)');
      const len = buf.readUInt16BE(pos);
      pos += 2;
      if (pos + len > end) throw truncated('header (encrypted data keys)');
      fields.push(buf.subarray(pos, pos + len));
      pos += len;
    }
    const [providerId, info, wrapped] = fields as [Buffer, Buffer, Buffer];
    if (providerId.equals(PROVIDER_ID) && info.subarray(0, KEY_NAME.length).equals(KEY_NAME)) {
      candidates.push({ info, wrapped });
    }
  }

  /* ---- rest of the header, header auth ---- */
  const headerEnd = pos + 10;
  if (headerEnd + IV_LENGTH + TAG_LENGTH > end) throw truncated('header');
  const contentType = buf[pos] ?? 0;
  if (buf.readUInt32BE(pos + 1) !== 0) throw fail('malformed header: reserved bytes are not zero');
  if (buf[pos + 5] !== IV_LENGTH) throw fail('malformed header: IV length does not match the algorithm suite');
  const frameLength = buf.readUInt32BE(pos + 6);
  if (contentType !== 1 && contentType !== 2) throw fail(`malformed header: unknown content type ${contentType}`);
  const headerIv = buf.subarray(headerEnd, headerEnd + IV_LENGTH);
  const headerTag = buf.subarray(headerEnd + IV_LENGTH, headerEnd + IV_LENGTH + TAG_LENGTH);
  pos = headerEnd + IV_LENGTH + TAG_LENGTH;

  const signature = suite.signature;
  if (signature !== undefined && publicKeyB64 === undefined) {
    throw fail(`malformed header: signed algorithm suite but no '${PUBLIC_KEY_CONTEXT_KEY}' in the encryption context`);
  }
  if (signature === undefined && publicKeyB64 !== undefined) {
    throw fail(`malformed header: unsigned algorithm suite but '${PUBLIC_KEY_CONTEXT_KEY}' in the encryption context`);
  }

  return {
    suite,
    messageId,
    unwrapAad,
    candidates,
    edkCount,
    contentType,
    frameLength,
    headerEnd,
    headerIv,
    headerTag,
    bodyStart: pos,
    publicKeyB64,
  };
}
