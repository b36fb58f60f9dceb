/**
 * One Kinesis record of a Database Activity Stream -> its events.
 *
 * Input: the record's data (bytes of the envelope JSON) or an already parsed object. Accepted forms:
 * - the envelope `{type:"DatabaseActivityMonitoringRecords", version, databaseActivityEvents, key}` where
 *   `databaseActivityEvents` is base64 of an Encryption SDK message (what Aurora sends), a plaintext
 *   object (the docs' examples), or that object as a JSON string;
 * - a bare `{type:"DatabaseActivityMonitoringRecord", clusterId, instanceId, databaseActivityEventList}`.
 *
 * Encrypted path: `key` -> KeyProvider (encryption context from the resource id) -> data key ->
 * decryptPayload -> gunzip -> JSON. The data key is zeroed after use. Bounded whatever the input (src/limits.ts):
 * record data over MAX_RECORD_BYTES is refused before it is parsed, and gunzip stops at MAX_PAYLOAD_BYTES.
 *
 * Every failure of the record itself is a PoisonRecordError with a PoisonReason (`encryptedRecord` set once the
 * envelope said the record is encrypted); TransientError and ConfigError from the key provider pass through
 * untouched; an encrypted record whose resource id is unknown is a DataKeyError (the configuration's fault).
 * Events that cannot be used are rejected one by one (the rest of the record is kept).
 */
import { gunzipSync } from 'node:zlib';
import { ConfigError, DataKeyError, DataKeyProblem, PoisonRecordError, PoisonReason } from '../errors.js';
import { encryptionContextFor, type KeyProvider } from '../keys/KeyProvider.js';
import { formatBytes, MAX_PAYLOAD_BYTES, recordSizeProblem } from '../limits.js';
import type { DecodedBatch, EncryptionContext } from '../types.js';
import { normalizeEvents, type RecordContext } from './normalize.js';
import { decryptPayload } from './payload.js';
import { Base64Data, decodeBase64Field } from './base64.js';
import { describeJsonError } from '../util/jsonError.js';
import { quoteShort } from '../util/quote.js';

/** What decodeRecord needs besides the record: the key source, the resource id, the decrypt function. */
export interface DecodeContext {
  keys?: KeyProvider;
  /** The DAS resource id (`cluster-…` or `db-…`) that selects the KMS encryption context. */
  resourceId?: string;
  /**
   * Decrypts an ESDK message with a data key and gunzips it (a RecordPool's `decrypt`). Default: decryptAndGunzip
   * on this thread. Must not keep or modify its arguments; same PoisonRecordErrors as decryptAndGunzip.
   */
  decrypt?: (message: Uint8Array, dataKey: Uint8Array) => Promise<Uint8Array>;
}

export const ENVELOPE_TYPE = 'DatabaseActivityMonitoringRecords';
export const RECORD_TYPE = 'DatabaseActivityMonitoringRecord';
const KNOWN_VERSIONS: readonly string[] = ['1.0', '1.1', '1.2', '1.3', '1.4'];

export async function decodeRecord(
  input: Uint8Array | Base64Data | Record<string, unknown>,
  ctx: DecodeContext,
): Promise<DecodedBatch> {
  const opened = await openRecord(input, ctx);
  if ('batch' in opened) return opened.batch;
  const { sealed } = opened;
  let json: Uint8Array | undefined;
  try {
    json = await (ctx.decrypt ?? decryptAndGunzip)(sealed.message, sealed.dataKey);
  } catch (err) {
    if (err instanceof PoisonRecordError) err.encryptedRecord = true;
    throw err;
  } finally {
    sealed.dataKey.fill(0);
  }
  try {
    return unsealedBatch(json, sealed);
  } finally {
    // Audit plaintext stays in memory no longer than needed.
    json.fill(0);
  }
}

/**
 * An encrypted record once its envelope was read and its data key fetched: what is left to do (decrypt, gunzip,
 * parse, normalise) needs nothing but these, so it may run in a worker thread (src/pipeline/workers/). The holder
 * zeroes `dataKey` once it is used or handed on.
 */
export interface SealedPayload {
  /** The ESDK message (the decoded `databaseActivityEvents`). */
  message: Uint8Array;
  dataKey: Uint8Array;
  /** The envelope's version. */
  version: string;
  /** The envelope's warnings so far. */
  warnings: string[];
}

/**
 * The first half of decodeRecord, on the thread that holds the key source: a plaintext record decoded whole, or an
 * encrypted one's payload and data key (SealedPayload). Same errors as decodeRecord.
 */
