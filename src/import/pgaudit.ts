/**
 * `dasguard import pgaudit`: a PostgreSQL csvlog or jsonlog (log_destination = csvlog / jsonlog) -> DAS PostgreSQL
 * record version 1.1 events, streamed line by line. What becomes an event:
 * - a pgaudit `AUDIT: SESSION|OBJECT,...` LOG line: its class, command, object, statement, parameters (and rows
 *   with pgaudit.log_rows);
 * - `connection authorized` -> MISC/CONNECT; `disconnection` -> MISC/DISCONNECT;
 * - a FATAL failed login (SQLSTATE class 28: 28P01 bad password, 28000 no pg_hba entry) -> MISC/AUTH FAILURE with
 *   exitCode and errorMessage, as public consumers match it on Aurora (/work/shared/das-notes.md);
 * - an ERROR line: its message and SQLSTATE go on the statement's event when pgaudit logged that statement just
 *   before in the same session (held back until the session's next line for that reason), else an event of its own.
 * - with the server's own `log_statement` on, a `statement: ...` line that no pgaudit line of its session covers (a
 *   statement of a class pgaudit.log leaves out, and every statement after `SET pgaudit.log = 'none'`, which pgaudit
 *   itself cannot log) -> an event of its own: class MISC (MISC_SET for SET/RESET), the statement's leading command.
 * Other log lines (checkpoints, startup...) are not activity and are skipped silently. A line that cannot be read
 * (a broken CSV record, bad JSON, a time it cannot convert) is sent to the sink as a problem with its file:line.
 * Reading the log into entries is ./pgLog.ts.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { leadingCommand } from '../sql/statement.js';
import { CsvRecordReader, dasLogTime, entryFromCsv, entryFromJson, MAX_RECORD_CHARS, orNull, splitCsvLine, type LogEntry } from './pgLog.js';
import type { DasEvent, ImportSink, Importer } from './records.js';

const AUDIT_PREFIX = 'AUDIT: ';
const NOT_LOGGED = '<not logged>';
const NO_PARAMETERS = '<none>';

/** The fields every event of an entry shares (record version 1.1). */
function baseEvent(e: LogEntry, logTime: string): DasEvent {
  return {
    type: 'record',
    startTime: logTime,
    logTime,
    statementId: 0,
    substatementId: 1,
    class: 'MISC',
    command: null,
    objectType: null,
    objectName: null,
    databaseName: e.database,
    dbUserName: e.user,
    remoteHost: e.remoteHost,
    remotePort: e.remotePort,
    sessionId: e.sessionId,
    rowCount: null,
    commandText: null,
    paramList: [],
    pid: e.pid,
    clientApplication: e.application,
    exitCode: null,
    errorMessage: null,
    serverType: 'PostgreSQL',
    serviceName: 'PostgreSQL',
    serverVersion: null,
    serverHost: null,
    netProtocol: e.remoteHost === '[local]' ? 'UNIX' : 'TCP',
    dbProtocol: 'Postgres 3.0',
  };
}

/**
 * A pgaudit AUDIT message -> the event's own fields, or why not. The message is a CSV line: AUDIT_TYPE,
 * STATEMENT_ID, SUBSTATEMENT_ID, CLASS, COMMAND, OBJECT_TYPE, OBJECT_NAME, STATEMENT, PARAMETER (`<not logged>` without pgaudit.log_parameter, `<none>` for no
 * parameters), and ROWS last with pgaudit.log_rows.
 */
export function auditFields(message: string): DasEvent | string {
  const f = splitCsvLine(message.slice(AUDIT_PREFIX.length));
  if (f === undefined || f.length < 9) return `pgaudit AUDIT line with ${f === undefined ? 'an open quote' : `${f.length} fields, expected 9 or 10`}`;
  const [, statementId, substatementId, cls, command, objectType, objectName, statement] = f as [string, string, string, string, string, string, string, string];
  const parameter = f[8]!;
  const rows = f[9];
  if (!/^\d+$/.test(statementId) || !/^\d+$/.test(substatementId)) return `pgaudit AUDIT line with statement id ${JSON.stringify(statementId)}, substatement id ${JSON.stringify(substatementId)}`;
  let paramList: string[] = [];
  if (parameter !== NOT_LOGGED && parameter !== NO_PARAMETERS && parameter !== '') paramList = splitCsvLine(parameter) ?? [parameter];
  return {
    statementId: Number(statementId),
    substatementId: Number(substatementId),
    class: cls,
    command,
    objectType: orNull(objectType),
    objectName: orNull(objectName),
    commandText: statement === NOT_LOGGED ? null : statement,
    rowCount: rows !== undefined && /^\d+$/.test(rows) ? Number(rows) : null,
    paramList,
  };
}

