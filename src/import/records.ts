/**
 * The importers' shared writer, engine-agnostic: DAS events (already in their engine's record-version shape) ->
 * DAS records (one instance's events; a record closes at `maxEvents` events or when the log time passes into another
 * second, as Aurora batches by time) -> Kinesis JSON Lines, one record a line: the samples/plaintext form (a
 * plaintext envelope) by default, or with a key wrapper the samples/streams form (a Kinesis record whose Data is
 * encrypted like Aurora's, src/codec/encode.ts). Streamed: it holds one open record, and waits for the output to
 * drain, so a multi-GB log goes through in bounded memory. Also: the stream file name replay expects, and the
 * DAS-shaped fake resource ids an import uses when none are given.
 */
import { createHash } from 'node:crypto';
import type { Writable } from 'node:stream';
import { encodeRecord, plaintextEnvelope } from '../codec/encode.js';
import type { KeyWrapper } from '../keys/LocalKeyProvider.js';

/** One DAS event as the engine's record version shapes it (PostgreSQL 1.1, MySQL 1.2 ...). */
export type DasEvent = Record<string, unknown>;

export interface RecordWriterOptions {
  /** `cluster-…`: the record's clusterId and (for encryption) the resource id the data key is bound to. */
  clusterId: string;
  /** `db-…`: the record's instanceId and the Kinesis record's partition key. */
  instanceId: string;
  /** The envelope's record version: "1.1" (PostgreSQL), "1.2" (MySQL). */
  version: string;
  /** Where the JSON Lines go. */
  out: Writable;
  /** With a key: encrypted Kinesis records (samples/streams); without: plaintext envelopes (samples/plaintext). */
  wrapper?: KeyWrapper | undefined;
  /** Events per record at most (default 100). */
  maxEvents?: number | undefined;
}

export interface WriterCounts {
  records: number;
  events: number;
}

/** The default events per record. */
export const DEFAULT_MAX_EVENTS = 100;

/** `aws-rds-das-<resource id>`: the stream name (and, with `.jsonl`, the file name) replay takes the resource id from. */
export function streamNameFor(resourceId: string): string {
  return `aws-rds-das-${resourceId}`;
}

/**
 * A DAS-shaped resource id derived from `seed` (a host name, a constant): `prefix-` and 26 base32 characters of its
 * SHA-256, the form of a real DbClusterResourceId / DbiResourceId (src/sources/streamName.ts RESOURCE_ID_PATTERN).
 * The same seed always gives the same id, so re-imports of one server land in one stream.
 */
export function fakeResourceId(prefix: 'cluster' | 'db', seed: string): string {
  const bytes = createHash('sha256').update(`${prefix}:${seed}`).digest();
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  let id = '';
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5 && id.length < 26) {
      id += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= 0xff;
  }
  return `${prefix}-${id}`;
}

/** "2024-03-05 14:02:11.123456+00" (or any Date-parsable time) -> the second it falls in; undefined when unparsable. */
function secondOf(logTime: unknown): number | undefined {
  if (typeof logTime !== 'string') return undefined;
  const ms = Date.parse(logTime.replace(' ', 'T').replace(/([+-]\d\d)$/, '$1:00'));
  return Number.isNaN(ms) ? undefined : Math.floor(ms / 1000);
}

/** Kinesis sequence numbers are decimal strings of ~56 digits that grow within a shard. */
function sequenceNumber(i: number): string {
  return `4963${'0'.repeat(4)}${String(1_000_000 + i).padStart(48, '0')}`;
}

export class RecordWriter {
  private readonly maxEvents: number;
  private readonly streamName: string;
  private open: DasEvent[] = [];
  private openSecond: number | undefined;
  private readonly counts: WriterCounts = { records: 0, events: 0 };

  constructor(private readonly opts: RecordWriterOptions) {
    this.maxEvents = opts.maxEvents ?? DEFAULT_MAX_EVENTS;
    this.streamName = streamNameFor(opts.clusterId);
  }

  /** Adds one event; the open record is written first when it is full or the event's log time is in a later second. */
  async add(event: DasEvent): Promise<void> {
    const second = secondOf(event.logTime);
    if (this.open.length > 0 && (this.open.length >= this.maxEvents || (second !== undefined && second !== this.openSecond))) await this.flush();
    if (this.open.length === 0) this.openSecond = second;
    this.open.push(event);
  }

  /** Writes the open record (if any). */
  async flush(): Promise<void> {
    if (this.open.length === 0) return;
    const events = this.open;
    const second = this.openSecond;
    this.open = [];
    const record = { clusterId: this.opts.clusterId, instanceId: this.opts.instanceId, databaseActivityEventList: events };
    let line: string;
    if (this.opts.wrapper === undefined) line = JSON.stringify(plaintextEnvelope(record, this.opts.version));
    else {
      const data = await encodeRecord(record, { resourceId: this.opts.clusterId, version: this.opts.version, wrapper: this.opts.wrapper });
      line = JSON.stringify({
        StreamName: this.streamName,
        ShardId: 'shardId-000000000000',
        SequenceNumber: sequenceNumber(this.counts.records),
        PartitionKey: this.opts.instanceId,
        // Aurora's arrival follows the log time closely; the record's second stands in for it.
        ApproximateArrivalTimestamp: second ?? Math.floor(Date.now() / 1000),
        Data: Buffer.from(data).toString('base64'),
      });
    }
    this.counts.records++;
    this.counts.events += events.length;
    if (!this.opts.out.write(line + '\n')) await new Promise<void>((resolve) => this.opts.out.once('drain', resolve));
  }

  /** Writes what is open; the records and events written so far. */
  async end(): Promise<WriterCounts> {
    await this.flush();
    return { ...this.counts };
  }
}

/** Where an importer sends what it reads: each DAS event in log order, and each line it cannot read. */
export interface ImportSink {
  event(event: DasEvent): Promise<void>;
  /** A line (1-based, the first line of a multi-line entry) the importer skipped, and why. */
  problem(file: string, line: number, message: string): void;
}

/**
 * One source format (`dasguard import <name>`): reads its files, streamed, in order, into a sink; what it has to add
 * to the import summary (a join's counts), if anything.
 */
export interface Importer {
  /** The record version of the events it makes: "1.1" (PostgreSQL), "1.2" (MySQL). */
  version: string;
  /** What the default --cluster-id / --instance-id are derived from (fakeResourceId) when none is given. */
  idSeed: string;
  readFiles(paths: string[], sink: ImportSink): Promise<{ summary: string } | void>;
}
