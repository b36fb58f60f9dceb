import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  createCipheriv,
  createECDH,
  createPrivateKey,
  ECDH,
  hkdfSync,
  randomBytes,
  sign,
} from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import {
  AlgorithmSuiteIdentifier,
  buildClient,
  CommitmentPolicy,
  RawAesKeyringNode,
  RawAesWrappingSuiteIdentifier,
} from '@aws-crypto/client-node';
import { decryptPayload, encryptPayload, stockDecryptPayload } from '../../src/codec/payload.js';
import { decryptEsdkNative } from '../../src/codec/esdkNative.js';
import { PoisonReason, PoisonRecordError } from '../../src/errors.js';

const dataKey = randomBytes(32);

/* ---------- helpers ---------- */

const forbidClient = buildClient(CommitmentPolicy.FORBID_ENCRYPT_ALLOW_DECRYPT);
const requireClient = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);

function keyring(key: Uint8Array): RawAesKeyringNode {
  return new RawAesKeyringNode({
    keyNamespace: 'BC',
    keyName: 'DataKey',
    wrappingSuite: RawAesWrappingSuiteIdentifier.AES256_GCM_IV12_TAG16_NO_PADDING,
    unencryptedMasterKey: new Uint8Array(key),
  });
}

/** Stock SDK encryption with any suite / frame length (encryptPayload fixes both). */
async function sdkEncrypt(
  plaintext: Uint8Array,
  opts: { suiteId?: AlgorithmSuiteIdentifier; frameLength?: number; key?: Uint8Array } = {},
): Promise<Buffer> {
  const suiteId = opts.suiteId ?? AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384;
  const committing = suiteId >= 0x0478;
  const client = committing ? requireClient : forbidClient;
  const { result } = await client.encrypt(keyring(opts.key ?? dataKey), plaintext, {
    suiteId,
    ...(opts.frameLength === undefined ? {} : { frameLength: opts.frameLength }),
  });
  return result;
}

/** Resolves with the error a promise rejects with; fails the test if it resolves. */
async function rejection(p: Promise<unknown>): Promise<PoisonRecordError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof PoisonRecordError, `expected a PoisonRecordError, got ${String(err)}`);
    assert.equal(err.reason, PoisonReason.payloadDecrypt);
    return err;
  }
  assert.fail('expected a rejection');
}

/** Both implementations reject `message`; returns decryptPayload's error message. */
async function bothReject(message: Uint8Array, key: Uint8Array = dataKey): Promise<string> {
  await rejection(stockDecryptPayload(message, key));
  return (await rejection(decryptPayload(message, key))).message;
}

/** Offsets inside a framed v1 message (test-side parse, used only to aim the tampering). */
interface Layout {
  headerEnd: number;
  authTag: number;
  bodyStart: number;
  frames: { start: number; content: number; tag: number }[];
  bodyEnd: number;
}
function layout(msg: Buffer): Layout {
  let pos = 22 + msg.readUInt16BE(20);
  const edks = msg.readUInt16BE(pos);
  pos += 2;
  for (let i = 0; i < edks * 3; i++) pos += 2 + msg.readUInt16BE(pos);
  const frameLength = msg.readUInt32BE(pos + 6);
  const headerEnd = pos + 10;
  const bodyStart = headerEnd + 28;
  const frames = [];
  pos = bodyStart;
  for (;;) {
    const final = msg.readUInt32BE(pos) === 0xffffffff;
    const content = pos + (final ? 24 : 16);
    const length = final ? msg.readUInt32BE(pos + 20) : frameLength;
    frames.push({ start: pos, content, tag: content + length });
    pos = content + length + 16;
    if (final) break;
  }
  return { headerEnd, authTag: headerEnd + 12, bodyStart, frames, bodyEnd: pos };
}

function flip(msg: Uint8Array, at: number): Buffer {
  const copy = Buffer.from(msg);
  copy[at] = (copy[at] ?? 0) ^ 0x01;
  return copy;
}