export async function openRecord(
  input: Uint8Array | Base64Data | Record<string, unknown>,
  ctx: Pick<DecodeContext, 'keys' | 'resourceId'>,
): Promise<{ batch: DecodedBatch } | { sealed: SealedPayload }> {
  const data = input instanceof Base64Data ? decodeBase64Field(input.text, input.what) : input;
  if (data instanceof Uint8Array) {
    const tooLarge = recordSizeProblem(data.byteLength);
    if (tooLarge !== undefined) throw new PoisonRecordError(PoisonReason.recordTooLarge, `record data is ${tooLarge}`);
  }
  const doc = data instanceof Uint8Array ? parseRecordBytes(data) : data;
  // Parsed here, its event objects are ours to complete in place (normalizeEvents); the caller's are copied.
  const owned = data instanceof Uint8Array;
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new PoisonRecordError(
      PoisonReason.badEnvelope,
      `record is ${Array.isArray(doc) ? 'a JSON array' : `a JSON ${doc === null ? 'null' : typeof doc}`}, ` +
        `not a DAS record object`,
    );
  }
  const obj = doc as Record<string, unknown>;

  if (obj.type === RECORD_TYPE) {
    return { batch: toBatch(obj, null, false, [], owned) };
  }
  if (obj.type !== ENVELOPE_TYPE) {
    throw new PoisonRecordError(
      PoisonReason.badEnvelope,
      obj.type === undefined
        ? `not a DAS record: no "type" field (expected "${ENVELOPE_TYPE}")`
        : `not a DAS record: "type" is ${quoteShort(obj.type)}, expected "${ENVELOPE_TYPE}"`,
    );
  }

  const version = obj.version;
  if (typeof version !== 'string' || version === '') {
    throw new PoisonRecordError(
      PoisonReason.badEnvelope,
      version === undefined ? 'DAS envelope has no "version"' : 'DAS envelope "version" is not a string',
    );
  }
  const warnings: string[] = [];
  if (!KNOWN_VERSIONS.includes(version)) {
    warnings.push(
      `unknown DAS record version ${quoteShort(version)} (known: ${KNOWN_VERSIONS.join(', ')}): decoded best-effort`,
    );
  }

  const events = obj.databaseActivityEvents;
  if (typeof events === 'object' && events !== null && !Array.isArray(events)) {
    return { batch: toBatch(events as Record<string, unknown>, version, false, warnings, owned) };
  }
  if (typeof events !== 'string') {
    throw new PoisonRecordError(
      PoisonReason.badEnvelope,
      events === undefined
        ? 'DAS envelope has no "databaseActivityEvents"'
        : `DAS envelope "databaseActivityEvents" is ${events === null ? 'null' : `a JSON ${Array.isArray(events) ? 'array' : typeof events}`}, expected a base64 string`,
    );
  }
  if (events.trimStart().startsWith('{')) {
    // Plaintext record serialised as a JSON string (base64 never starts with "{").
    return { batch: toBatch(parsePayloadJson(events), version, false, warnings, true) };
  }
  try {
    return { sealed: await openEncrypted(obj, events, version, warnings, ctx) };
  } catch (err) {
    if (err instanceof PoisonRecordError) err.encryptedRecord = true;
    throw err;
  }
}

async function openEncrypted(
  obj: Record<string, unknown>,
  events: string,
  version: string,
  warnings: string[],
  ctx: Pick<DecodeContext, 'keys' | 'resourceId'>,
): Promise<SealedPayload> {
  const payload = decodeBase64(events, 'databaseActivityEvents');
  const keyField = obj.key;
  if (typeof keyField !== 'string' || keyField === '') {
    throw new PoisonRecordError(
      PoisonReason.badEnvelope,
      'DAS envelope has an encrypted "databaseActivityEvents" but no "key" (the encrypted data key)',
    );
  }
  const keyCiphertext = decodeBase64(keyField, 'key');
  if (ctx.keys === undefined) {
    throw new ConfigError('encrypted record but no key source: pass --key-file or configure AWS credentials');
  }
  if (ctx.resourceId === undefined || ctx.resourceId === '') {
    throw new DataKeyError(
      DataKeyProblem.noResourceId,
      'encrypted record but its resource id is unknown: pass --resource-id (the DbClusterResourceId ' +
        '"cluster-…", or DbiResourceId "db-…" for an instance stream) so the data key can be decrypted',
    );
  }
  const context = contextFor(ctx.resourceId);

  const dataKey = await ctx.keys.getDataKey(keyCiphertext, context);
  return { message: payload, dataKey, version, warnings };
}

/**
 * The second half: the decrypted, gunzipped payload of a sealed record -> its batch (parse, normalise). The caller
 * zeroes `json` after; a PoisonRecordError (marked as an encrypted record's) for a payload that is not a DAS record.
 */
export function unsealedBatch(json: Uint8Array, sealed: Pick<SealedPayload, 'version' | 'warnings'>): DecodedBatch {
  try {
    return toBatch(parsePayloadJson(json), sealed.version, true, sealed.warnings, true);
  } catch (err) {
    if (err instanceof PoisonRecordError) err.encryptedRecord = true;
    throw err;
  }
}