/**
 * A statement pgaudit did not log (it failed before pgaudit saw it: a syntax error) has no statement id: statementId 0,
 * and its line's number in the session as substatementId, so that two such errors of a session within one millisecond
 * (an injection scan) stay two events, not one event seen twice.
 */
function unnumbered(e: LogEntry): { substatementId: number } | Record<string, never> {
  return e.sessionLine !== null ? { substatementId: e.sessionLine } : {};
}

/** The `log_statement` line of a statement (simple protocol `statement: `, extended `execute <name>: `), or undefined. */
const STATEMENT_LINE = /^(?:statement|execute [^:]*): /;

/** pgaudit's class of a leading command, for the statements it did not log itself (its own classes: docs/import.md). */
function pgauditClass(command: string | null): string {
  if (command === null) return 'MISC';
  if (/^(CREATE|ALTER|DROP) (ROLE|USER|GROUP)\b|^(GRANT|REVOKE)\b/.test(command)) return 'ROLE';
  if (/^(SET|RESET)\b/.test(command) && command !== 'SET TRANSACTION') return 'MISC_SET';
  if (/^(SELECT|WITH|TABLE|VALUES)\b/.test(command)) return 'READ';
  if (/^(INSERT|UPDATE|DELETE|MERGE|TRUNCATE)\b/.test(command)) return 'WRITE';
  if (/^(CREATE|ALTER|DROP|COMMENT|SECURITY LABEL)\b/.test(command) && command !== 'ALTER SYSTEM') return 'DDL';
  return 'MISC';
}

/**
 * The event of a statement the server logged (log_statement) and pgaudit did not: its class and command as pgaudit
 * would give them, taken from the text.
 */
function statementEvent(e: LogEntry, logTime: string, text: string): DasEvent {
  const command = leadingCommand(text, 'postgresql');
  return { ...baseEvent(e, logTime), ...unnumbered(e), class: pgauditClass(command), command, commandText: text };
}

/** SQLSTATE class 28: invalid authorization (28P01 bad password, 28000 no pg_hba.conf entry / role does not exist). */
function isAuthFailure(e: LogEntry): boolean {
  return e.severity === 'FATAL' && e.sqlState !== null && e.sqlState.startsWith('28');
}

/** Maps log entries to events, holding each session's last audited statement until its next line (for its ERROR). */
export class PgauditMapper {
  /** Per session: the events of its last audited statement, not yet sent. */
  private readonly held = new Map<string, DasEvent[]>();
  /** Per session: the statement its last `log_statement` line named, until a pgaudit line covers it or another line comes. */
  private readonly unaudited = new Map<string, DasEvent>();

  constructor(private readonly emit: (e: DasEvent) => Promise<void>) {}