const u16 = (n: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
};
const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const u64 = (n: number): Buffer => Buffer.concat([u32(Math.floor(n / 2 ** 32)), u32(n >>> 0)]);

function gcm(key: Buffer, iv: Buffer, aad: Buffer, clear: Buffer): Buffer {
  const c = createCipheriv(key.length === 32 ? 'aes-256-gcm' : 'aes-128-gcm', key, iv).setAAD(aad);
  return Buffer.concat([c.update(clear), c.final(), c.getAuthTag()]);
}

/**
 * A hand-built suite 0x0378 message following the format spec byte for byte: single-block (non-framed) body,
 * which the JavaScript SDK cannot produce, and the encryption context serialized in the order given (the
 * public key entry's value is filled in). The unwrap AAD is the context exactly as serialized.
 */
function craftSingleBlock(plaintext: Buffer, key: Buffer, context: [string, string][], publicKeyOverride?: string): Buffer {
  const ecdh = createECDH('secp384r1');
  ecdh.generateKeys();
  const pub = ecdh.getPublicKey();
  const signingKey = createPrivateKey({
    key: {
      kty: 'EC',
      crv: 'P-384',
      d: ecdh.getPrivateKey().toString('base64url'),
      x: pub.subarray(1, 49).toString('base64url'),
      y: pub.subarray(49).toString('base64url'),
    },
    format: 'jwk',
  });
  const publicKey = publicKeyOverride ?? ecdh.getPublicKey(undefined, 'compressed').toString('base64');
  const entries = context.map(([k, v]) => [k, k === 'aws-crypto-public-key' ? publicKey : v]);
  const ec = Buffer.concat([
    u16(entries.length),
    ...entries.flatMap(([k, v]) => [u16(Buffer.byteLength(k!)), Buffer.from(k!), u16(Buffer.byteLength(v!)), Buffer.from(v!)]),
  ]);
  const messageDataKey = randomBytes(32);
  const wrapIv = randomBytes(12);
  const wrapped = gcm(key, wrapIv, ec, messageDataKey);
  const info = Buffer.concat([Buffer.from('DataKey'), u32(128), u32(12), wrapIv]);
  const messageId = randomBytes(16);
  const header = Buffer.concat([
    Buffer.from([0x01, 0x80]), u16(0x0378), messageId, u16(ec.length), ec,
    u16(1), u16(2), Buffer.from('BC'), u16(info.length), info, u16(wrapped.length), wrapped,
    Buffer.from([0x01]), u32(0), Buffer.from([12]), u32(0),
  ]);
  const derived = Buffer.from(hkdfSync('sha384', messageDataKey, Buffer.alloc(0), Buffer.concat([u16(0x0378), messageId]), 32));
  const headerIv = randomBytes(12);
  const headerAuth = Buffer.concat([headerIv, gcm(derived, headerIv, header, Buffer.alloc(0))]);
  const bodyIv = randomBytes(12);
  const aad = Buffer.concat([messageId, Buffer.from('AWSKMSEncryptionClient Single Block'), u32(1), u64(plaintext.length)]);
  const body = Buffer.concat([bodyIv, u64(plaintext.length), gcm(derived, bodyIv, aad, plaintext)]);
  const signed = Buffer.concat([header, headerAuth, body]);
  const signature = sign('sha384', signed, { key: signingKey, dsaEncoding: 'der' });
  return Buffer.concat([signed, u16(signature.length), signature]);
}

/* ---------- tests ---------- */

