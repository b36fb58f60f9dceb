/**
 * The inverse of decode.ts: builds Kinesis record data of the same form as Aurora's, for samples, tests and
 * benchmarks. Payload JSON -> gzip -> Encryption SDK message (suite 0x0378, keyring BC/DataKey) under a data
 * key -> base64; the data key is wrapped under the resource id's encryption context -> base64.
 */
import { randomFillSync } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { encryptionContextFor } from '../keys/KeyProvider.js';
import type { KeyWrapper } from '../keys/LocalKeyProvider.js';
import { ENVELOPE_TYPE, RECORD_TYPE } from './decode.js';
import { encryptPayload } from './payload.js';

/** The payload of one record: a cluster, an instance and the events. */
export interface ActivityRecordInput {
  clusterId: string;
  instanceId: string;
  databaseActivityEventList: unknown[];
  /** Defaults to "DatabaseActivityMonitoringRecord". */
  type?: string;
}

export interface EncodeOptions {
  /** `cluster-…` or `db-…`: selects the encryption context the data key is wrapped under. */
  resourceId: string;
  /** Envelope version ("1.0" … "1.4"). */
  version: string;
  wrapper: KeyWrapper;
  /** 32 bytes; a fresh random key when absent. Not modified. */
  dataKey?: Uint8Array;
}

function payloadObject(record: ActivityRecordInput): Record<string, unknown> {
  return {
    type: record.type ?? RECORD_TYPE,
    clusterId: record.clusterId,
    instanceId: record.instanceId,
    databaseActivityEventList: record.databaseActivityEventList,
  };
}

/** Envelope JSON bytes, encrypted like Aurora's. */
export async function encodeRecord(record: ActivityRecordInput, opts: EncodeOptions): Promise<Uint8Array> {
  return encodeCompressedPayload(gzipSync(JSON.stringify(payloadObject(record))), opts);
}

/**
 * Envelope JSON bytes around a payload that is already compressed (normally gzip of the payload JSON), encrypted
 * and wrapped like Aurora's: for tests that need a payload no event list gives (a gzip bomb, corrupt gzip).
 */
export async function encodeCompressedPayload(compressed: Uint8Array, opts: EncodeOptions): Promise<Uint8Array> {
  const context = encryptionContextFor(opts.resourceId);
  const ownKey = opts.dataKey === undefined;
  const dataKey = opts.dataKey ?? randomFillSync(new Uint8Array(32));
  try {
    const message = await encryptPayload(compressed, dataKey);
    const wrapped = await opts.wrapper.wrapDataKey(new Uint8Array(dataKey), context);
    const envelope = {
      type: ENVELOPE_TYPE,
      version: opts.version,
      databaseActivityEvents: toBase64(message),
      key: toBase64(wrapped),
    };
    return new Uint8Array(Buffer.from(JSON.stringify(envelope), 'utf8'));
  } finally {
    if (ownKey) dataKey.fill(0);
  }
}

/** The plaintext twin of an encoded record, in the form of the docs' examples. */
export function plaintextEnvelope(record: ActivityRecordInput, version: string): Record<string, unknown> {
  return {
    type: ENVELOPE_TYPE,
    version,
    databaseActivityEvents: payloadObject(record),
    key: 'decryption-key',
  };
}

function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}
