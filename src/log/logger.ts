/**
 * The ONE logger: every log line `run`, `watch`, the local stack and the Lambda write (stderr; the Lambda's
 * stdout, CloudWatch Logs) goes through a pino logger opened here.
 *
 * - Not a terminal (a pipe, a file, CloudWatch): one JSON object a line, `{"level":"warn","time":"<ISO>",...fields,
 *   "msg":"..."}`: `level` a label (debug, info, warn, error), `time` ISO 8601, `msg`, then the entry's fields; the
 *   Lambda adds `service: "dasguard"`. Never more than one line (JSON escapes line breaks), and what JSON leaves raw
 *   (C1 controls, U+2028, bidi overrides) is escaped too (inertJson): fields are attacker-controlled.
 * - A terminal: readable lines, `dasguard: warn: msg  key=value`, made terminal-safe (terminalSafe), and the status
 *   line (`status`) kept at the bottom: erased before any other write (a log line, or an alert on stdout through
 *   `wrap`) and drawn again after it, so no line is ever glued onto it.
 *
 * Why pino: structured JSON with levels and child loggers binding fields, fast, and it writes synchronously to the
 * destination it is given (here the command's own stderr, so tests capture it; process.stderr is synchronous for
 * files, pipes and terminals on Linux). The terminal rendering is a destination of ours (no pino-pretty): pino
 * gives it each JSON line, it prints the readable one.
 */
import type { Writable } from 'node:stream';
import { pino, type DestinationStream, type Logger as PinoLogger } from 'pino';
import { inertJson, terminalSafe } from '../util/escape.js';

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const DEFAULT_LOG_LEVEL: LogLevel = 'info';
/** The environment variable of the log level (the CLI's --log-level wins over it; the Lambda has only it). */
export const LOG_LEVEL_ENV = 'DASGUARD_LOG_LEVEL';

/** One log line as callers build it: a level, a message, fields. Never carries decrypted data. */
export interface LogEntry {
  level: LogLevel;
  msg: string;
  [field: string]: unknown;
}

/** What modules that log take: a function of one entry (they need not know the logger). */
export type Log = (entry: LogEntry) => void;

export type Logger = PinoLogger;

export interface LogOptions {
  level?: LogLevel;
  /** Fields on every line (the Lambda's `service`). */
  base?: Record<string, unknown>;
  /** Readable lines and a status line; default: whether `out` is a terminal. */
  terminal?: boolean;
}

/** A logger on one stream, with the terminal's status line (no-ops when the stream is not a terminal). */
export interface LogOutput {
  logger: Logger;
  /** The logger as a function of one entry. */
  log: Log;
  terminal: boolean;
  /** Shows `text` as the status line (a terminal only; nothing when info lines are off). */
  status(text: string): void;
  /** Erases the status line for good (until the next `status`). */
  clear(): void;
  /**
   * `stream` (stdout, a console sink's stream) erasing the status line before each write and drawing it again after
   * a whole line, when it is a terminal too; else `stream` itself.
   */
  wrap<S extends Writable>(stream: S & { isTTY?: boolean }): S;
}

export function openLog(out: Writable & { isTTY?: boolean }, opts: LogOptions = {}): LogOutput {
  const terminal = opts.terminal ?? Boolean(out.isTTY);
  const screen = terminal ? new TerminalScreen(out) : undefined;
  const destination: DestinationStream = screen ?? { write: (line: string) => void out.write(inertJson(line)) };
  const logger = pino(
    {
      level: opts.level ?? DEFAULT_LOG_LEVEL,
      base: opts.base ?? null,
      messageKey: 'msg',
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
  return {
    logger,
    log: entryLog(logger),
    terminal,
    status(text) {
      if (screen && logger.isLevelEnabled('info')) screen.status(text);
    },
    clear() {
      screen?.clear();
    },
    wrap(stream) {
      return screen && stream.isTTY ? screen.around(stream) : stream;
    },
  };
}

/** `logger` as a function of one entry: `{ level, msg, ...fields }`. */
export function entryLog(logger: Logger): Log {
  return ({ level, msg, ...fields }) => logger[level](fields, msg);
}

/** The names a terminal line leaves out (the time: a terminal is read as it happens; the level: its prefix). */
const TERMINAL_OMITS = new Set(['level', 'time', 'msg']);

/** `dasguard: warn: msg  key=value ...` of one JSON line of pino's, terminal-safe; info has no level prefix. */
export function terminalLine(json: string): string {
  const entry = JSON.parse(json) as Record<string, unknown>;
  const level = String(entry.level);
  const fields = Object.entries(entry)
    .filter(([k]) => !TERMINAL_OMITS.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  const msg = String(entry.msg ?? '');
  return `dasguard: ${level === 'info' ? '' : `${level}: `}${terminalSafe(`${msg}${fields ? `  ${fields}` : ''}`)}\n`;
}

const ERASE = '\r\x1b[2K';

/** The terminal: pino's destination (readable lines) and the status line kept below every other line. */
class TerminalScreen implements DestinationStream {
  #text: string | undefined;
  #shown = false;

  constructor(private readonly out: Writable) {}

  write(json: string): void {
    this.#erase();
    this.out.write(terminalLine(json));
    this.#draw();
  }

  status(text: string): void {
    this.#text = terminalSafe(text);
    this.#erase();
    this.#draw();
  }

  clear(): void {
    this.#erase();
    this.#text = undefined;
  }

  around<S extends Writable>(stream: S): S {
    const wrapped = Object.create(stream) as S;
    const write = stream.write.bind(stream) as (...a: unknown[]) => boolean;
    wrapped.write = ((chunk: unknown, ...rest: unknown[]) => {
      this.#erase();
      const ok = write(chunk, ...rest);
      const text = typeof chunk === 'string' ? chunk : Buffer.isBuffer(chunk) ? chunk.toString('utf8') : '';
      if (text.endsWith('\n')) this.#draw();
      return ok;
    }) as S['write'];
    return wrapped;
  }

  #erase(): void {
    if (this.#shown) this.out.write(ERASE);
    this.#shown = false;
  }

  #draw(): void {
    if (this.#text === undefined || this.#shown) return;
    this.out.write(this.#text);
    this.#shown = true;
  }
}
