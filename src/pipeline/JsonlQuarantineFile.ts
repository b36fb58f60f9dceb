/**
 * Replay's and decode's quarantine sink (`--quarantine-file`): one JSON line per entry, appended, mode 0600:
 * `{"source": position, ...Quarantined, "raw"}` where `raw` is the input as read (base64 of a Kinesis record's data,
 * the head of a line that was not JSON, a plaintext record), absent for an event quarantined alone.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { Base64Data } from '../codec/base64.js';
import { formatPosition, type SourceRecord } from '../types.js';
import { jsonLine } from '../util/escape.js';
import { writeLine } from './output.js';
import type { Quarantined } from './processRecord.js';
import type { QuarantineOrigin, QuarantineSink } from './QuarantineSink.js';

export class JsonlQuarantineFile implements QuarantineSink {
  readonly #out: WriteStream;

  constructor(path: string) {
    this.#out = createWriteStream(path, { flags: 'a', mode: 0o600 });
  }

  async put(q: Quarantined, origin: QuarantineOrigin): Promise<void> {
    const raw = origin.raw ?? (q.eventIndex === undefined && origin.record ? rawOf(origin.record) : undefined);
    await writeLine(this.#out, jsonLine({ source: formatPosition(q.position), ...q, raw }));
  }

  /** Ends the file; resolves once it is written. */
  close(): Promise<void> {
    return new Promise<void>((resolve, reject) => this.#out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  }
}

function rawOf(record: SourceRecord): unknown {
  if (record.data instanceof Base64Data) return record.data.text;
  return record.data instanceof Uint8Array ? Buffer.from(record.data).toString('base64') : record.data;
}
