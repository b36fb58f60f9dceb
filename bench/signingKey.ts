/**
 * Micro-bench of the per-record signature check (esdkNative.ts verifyFooter): each ESDK message carries its own
 * compressed P-384 public key, so every record pays a key import and one ECDSA verify. Ways of doing it, on the
 * same keys, signatures and signed bytes (2 KB, about a 10-event record), each as µs per record:
 *   - jwk:            decompress (convertKey) -> x, y -> createPublicKey(JWK) -> verify(KeyObject)   (the old way)
 *   - uncompressed:   convertKey -> uncompressed SPKI DER -> createPublicKey -> verify(KeyObject)
 *   - compressed:     compressed point in SPKI DER -> createPublicKey -> verify(KeyObject)
 *   - compressed-der: compressed SPKI DER passed to crypto.verify as {key, format, type} (no KeyObject kept)
 *   - webcrypto-raw:  the compressed point as WebCrypto 'raw' (EC_POINT_oct2point, no DER decoder) ->
 *                     KeyObject.from -> crypto.verify (sync); importKey is async, so this one awaits per record
 *   - import only / verify only: the two halves of `compressed`.
 * Run: `node --import tsx bench/signingKey.ts` (KEYS=n to change the number of keys). Compare within one run.
 */
import { createPublicKey, ECDH, generateKeyPairSync, KeyObject, randomBytes, sign, verify, webcrypto } from 'node:crypto';

const KEYS = Number(process.env.KEYS ?? 2000);
const SIGNED_BYTES = 2048;

/** SubjectPublicKeyInfo DER prefixes for P-384 (secp384r1), as esdkHeader.ts builds them. */
const ALG_P384 = Buffer.from('301006072a8648ce3d020106052b81040022', 'hex');
const SPKI_UNCOMPRESSED = Buffer.concat([Buffer.from([0x30, 0x76]), ALG_P384, Buffer.from([0x03, 0x62, 0x00])]);
const SPKI_COMPRESSED = Buffer.concat([Buffer.from([0x30, 0x46]), ALG_P384, Buffer.from([0x03, 0x32, 0x00])]);

interface Case {
  compressed: Buffer;
  data: Buffer;
  signature: Buffer;
}

function prepare(): Case[] {
  const cases: Case[] = [];
  for (let i = 0; i < KEYS; i++) {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
    const uncompressed = publicKey.export({ format: 'der', type: 'spki' }).subarray(SPKI_UNCOMPRESSED.length);
    const compressed = ECDH.convertKey(uncompressed, 'secp384r1', undefined, undefined, 'compressed') as Buffer;
    const data = randomBytes(SIGNED_BYTES);
    cases.push({ compressed, data, signature: sign('sha384', data, { key: privateKey, dsaEncoding: 'der' }) });
  }
  return cases;
}

const P384_RAW = { name: 'ECDSA', namedCurve: 'P-384' } as const;

const ways: Record<string, (c: Case) => boolean | Promise<boolean>> = {
  jwk: (c) => {
    const point = ECDH.convertKey(c.compressed, 'secp384r1', undefined, undefined, 'uncompressed') as Buffer;
    const key = createPublicKey({
      key: { kty: 'EC', crv: 'P-384', x: point.subarray(1, 49).toString('base64url'), y: point.subarray(49).toString('base64url') },
      format: 'jwk',
    });
    return verify('sha384', c.data, { key, dsaEncoding: 'der' }, c.signature);
  },
  uncompressed: (c) => {
    const point = ECDH.convertKey(c.compressed, 'secp384r1', undefined, undefined, 'uncompressed') as Buffer;
    const key = createPublicKey({ key: Buffer.concat([SPKI_UNCOMPRESSED, point]), format: 'der', type: 'spki' });
    return verify('sha384', c.data, { key, dsaEncoding: 'der' }, c.signature);
  },
  compressed: (c) => {
    const key = createPublicKey({ key: Buffer.concat([SPKI_COMPRESSED, c.compressed]), format: 'der', type: 'spki' });
    return verify('sha384', c.data, { key, dsaEncoding: 'der' }, c.signature);
  },
  'compressed-der': (c) =>
    verify('sha384', c.data, { key: Buffer.concat([SPKI_COMPRESSED, c.compressed]), format: 'der', type: 'spki', dsaEncoding: 'der' }, c.signature),
  'webcrypto-raw': async (c) => {
    const key = KeyObject.from(await webcrypto.subtle.importKey('raw', c.compressed, P384_RAW, true, ['verify']));
    return verify('sha384', c.data, { key, dsaEncoding: 'der' }, c.signature);
  },
};

