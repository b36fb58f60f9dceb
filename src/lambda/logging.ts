/**
 * The Lambda's log: the one logger (src/log/logger.ts) on stdout (CloudWatch Logs), always JSON lines, each with
 * `level`, `time`, `msg`, `service: "dasguard"` and its fields; DASGUARD_LOG_LEVEL sets the least level. Never
 * carries decrypted data.
 */
import type { Writable } from 'node:stream';
import { openLog, type Log, type LogEntry, type LogLevel } from '../log/logger.js';

/** One structured log line. Never carries decrypted data. */
export type { LogEntry };

export function jsonLog(out: Writable, level?: LogLevel): Log {
  return openLog(out, { base: { service: 'dasguard' }, terminal: false, ...(level !== undefined ? { level } : {}) }).log;
}
