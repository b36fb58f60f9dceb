/**
 * The Lambda's log adapter: structured JSON lines on stdout (CloudWatch Logs), one object per line with `time` and
 * `service`, and the delivery module's text warnings turned into such lines. Never carries decrypted data.
 */
import { Writable } from 'node:stream';
import { jsonLine } from '../util/escape.js';

/** One structured log line. Never carries decrypted data. */
export type LogEntry = { level: 'info' | 'warn' | 'error'; msg: string } & Record<string, unknown>;

export function jsonLog(out: Writable): (entry: LogEntry) => void {
  return (entry) => {
    out.write(jsonLine({ time: new Date().toISOString(), service: 'dasguard', ...entry }) + '\n');
  };
}

/** Delivery log lines (text on the handoff's stderr) as JSON log lines. */
export function logLines(log: (entry: LogEntry) => void): Writable {
  let buffered = '';
  return new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      buffered += chunk.toString();
      for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
        const line = buffered.slice(0, nl).replace(/^dasguard: (delivery: )?/, '');
        buffered = buffered.slice(nl + 1);
        if (line !== '') log({ level: 'warn', msg: 'delivery', detail: line });
      }
      callback();
    },
  });
}