describe('payload crypto', () => {
  it('round-trips a gzip DAS payload', async () => {
    const json = JSON.stringify({
      type: 'DatabaseActivityMonitoringRecord',
      databaseActivityEventList: [{ type: 'record', command: 'SELECT' }],
    });
    const message = await encryptPayload(gzipSync(json), dataKey);
    assert.equal(message[0], 1, 'format v1');
    assert.equal(Buffer.from(message).readUInt16BE(2), 0x0378, 'suite 0x0378');
    const clear = await decryptPayload(message, dataKey);
    assert.equal(gunzipSync(clear).toString(), json);
  });

  it('the native fast path handles what Aurora sends and agrees with the stock SDK on every size', async () => {
    const sizes = [0, 1, 2, 100, 4095, 4096, 4097, 8191, 8192, 8193, 3 * 4096 + 17, 65536, 300_000];
    for (let i = 0; i < 12; i++) sizes.push(Math.floor(Math.random() * 20_000));
    for (const size of sizes) {
      const plaintext = randomBytes(size);
      const message = await encryptPayload(plaintext, dataKey);
      const native = await decryptEsdkNative(message, dataKey);
      assert.ok(native, `native path handled a ${size}-byte payload`);
      assert.deepEqual(native, plaintext, `native, ${size} bytes`);
      assert.deepEqual(Buffer.from(await stockDecryptPayload(message, dataKey)), plaintext, `stock, ${size} bytes`);
      assert.deepEqual(Buffer.from(await decryptPayload(message, dataKey)), plaintext, `decryptPayload, ${size} bytes`);
    }
  });

  it('agrees with the stock SDK around frame boundaries and with tiny frames', async () => {
    for (const frameLength of [1, 7, 100]) {
      for (const size of [0, 1, frameLength - 1, frameLength, frameLength + 1, 2 * frameLength, 5 * frameLength + 3]) {
        if (size < 0) continue;
        const plaintext = randomBytes(size);
        const message = await sdkEncrypt(plaintext, { frameLength });
        const stock = Buffer.from(await stockDecryptPayload(message, dataKey));
        assert.deepEqual(stock, plaintext);
        assert.deepEqual(await decryptEsdkNative(message, dataKey), stock, `frame ${frameLength}, size ${size}`);
      }
    }
  });

  it('decrypts a non-framed (single block) message like the stock SDK', async () => {
    for (const size of [0, 1, 5000]) {
      const plaintext = randomBytes(size);
      const message = craftSingleBlock(plaintext, dataKey, [['aws-crypto-public-key', '']]);
      assert.deepEqual(Buffer.from(await stockDecryptPayload(message, dataKey)), plaintext);
      assert.deepEqual(await decryptEsdkNative(message, dataKey), plaintext);
      const tampered = flip(message, message.length - 120);
      assert.match(await bothReject(tampered), /failed authentication|signature/);
    }
  });

  it('gives the stock answer for encryption contexts the SDK re-serializes in another order', async () => {
    const plaintext = randomBytes(300);
    const sorted = craftSingleBlock(plaintext, dataKey, [['a', '1'], ['aws-crypto-public-key', ''], ['zone', 'x']]);
    assert.deepEqual(Buffer.from(await decryptPayload(sorted, dataKey)), plaintext);
    assert.deepEqual(Buffer.from(await stockDecryptPayload(sorted, dataKey)), plaintext);
    // Unsorted: the SDK unwraps with the sorted context as AAD, which is not what was authenticated.
    const unsorted = craftSingleBlock(plaintext, dataKey, [['zone', 'x'], ['aws-crypto-public-key', ''], ['a', '1']]);
    await bothReject(unsorted);
  });

  it('rejects a signing key that is not a point of the curve, in both implementations', async () => {
    // 0x02 + x: an x with no y on P-384 (found by trial), and an x past the field prime (all ones).
    let offCurve: Buffer | undefined;
    while (offCurve === undefined) {
      const candidate = Buffer.concat([Buffer.from([0x02]), randomBytes(48)]);
      try {
        ECDH.convertKey(candidate, 'secp384r1');
      } catch {
        offCurve = candidate;
      }
    }
    const pastPrime = Buffer.concat([Buffer.from([0x03]), Buffer.alloc(48, 0xff)]);
    for (const point of [offCurve, pastPrime]) {
      const message = craftSingleBlock(randomBytes(100), dataKey, [['aws-crypto-public-key', '']], point.toString('base64'));
      assert.match(await bothReject(message), /the signing public key in the encryption context is not a valid curve point/);
    }
    const short = craftSingleBlock(randomBytes(100), dataKey, [['aws-crypto-public-key', '']], randomBytes(33).toString('base64'));
    assert.match(await bothReject(short), /is 33 bytes, not 49/);
  });

  describe('rejects tampering, in both implementations, with a message saying what failed', () => {
    const plaintext = randomBytes(10_000); // 3 frames of 4096 bytes
    const messagePromise = encryptPayload(plaintext, dataKey).then((m) => Buffer.from(m));

    it('a flipped header byte (frame length field)', async () => {
      const m = await messagePromise;
      const { headerEnd } = layout(m);
      assert.match(await bothReject(flip(m, headerEnd - 1)), /header authentication failed/);
    });
    it('a flipped message id byte', async () => {
      const m = await messagePromise;
      assert.match(await bothReject(flip(m, 10)), /header authentication failed/);
    });
    it('a flipped encrypted data key byte', async () => {
      const m = await messagePromise;
      const { headerEnd } = layout(m);
      assert.match(await bothReject(flip(m, headerEnd - 12)), /data key does not decrypt/);
    });
    it('a flipped header auth tag byte', async () => {
      const m = await messagePromise;
      const { authTag } = layout(m);
      assert.match(await bothReject(flip(m, authTag + 3)), /header authentication failed/);
    });
    it('a flipped frame body byte', async () => {
      const m = await messagePromise;
      const frame = layout(m).frames[1]!;
      assert.match(await bothReject(flip(m, frame.content + 100)), /frame 2 failed authentication/);
    });
    it('a flipped frame tag byte', async () => {
      const m = await messagePromise;
      const frame = layout(m).frames[0]!;
      assert.match(await bothReject(flip(m, frame.tag + 15)), /frame 1 failed authentication/);
    });
    it('a flipped final frame length byte', async () => {
      const m = await messagePromise;
      const final = layout(m).frames.at(-1)!;
      assert.match(await bothReject(flip(m, final.content - 1)), /final frame|failed authentication/);
    });
    it('two frames swapped', async () => {
      const m = await messagePromise;
      const { frames } = layout(m);
      const f1 = frames[0]!;
      const f2 = frames[1]!;
      const size = f2.start - f1.start;
      const swapped = Buffer.concat([
        m.subarray(0, f1.start),
        m.subarray(f2.start, f2.start + size),
        m.subarray(f1.start, f2.start),
        m.subarray(f2.start + size),
      ]);
      assert.match(await bothReject(swapped), /out of order/);
    });
    it('a flipped signature byte', async () => {
      const m = await messagePromise;
      assert.match(await bothReject(flip(m, m.length - 5)), /signature/);
    });
    it('a truncated footer', async () => {
      const m = await messagePromise;
      const { bodyEnd } = layout(m);
      assert.match(await bothReject(m.subarray(0, m.length - 1)), /truncated/);
      assert.match(await bothReject(m.subarray(0, bodyEnd)), /truncated/);
    });
    it('a truncated body', async () => {
      const m = await messagePromise;
      const frame = layout(m).frames[1]!;
      assert.match(await bothReject(m.subarray(0, frame.content + 10)), /truncated/);
    });
    it('appended bytes', async () => {
      const m = await messagePromise;
      assert.match(await bothReject(Buffer.concat([m, Buffer.from([0])])), /trailing/);
      assert.match(await bothReject(Buffer.concat([m, randomBytes(40)])), /trailing/);
    });
    it('a valid message re-signed by nobody: signature of another message', async () => {
      const m = await messagePromise;
      const other = Buffer.from(await encryptPayload(plaintext, dataKey));
      const forged = Buffer.concat([m.subarray(0, layout(m).bodyEnd), other.subarray(layout(other).bodyEnd)]);
      assert.match(await bothReject(forged), /signature verification failed/);
    });
  });

  it('rejects a wrong data key, in both implementations', async () => {
    const message = await encryptPayload(randomBytes(50), dataKey);
    assert.match(await bothReject(message, randomBytes(32)), /wrong data key/);
    assert.match((await rejection(stockDecryptPayload(message, randomBytes(32)))).message, /wrong data key/);
    assert.match(await bothReject(message, randomBytes(16)), /32 bytes/);
  });

  it('decrypts messages of other suites and versions (native where supported, the stock SDK otherwise)', async () => {
    const cases: [AlgorithmSuiteIdentifier, 'native' | 'fallback'][] = [
      [AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA256, 'native'],
      [AlgorithmSuiteIdentifier.ALG_AES128_GCM_IV12_TAG16_HKDF_SHA256, 'native'],
      [AlgorithmSuiteIdentifier.ALG_AES128_GCM_IV12_TAG16_HKDF_SHA256_ECDSA_P256, 'native'],
      [AlgorithmSuiteIdentifier.ALG_AES192_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384, 'native'],
      [AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16, 'fallback'],
      [AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY, 'fallback'],
      [AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY_ECDSA_P384, 'fallback'],
    ];
    for (const [suiteId, path] of cases) {
      const plaintext = randomBytes(5000);
      const message = await sdkEncrypt(plaintext, { suiteId });
      const native = await decryptEsdkNative(message, dataKey);
      if (path === 'native') assert.deepEqual(native, plaintext, `suite ${suiteId.toString(16)} native`);
      else assert.equal(native, undefined, `suite ${suiteId.toString(16)} is left to the SDK`);
      assert.deepEqual(Buffer.from(await decryptPayload(message, dataKey)), plaintext, `suite ${suiteId.toString(16)}`);
      // and tampering is still caught, whichever path handles it
      await bothReject(flip(message, message.length - 1)); // signature or final frame tag
      await bothReject(flip(message, Math.floor(message.length / 2))); // first frame's content
      await bothReject(message, randomBytes(32));
    }
  });

  it('never modifies the data key, and accepts one living in a pooled Buffer', async () => {
    const pooled = Buffer.from(randomBytes(32).toString('hex'), 'hex');
    assert.notEqual(pooled.byteOffset, 0, 'test premise: a pooled Buffer');
    const before = Buffer.from(pooled);
    const message = await encryptPayload(Buffer.from('some gzip bytes'), pooled);
    assert.deepEqual(pooled, before, 'after encryptPayload');
    await stockDecryptPayload(message, pooled);
    assert.deepEqual(pooled, before, 'after stockDecryptPayload');
    await decryptPayload(message, pooled);
    assert.deepEqual(pooled, before, 'after decryptPayload');
    await rejection(decryptPayload(flip(message, message.length - 3), pooled));
    await rejection(stockDecryptPayload(flip(message, message.length - 3), pooled));
    assert.deepEqual(pooled, before, 'after failed decryptions');
    const fallback = await sdkEncrypt(Buffer.from('x'), { suiteId: AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16, key: pooled });
    await decryptPayload(fallback, pooled);
    assert.deepEqual(pooled, before, 'after a fallback decryption');
  });

  it('does not modify the message it decrypts', async () => {
    const message = await encryptPayload(randomBytes(9000), dataKey);
    const before = Buffer.from(message);
    await decryptPayload(message, dataKey);
    assert.deepEqual(Buffer.from(message), before);
  });

  it('rejects garbage with a clear message', async () => {
    assert.match(await bothReject(Buffer.alloc(0)), /empty/);
    assert.match(await bothReject(Buffer.from('{"type":"DatabaseActivityMonitoringRecords"}')), /not an AWS Encryption SDK message/);
    const message = await encryptPayload(randomBytes(10), dataKey);
    assert.match(await bothReject(Buffer.from(Buffer.from(message).toString('base64'))), /base64/);
    assert.match(await bothReject(message.subarray(0, 10)), /truncated/);
    assert.match(await bothReject(message.subarray(0, 60)), /truncated/);
    for (let i = 0; i < 20; i++) {
      const noise = randomBytes(4 + Math.floor(Math.random() * 500));
      noise[0] = 1; // make it look like format v1 so the parser, not the first byte check, has to reject it
      noise[1] = 0x80;
      noise.writeUInt16BE(0x0378, 2);
      await bothReject(noise);
    }
  });
});