  /** Maps one entry; a string is why it cannot be read. */
  async entry(e: LogEntry): Promise<string | undefined> {
    const logTime = dasLogTime(e.logTime);
    if (logTime === undefined) return `log time ${JSON.stringify(e.logTime)} not understood (set log_timezone = 'UTC')`;
    const session = e.sessionId ?? `pid:${e.pid}`;
    if (e.severity === 'LOG' && e.message.startsWith(AUDIT_PREFIX)) {
      const fields = auditFields(e.message);
      if (typeof fields === 'string') return fields;
      this.unaudited.delete(session); // pgaudit logged the statement the server logged before it
      const event = { ...baseEvent(e, logTime), ...fields };
      const held = this.held.get(session);
      // substatements of the held statement stay with it; a new statement sends the held one first
      if (held !== undefined && held[0]!.statementId === event.statementId) held.push(event);
      else {
        await this.release(session);
        this.held.set(session, [event]);
      }
      return undefined;
    }
    const statement = e.severity === 'LOG' ? STATEMENT_LINE.exec(e.message) : null;
    if (statement !== null) {
      await this.releaseUnaudited(session);
      await this.release(session);
      this.unaudited.set(session, statementEvent(e, logTime, e.message.slice(statement[0].length)));
      return undefined;
    }
    if (e.severity === 'ERROR') {
      const pending = this.unaudited.get(session);
      // the statement the server logged (and pgaudit did not) fails: its error goes on its event
      if (pending !== undefined && (e.query === null || e.query === pending.commandText)) {
        this.unaudited.delete(session);
        pending.exitCode = e.sqlState;
        pending.errorMessage = e.message;
        await this.release(session);
        await this.emit(pending);
        return undefined;
      }
      await this.releaseUnaudited(session);
      const held = this.held.get(session);
      // the statement pgaudit logged just before fails: its error goes on its event (the one whose text failed)
      if (held !== undefined) {
        const target = held.find((h) => e.query !== null && h.commandText === e.query) ?? (e.query === null ? held[0] : undefined);
        if (target !== undefined) {
          target.exitCode = e.sqlState;
          target.errorMessage = e.message;
          await this.release(session);
          return undefined;
        }
      }
      await this.release(session);
      await this.emit({ ...baseEvent(e, logTime), ...unnumbered(e), command: 'ERROR', commandText: e.query, exitCode: e.sqlState, errorMessage: e.message });
      return undefined;
    }
    await this.releaseUnaudited(session);
    await this.release(session);
    if (e.severity === 'LOG' && e.message.startsWith('connection authorized:')) {
      // csvlog's application_name column is still empty on this line: the message names it
      const app = /application_name=(\S+)/.exec(e.message)?.[1];
      await this.emit({ ...baseEvent(e, logTime), command: 'CONNECT', ...(app !== undefined && e.application === null ? { clientApplication: app } : {}) });
    } else if (e.severity === 'LOG' && e.message.startsWith('disconnection:')) {
      await this.emit({ ...baseEvent(e, logTime), command: 'DISCONNECT' });
    } else if (isAuthFailure(e)) {
      await this.emit({ ...baseEvent(e, logTime), command: 'AUTH FAILURE', exitCode: e.sqlState, errorMessage: e.message });
    } else if (e.severity === 'FATAL' && e.sessionId !== null && e.user !== null) {
      // a session ended by an error (database does not exist, terminated by an administrator...)
      await this.emit({ ...baseEvent(e, logTime), ...unnumbered(e), command: 'ERROR', commandText: e.query, exitCode: e.sqlState, errorMessage: e.message });
    }
    return undefined;
  }

  private async release(session: string): Promise<void> {
    const held = this.held.get(session);
    if (held === undefined) return;
    this.held.delete(session);
    for (const ev of held) await this.emit(ev);
  }

  /** Sends the session's logged statement that no pgaudit line covered. */
  private async releaseUnaudited(session: string): Promise<void> {
    const pending = this.unaudited.get(session);
    if (pending === undefined) return;
    this.unaudited.delete(session);
    await this.emit(pending);
  }

  /** Sends what is still held (end of input). */
  async end(): Promise<void> {
    for (const session of [...this.unaudited.keys()]) await this.releaseUnaudited(session);
    for (const session of [...this.held.keys()]) await this.release(session);
  }
}

/** Reads one file (csvlog or jsonlog, told by its first character) into the mapper; problems go to the sink. */
async function readFile(path: string, mapper: PgauditMapper, sink: ImportSink): Promise<void> {
  const lines = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
  const csv = new CsvRecordReader();
  let format: 'csv' | 'json' | undefined;
  let lineNo = 0;
  let recordLine = 0;
  for await (const line of lines) {
    lineNo++;
    if (!csv.pending) {
      recordLine = lineNo;
      if (line.trim() === '') continue;
      format ??= line.trimStart().startsWith('{') ? 'json' : 'csv';
    }
    let entry: LogEntry | string;
    if (format === 'json') {
      if (line.length > MAX_RECORD_CHARS) {
        sink.problem(path, lineNo, `jsonlog line over ${MAX_RECORD_CHARS} characters`);
        continue;
      }
      try {
        entry = entryFromJson(JSON.parse(line));
      } catch (err) {
        entry = `not JSON: ${(err as Error).message}`;
      }
    } else {
      const rec = csv.push(line);
      if (rec === undefined) {
        if (csv.size > MAX_RECORD_CHARS) {
          sink.problem(path, recordLine, `csvlog record over ${MAX_RECORD_CHARS} characters (an unclosed quote?): skipped`);
          csv.reset();
        }
        continue;
      }
      entry = entryFromCsv(rec);
    }
    const problem = typeof entry === 'string' ? entry : await mapper.entry(entry);
    if (problem !== undefined) sink.problem(path, recordLine, problem);
  }
  if (csv.pending) sink.problem(path, recordLine, 'csvlog record cut off: a quoted field is not closed at the end of the file');
}

export function pgauditImporter(): Importer {
  return {
    version: '1.1',
    idSeed: 'dasguard-import-pgaudit',
    async readFiles(paths, sink) {
      const mapper = new PgauditMapper((e) => sink.event(e));
      for (const p of paths) await readFile(p, mapper, sink);
      await mapper.end();
    },
  };
}