/** ESDK message + data key -> decrypted, gunzipped payload bytes (the JSON). The data key is not modified; the
 *  intermediate gzip bytes are zeroed. PoisonRecordError (payload-decrypt-failed, not-gzip, payload-too-large past
 *  MAX_PAYLOAD_BYTES) for a bad payload. */
export async function decryptAndGunzip(message: Uint8Array, dataKey: Uint8Array): Promise<Buffer> {
  const compressed = await decryptPayload(message, dataKey);
  try {
    return gunzip(compressed);
  } finally {
    compressed.fill(0);
  }
}

function parseRecordBytes(data: Uint8Array): unknown {
  const text = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new PoisonRecordError(
      PoisonReason.notJson,
      data.byteLength === 0
        ? 'record is empty, expected DAS envelope JSON'
        : `record is not JSON (${describeJsonError(err)}; ${data.byteLength} bytes)`,
      { cause: err },
    );
  }
}

function contextFor(resourceId: string): EncryptionContext {
  try {
    return encryptionContextFor(resourceId);
  } catch (err) {
    throw new ConfigError(`${(err as Error).message}: check --resource-id`, { cause: err });
  }
}

/** A plaintext envelope (a file input) is not bounded by the record size: its fields are, all the same. */
function decodeBase64(text: string, field: string): Buffer {
  return decodeBase64Field(text, `DAS envelope "${field}"`);
}

function gunzip(data: Uint8Array): Buffer {
  if (data.byteLength < 2 || data[0] !== 0x1f || data[1] !== 0x8b) {
    const head = Buffer.from(data.buffer, data.byteOffset, Math.min(2, data.byteLength)).toString('hex');
    throw new PoisonRecordError(
      PoisonReason.notGzip,
      `decrypted payload is not gzip (starts with 0x${head || '(empty)'}, expected 0x1f8b)`,
    );
  }
  try {
    return gunzipSync(data, { maxOutputLength: MAX_PAYLOAD_BYTES });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new PoisonRecordError(
        PoisonReason.payloadTooLarge,
        `decrypted payload expands past ${formatBytes(MAX_PAYLOAD_BYTES)} (the limit; ${data.byteLength} bytes of gzip): ` +
          `decompression stopped at ${formatBytes(MAX_PAYLOAD_BYTES)}`,
      );
    }
    throw new PoisonRecordError(
      PoisonReason.notGzip,
      `decrypted payload is corrupt gzip: ${(err as Error).message}`,
      { cause: err },
    );
  }
}

function parsePayloadJson(text: string | Uint8Array): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(typeof text === 'string' ? text : Buffer.from(text.buffer, text.byteOffset, text.byteLength).toString('utf8'));
  } catch (err) {
    // JSON.parse's message quotes the text around the error: here that is decrypted audit data, which must not
    // reach logs or quarantine files. Keep only where parsing stopped (and no `cause`, which would carry it).
    const at = /position (\d+)/.exec((err as Error).message)?.[1];
    const where = at !== undefined ? `invalid JSON at byte ${at}` : /end of JSON/i.test((err as Error).message) ? 'truncated JSON' : 'invalid JSON';
    throw new PoisonRecordError(PoisonReason.payloadNotJson, `decrypted payload is not JSON (${where} of ${text.length})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new PoisonRecordError(
      PoisonReason.badPayload,
      `payload is ${Array.isArray(parsed) ? 'a JSON array' : `a JSON ${parsed === null ? 'null' : typeof parsed}`}, expected a ${RECORD_TYPE} object`,
    );
  }
  return parsed as Record<string, unknown>;
}

function toBatch(
  record: Record<string, unknown>,
  version: string | null,
  encrypted: boolean,
  warnings: string[],
  /** The record's objects were parsed by this module (not the caller's): its events are completed in place. */
  owned: boolean,
): DecodedBatch {
  const list = record.databaseActivityEventList;
  if (!Array.isArray(list)) {
    throw new PoisonRecordError(
      PoisonReason.badPayload,
      list === undefined
        ? `${RECORD_TYPE} has no "databaseActivityEventList"`
        : `${RECORD_TYPE} "databaseActivityEventList" is not an array`,
    );
  }
  if (record.type !== RECORD_TYPE) {
    warnings.push(
      `payload "type" is ${record.type === undefined ? 'missing' : quoteShort(record.type)}, expected "${RECORD_TYPE}": decoded best-effort`,
    );
  }
  const ctx: RecordContext = {
    clusterId: typeof record.clusterId === 'string' ? record.clusterId : null,
    instanceId: typeof record.instanceId === 'string' ? record.instanceId : null,
    version,
  };
  const batch: DecodedBatch = {
    clusterId: ctx.clusterId,
    instanceId: ctx.instanceId,
    version,
    events: [],
    heartbeats: [],
    rejected: [],
    warnings,
    encrypted,
  };
  normalizeEvents(list, ctx, batch, owned);
  return batch;
}