async function time(cases: Case[], fn: (c: Case) => unknown): Promise<number> {
  const t0 = process.hrtime.bigint();
  for (const c of cases) await fn(c);
  return Number(process.hrtime.bigint() - t0) / 1e3 / cases.length;
}

const cases = prepare();
// Every way agrees on every case (and a tampered signature fails in each).
for (const [name, fn] of Object.entries(ways)) {
  for (const c of cases.slice(0, 50)) {
    if (!(await fn(c))) throw new Error(`${name}: a valid signature did not verify`);
    const bad = Buffer.from(c.data);
    bad[0]! ^= 1;
    if (await fn({ ...c, data: bad })) throw new Error(`${name}: a tampered message verified`);
  }
}
const keys: KeyObject[] = cases.map((c) => createPublicKey({ key: Buffer.concat([SPKI_COMPRESSED, c.compressed]), format: 'der', type: 'spki' }));
const rawKeys = await Promise.all(cases.map(async (c) => KeyObject.from(await webcrypto.subtle.importKey('raw', c.compressed, P384_RAW, true, ['verify']))));
const extra: Record<string, () => Promise<number>> = {
  'import only (compressed)': () => time(cases, (c) => createPublicKey({ key: Buffer.concat([SPKI_COMPRESSED, c.compressed]), format: 'der', type: 'spki' })),
  'import only (convertKey + uncompressed)': () =>
    time(cases, (c) => createPublicKey({ key: Buffer.concat([SPKI_UNCOMPRESSED, ECDH.convertKey(c.compressed, 'secp384r1', undefined, undefined, 'uncompressed') as Buffer]), format: 'der', type: 'spki' })),
  'verify only (KeyObject)': () => {
    let i = 0;
    return time(cases, (c) => verify('sha384', c.data, { key: keys[i++]!, dsaEncoding: 'der' }, c.signature));
  },
  'import only (webcrypto raw)': () => time(cases, (c) => webcrypto.subtle.importKey('raw', c.compressed, P384_RAW, true, ['verify'])),
  'verify only (KeyObject from webcrypto raw)': () => {
    let i = 0;
    return time(cases, (c) => verify('sha384', c.data, { key: rawKeys[i++]!, dsaEncoding: 'der' }, c.signature));
  },
};

console.log(`signing key import + ECDSA P-384 verify, ${KEYS} keys, ${SIGNED_BYTES} signed bytes, node ${process.version}\n`);
const results = new Map<string, number[]>();
// Interleaved rounds, so that a neighbour's load hits every way alike; the best round of each is reported.
for (let round = 0; round < 3; round++) {
  for (const [name, fn] of Object.entries(ways)) results.set(name, [...(results.get(name) ?? []), await time(cases, fn)]);
  for (const [name, fn] of Object.entries(extra)) results.set(name, [...(results.get(name) ?? []), await fn()]);
}
const base = Math.min(...results.get('uncompressed')!);
const width = Math.max(...[...results.keys()].map((k) => k.length));
console.log(`${'way'.padEnd(width)}  µs/record (best of 3)  vs uncompressed`);
for (const [name, us] of results) {
  const best = Math.min(...us);
  console.log(`${name.padEnd(width)}  ${best.toFixed(1).padStart(21)}  ${(best / base).toFixed(2).padStart(14)}`);
}
