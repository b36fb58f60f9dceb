/**
 * Poison records for the input-limit tests, built with the project's own encoder (src/codec/encode.ts), the sample
 * traffic (scripts/sampleData.ts) and the demo key: records Aurora could never send, but that a valid key, a
 * valid signature and a valid Kinesis record can still carry.
 */
import { gzipSync } from 'node:zlib';
import { encodeCompressedPayload, encodeRecord } from '../../src/codec/encode.js';
import { LocalKeyProvider } from '../../src/keys/LocalKeyProvider.js';
import { PG, benchRecords, type SampleRecord } from '../../scripts/sampleData.js';

export const KEY_FILE = 'samples/demo-master-key.json';
export const MiB = 1024 * 1024;

const keys = () => LocalKeyProvider.fromFile(KEY_FILE);
const encodeOpts = () => ({ resourceId: PG.clusterId, version: PG.version, wrapper: keys() });

/** `[[[…[1]…]]]`: arrays nested `levels` deep, built without recursion. */
export function nested(levels: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < levels; i++) v = [v];
  return v;
}

/** The same as JSON text: arrays nested `levels` deep (JSON.stringify itself overflows the stack on it). */
export function nestedJson(levels: number): string {
  return '['.repeat(levels) + '1' + ']'.repeat(levels);
}

const DEEP = '"(deep value)"';

/**
 * The JSON text of a sample payload record of `events` PostgreSQL events, whose event `deepAt` has a `paramList`
 * nested `levels` deep.
 */
export function payloadWithDeepEvent(levels: number, events = 3, deepAt = 1, seed = 41): string {
  const record: SampleRecord & { type: string } = { type: 'DatabaseActivityMonitoringRecord', ...benchRecords(1, events, seed)[0]! };
  record.databaseActivityEventList[deepAt]!.paramList = JSON.parse(DEEP);
  return JSON.stringify(record).replace(DEEP, nestedJson(levels));
}

/** An encrypted record (valid key, signature and gzip) holding payloadWithDeepEvent. */
export async function deepEventRecord(levels = 5000, events = 3, deepAt = 1, seed = 41): Promise<Uint8Array> {
  return encodeCompressedPayload(gzipSync(payloadWithDeepEvent(levels, events, deepAt, seed)), encodeOpts());
}

/**
 * A valid, signed, encrypted record whose gzip payload expands to `expandedBytes` (a whole number of MiB) of a JSON
 * payload: a record whose one event's commandText is that long. Concatenated gzip members (each 1 MiB of spaces
 * compresses to ~1 KiB), so building it costs no memory: ~1 KiB of record per MiB of payload.
 */
export async function gzipBombRecord(expandedBytes = 256 * MiB): Promise<Uint8Array> {
  const head = `{"type":"DatabaseActivityMonitoringRecord","clusterId":"${PG.clusterId}","instanceId":"${PG.instanceId}",` +
    '"databaseActivityEventList":[{"type":"record","serverType":"PostgreSQL","class":"READ","command":"SELECT","commandText":"';
  const tail = '"}]}';
  const mib = gzipSync(Buffer.alloc(MiB, 0x20), { level: 9 });
  const members = [gzipSync(head), ...Array<Buffer>(Math.ceil(expandedBytes / MiB)).fill(mib), gzipSync(tail)];
  return encodeCompressedPayload(Buffer.concat(members), encodeOpts());
}

/** `n` ordinary encrypted PostgreSQL records of `per` events. */
export async function goodRecords(n: number, per = 2, seed = 43): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for (const r of benchRecords(n, per, seed)) out.push(await encodeRecord(r, encodeOpts()));
  return out;
}

/** A JSON Lines line holding one Kinesis record. */
export function kinesisLine(data: Uint8Array | string, sequenceNumber: string): string {
  const b64 = typeof data === 'string' ? data : Buffer.from(data).toString('base64');
  return JSON.stringify({ StreamName: `aws-rds-das-${PG.clusterId}`, ShardId: 'shardId-000000000000', SequenceNumber: sequenceNumber, PartitionKey: PG.instanceId, Data: b64 });
}
