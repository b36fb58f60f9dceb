/**
 * MariaDB server_audit log (file output) -> DAS MySQL events (record version 1.2), streamed line by line.
 *
 * The plugin writes one entry a line (docs: "MariaDB Audit Plugin - Log Format"):
 *
 *   timestamp,serverhost,username,host,connectionid,queryid,operation,database,object,retcode
 *   20261202 05:13:30,vm,app,127.0.0.1,4,3,READ,shop,cards,
 *   20261202 05:13:30,vm,app,127.0.0.1,4,3,QUERY,shop,'SELECT pan FROM cards WHERE v = \'x\'',0
 *
 * (MariaDB 12 writes `host:port`.) A QUERY's object is the statement quoted in '...' with backslash escapes
 * (\' \\ \n \r \t); TABLE entries (READ, WRITE, CREATE, ALTER, DROP, RENAME) come BEFORE the QUERY of the same
 * queryid and have no retcode. The mapping (docs/import.md, "MariaDB"):
 * - CONNECT, DISCONNECT, FAILED_CONNECT, CHANGEUSER, PROXY_CONNECT and QUERY -> one MAIN event (substatementId 1,
 *   command = the operation, commandText = the SQL or "", exitCode = the retcode, errorMessage "" when it is 0).
 * - each TABLE entry -> one AUX event (substatementId 2, command = READ/WRITE..., objectName = commandText = the
 *   table, databaseName = the table's database), emitted right after its MAIN: the TABLE entries of a connection
 *   wait until the QUERY of their queryid arrives (bounded: MAX_PENDING entries). TABLE entries whose QUERY never
 *   comes (another queryid, a DISCONNECT, the end of the log, the QUERY not audited) are emitted as AUX events on
 *   their own and counted (`orphanTables`): dasguard evaluates them as the statement without its SQL.
 * - sessionId = connectionid (text), statementId = queryid (number), as Aurora's DAS gives them.
 * What the log does not hold is null (pid, rowCount, serverVersion, transactionId, remotePort before MariaDB 12,
 * netProtocol, clientApplication), and an error's message is unknown: errorMessage names the code only. rowCount comes
 * from the server's slow log when one is given (--slow-log, src/import/mariadbSlowLog.ts).
 * The log's timestamp has no zone and whole seconds: it is read as `utcOffsetMinutes` (default 0, UTC), and the
 * entries of one second are given 0, 1, 2... milliseconds in log order (after the 999th, microseconds), so that rules
 * about order (a correlation's sequence: failed logins THEN a login) see the log's order rather than a tie.
 *
 * A line that cannot be read is counted and reported (`file:line: reason`), never thrown. A quoted statement left
 * open at the end of a line continues on the next line (a raw newline, as some builds write), up to
 * MAX_CONTINUATION lines; a line that opens a new entry ends it.
 *
 * A little over 400 lines: the line parser, the statement grouping and the mapping share AuditEntry and read as one
 * format's converter (as pgaudit.ts does); split, each part would be a fragment of the other.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { DasEvent, Importer } from './records.js';
import { SlowLogJoin, slowLogEntries } from './mariadbSlowLog.js';
import { count } from '../util/plural.js';

/** One parsed server_audit entry. */
export interface AuditEntry {
  /** `YYYYMMDD HH:MM:SS`, as written. */
  timestamp: string;
  serverHost: string;
  user: string;
  host: string;
  /** MariaDB 12's `host:port`; null before. */
  port: string | null;
  connectionId: string;
  queryId: number;
  operation: string;
  database: string;
  /** The SQL (unescaped) for QUERY, the table for TABLE entries, "" for connections. */
  object: string;
  /** Null when empty (TABLE entries). */
  retcode: number | null;
  /** The microseconds of its DAS time, from its place within its second (0, 1 ms, 2 ms... in log order). */
  micros?: number;
}

/** The operations that become a MAIN event. */
const MAIN_OPERATIONS = new Set(['CONNECT', 'DISCONNECT', 'FAILED_CONNECT', 'CHANGEUSER', 'PROXY_CONNECT', 'QUERY']);
/** server_audit's TABLE event operations: each becomes an AUX event. */
const TABLE_OPERATIONS = new Set(['READ', 'WRITE', 'CREATE', 'ALTER', 'DROP', 'RENAME']);

/** TABLE entries one connection may hold waiting for their QUERY; beyond, they are emitted as orphans. */
export const MAX_PENDING = 10_000;
/** Lines a quoted statement may span (raw newlines) before the entry is given up as unreadable. */
export const MAX_CONTINUATION = 1_000;
/** A longer line is unreadable (server_audit cuts statements at server_audit_query_log_limit, 1024 by default). */
export const MAX_LINE_CHARS = 16 * 1024 * 1024;

/** The fields before the object: timestamp, serverhost, username, host, connectionid, queryid, operation, database. */
const HEAD = /^(\d{8} \d\d:\d\d:\d\d),([^,]*),([^,]*),([^,]*),(\d+),(\d+),([A-Z_]+),([^,]*),/;
/** A line that opens an entry (ends a continuation). */
const ENTRY_START = /^\d{8} \d\d:\d\d:\d\d,/;

export type ParseResult = { entry: AuditEntry } | { error: string; open?: true };

/** Parses one entry (a line, or lines joined with "\n" for a statement spanning them). */
export function parseAuditLine(line: string): ParseResult {
  const head = HEAD.exec(line);
  if (head === null) {
    if (!ENTRY_START.test(line)) return { error: 'not a server_audit entry (expected "YYYYMMDD HH:MM:SS,serverhost,username,host,connectionid,queryid,operation,...")' };
    return { error: 'bad fields: connectionid and queryid must be numbers, operation an upper-case word' };
  }
  const [, timestamp, serverHost, user, rawHost, connectionId, queryId, operation, database] = head as unknown as string[];
  let rest = line.slice(head[0].length);
  let object: string;
  if (rest.startsWith("'")) {
    let i = 1;
    let text = '';
    let closed = false;
    while (i < rest.length) {
      const c = rest[i];
      if (c === '\\' && i + 1 < rest.length) {
        const n = rest[i + 1]!;
        text += n === 'n' ? '\n' : n === 'r' ? '\r' : n === 't' ? '\t' : n === '0' ? '\0' : n;
        i += 2;
      } else if (c === "'") {
        closed = true;
        i++;
        break;
      } else {
        text += c;
        i++;
      }
    }
    if (!closed) return { error: 'the quoted statement is not closed', open: true };
    if (rest[i] !== ',') return { error: 'text after the quoted statement (expected ",retcode")' };
    object = text;
    rest = rest.slice(i + 1);
  } else {
    const comma = rest.lastIndexOf(',');
    if (comma < 0) return { error: 'missing retcode field (10 comma-separated fields expected)' };
    object = rest.slice(0, comma);
    rest = rest.slice(comma + 1);
  }
  if (!/^\d*$/.test(rest)) return { error: `bad retcode ${JSON.stringify(rest.slice(0, 40))} (a number, or empty)` };
  // MariaDB 12: host:port (an IPv6 address has several colons and no port then).
  const hp = /^([^:]+):(\d+)$/.exec(rawHost!);
  return {
    entry: {
      timestamp: timestamp!,
      serverHost: serverHost!,
      user: user!,
      host: hp ? hp[1]! : rawHost!,
      port: hp ? hp[2]! : null,
      connectionId: connectionId!,
      queryId: Number(queryId),
      operation: operation!,
      database: database!,
      object,
      retcode: rest === '' ? null : Number(rest),
    },
  };
}

/** Common MariaDB error codes by name (server_audit logs the code only). */
const ERROR_NAMES: Record<number, string> = {
  1044: 'ER_DBACCESS_DENIED_ERROR',
  1045: 'ER_ACCESS_DENIED_ERROR',
  1046: 'ER_NO_DB_ERROR',
  1049: 'ER_BAD_DB_ERROR',
  1050: 'ER_TABLE_EXISTS_ERROR',
  1051: 'ER_BAD_TABLE_ERROR',
  1054: 'ER_BAD_FIELD_ERROR',
  1062: 'ER_DUP_ENTRY',
  1064: 'ER_PARSE_ERROR',
  1142: 'ER_TABLEACCESS_DENIED_ERROR',
  1146: 'ER_NO_SUCH_TABLE',
  1227: 'ER_SPECIFIC_ACCESS_DENIED_ERROR',
};

/**
 * errorMessage for a retcode: "" for 0 (DAS MySQL's "no error"); else the error's name when known, and that the
 * message is unknown. The code itself is in exitCode (digits here would be masked by redaction as a literal).
 */
export function errorMessageFor(retcode: number | null): string {
  if (retcode === null || retcode === 0) return '';
  const name = ERROR_NAMES[retcode];
  return `MariaDB error ${name ?? '(see exitCode)'}: server_audit logs the error code only, not its message`;
}

export interface ConvertOptions {
  /** The zone the log's timestamps are in, as minutes east of UTC (default 0). */
  utcOffsetMinutes?: number;
}

/** `YYYYMMDD HH:MM:SS` in the given zone, plus `micros` -> DAS's `YYYY-MM-DD HH:MM:SS.ffffff+00` (UTC). */
export function dasTime(timestamp: string, utcOffsetMinutes = 0, micros = 0): string {
  const ms =
    Date.UTC(+timestamp.slice(0, 4), +timestamp.slice(4, 6) - 1, +timestamp.slice(6, 8), +timestamp.slice(9, 11), +timestamp.slice(12, 14), +timestamp.slice(15, 17)) -
    utcOffsetMinutes * 60_000;
  return `${new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, '')}.${String(micros).padStart(6, '0')}+00`;
}

/** The counts of one conversion. */
export interface ConvertCounts {
  lines: number;
  unreadable: number;
  mainEvents: number;
  auxEvents: number;
  /** AUX events emitted without their MAIN (their QUERY never came). */
  orphanTables: number;
  /** Entries of an operation this converter does not know (counted in `unreadable`). */
  unknownOperations: number;
}

/** A line that could not be read. */
export interface LineProblem {
  line: number;
  message: string;
}

interface Pending {
  queryId: number;
  entries: AuditEntry[];
}

/**
 * The converter's state: feed it lines in order (`push`), then `end()`; each returns the DAS events to write now.
 * Pure (no I/O): mariadbAuditImporter streams files through it.
 */
export class MariadbAuditConverter {
  readonly counts: ConvertCounts = { lines: 0, unreadable: 0, mainEvents: 0, auxEvents: 0, orphanTables: 0, unknownOperations: 0 };
  private readonly pending = new Map<string, Pending>();
  private readonly offset: number;
  /** A quoted statement left open: its text so far, its first line, how many lines. */
  private open: { text: string; line: number; lines: number } | undefined;
  /** The last entry's second and its place in it (entries of one second are 1 ms apart, in log order). */
  private second = '';
  private inSecond = 0;

  constructor(
    private readonly onProblem: (p: LineProblem) => void,
    opts: ConvertOptions = {},
  ) {
    this.offset = opts.utcOffsetMinutes ?? 0;
  }

  /** One line (without its newline), numbered from 1. */
  push(line: string, lineNo: number): DasEvent[] {
    this.counts.lines++;
    const out: DasEvent[] = [];
    if (this.open !== undefined) {
      if (ENTRY_START.test(line)) {
        this.problem(this.open.line, 'the quoted statement is not closed');
        this.open = undefined;
      } else {
        const text = `${this.open.text}\n${line}`;
        const r = parseAuditLine(text);
        if ('entry' in r) {
          this.take(r.entry, out, this.open.line);
          this.open = undefined;
        } else if (r.open && this.open.lines < MAX_CONTINUATION) {
          this.open = { text, line: this.open.line, lines: this.open.lines + 1 };
        } else {
          this.problem(this.open.line, r.open ? `the quoted statement is not closed within ${MAX_CONTINUATION} lines` : r.error);
          this.open = undefined;
        }
        return out;
      }
    }
    if (line === '' || line === '\r') return out;
    if (line.length > MAX_LINE_CHARS) {
      this.problem(lineNo, `line over ${MAX_LINE_CHARS} characters`);
      return out;
    }
    const r = parseAuditLine(line.endsWith('\r') ? line.slice(0, -1) : line);
    if ('entry' in r) this.take(r.entry, out, lineNo);
    else if (r.open) this.open = { text: line, line: lineNo, lines: 1 };
    else this.problem(lineNo, r.error);
    return out;
  }

  /** The end of one file (rotated logs are read in order, one converter): an open statement is unreadable. */
  endFile(): void {
    if (this.open !== undefined) this.problem(this.open.line, 'the file ends inside a quoted statement');
    this.open = undefined;
  }

  /** The end of the log: an open statement is unreadable, waiting TABLE entries are emitted as orphans. */
  end(): DasEvent[] {
    if (this.open !== undefined) this.problem(this.open.line, 'the log ends inside a quoted statement');
    this.open = undefined;
    const out: DasEvent[] = [];
    for (const p of this.pending.values()) this.orphans(p, out);
    this.pending.clear();
    return out;
  }

  private problem(line: number, message: string): void {
    this.counts.unreadable++;
    this.onProblem({ line, message });
  }

  private take(e: AuditEntry, out: DasEvent[], lineNo: number): void {
    if (e.timestamp === this.second) this.inSecond++;
    else {
      this.second = e.timestamp;
      this.inSecond = 0;
    }
    // 1 ms apart (dasguard's clock is logTimeMs), then 1 µs apart after the 999th entry of a second, then a tie
    e.micros = this.inSecond < 1000 ? this.inSecond * 1000 : Math.min(999_000 + this.inSecond - 999, 999_999);
    const waiting = this.pending.get(e.connectionId);
    if (TABLE_OPERATIONS.has(e.operation)) {
      if (waiting !== undefined && (waiting.queryId !== e.queryId || waiting.entries.length >= MAX_PENDING)) {
        this.orphans(waiting, out);
        this.pending.delete(e.connectionId);
      }
      const p = this.pending.get(e.connectionId);
      if (p === undefined) this.pending.set(e.connectionId, { queryId: e.queryId, entries: [e] });
      else p.entries.push(e);
      return;
    }
    if (!MAIN_OPERATIONS.has(e.operation)) {
      this.counts.unknownOperations++;
      this.counts.unreadable++;
      this.onProblem({ line: lineNo, message: `unknown operation ${e.operation} (skipped)` });
      return;
    }
    let tables: AuditEntry[] = [];
    if (waiting !== undefined) {
      this.pending.delete(e.connectionId);
      if (e.operation === 'QUERY' && waiting.queryId === e.queryId) tables = waiting.entries;
      else this.orphans(waiting, out);
    }
    const start = tables.length > 0 ? tables[0]! : e;
    out.push(this.mainEvent(e, start, tables[0]?.object ?? ''));
    this.counts.mainEvents++;
    for (const t of tables) out.push(this.auxEvent(t, start));
    this.counts.auxEvents += tables.length;
  }

  private orphans(p: Pending, out: DasEvent[]): void {
    for (const t of p.entries) out.push(this.auxEvent(t, p.entries[0]!));
    this.counts.auxEvents += p.entries.length;
    this.counts.orphanTables += p.entries.length;
  }

  private common(e: AuditEntry): DasEvent {
    return {
      logTime: dasTime(e.timestamp, this.offset, e.micros),
      type: 'record',
      clientApplication: null,
      pid: null,
      dbUserName: e.user,
      databaseName: e.database,
      remoteHost: e.host,
      remotePort: e.port,
    };
  }

  private tail(e: AuditEntry, start: AuditEntry): DasEvent {
    return {
      rowCount: null,
      serverHost: e.serverHost,
      serverType: 'MySQL',
      serviceName: 'MariaDB server_audit',
      serverVersion: null,
      startTime: dasTime(start.timestamp, this.offset, start.micros),
      endTime: dasTime(e.timestamp, this.offset, e.micros),
      transactionId: null,
      dbProtocol: 'MySQL',
      netProtocol: null,
    };
  }

  /** `start`: the statement's first entry (its first TABLE entry, or itself); `objectName`: its first table. */
  private mainEvent(e: AuditEntry, start: AuditEntry, objectName: string): DasEvent {
    return {
      ...this.common(e),
      command: e.operation,
      commandText: e.operation === 'QUERY' ? e.object : '',
      paramList: null,
      objectType: 'TABLE',
      objectName,
      statementId: e.queryId,
      substatementId: 1,
      exitCode: String(e.retcode ?? 0),
      sessionId: e.connectionId,
      ...this.tail(e, start),
      errorMessage: errorMessageFor(e.retcode),
      class: 'MAIN',
    };
  }

  /** An AUX event of TABLE entry `t`; `start`: its statement's first entry (startTime; DAS's endTime is the AUX's own). */
  private auxEvent(t: AuditEntry, start: AuditEntry): DasEvent {
    return {
      ...this.common(t),
      command: t.operation,
      commandText: t.object,
      paramList: null,
      objectType: 'TABLE',
      objectName: t.object,
      statementId: t.queryId,
      substatementId: 2,
      exitCode: '',
      sessionId: t.connectionId,
      ...this.tail(t, start),
      errorMessage: '',
      class: 'AUX',
    };
  }
}

/** The importer's options. */
export interface MariadbImportOptions extends ConvertOptions {
  /** MariaDB slow-log files (long_query_time = 0), oldest first: their Rows_sent / Rows_affected fill rowCount. */
  slowLogs?: string[] | undefined;
}

/**
 * `dasguard import mariadb-audit FILE... [--slow-log SLOWLOG]`: the files in the order given (rotated logs: oldest
 * first, e.g. server_audit.log.1 server_audit.log), through one converter, so a statement's TABLE entries may end one
 * file and its QUERY open the next. With slow logs, each QUERY's MAIN event gets its rowCount from the slow-log entry
 * that joins it (src/import/mariadbSlowLog.ts); the summary says how many joined and how many did not.
 */
export function mariadbAuditImporter(opts: MariadbImportOptions = {}): Importer {
  return {
    version: '1.2',
    idSeed: 'dasguard-import-mariadb-audit',
    async readFiles(paths, sink) {
      let file = paths[0] ?? '';
      const conv = new MariadbAuditConverter((p) => sink.problem(file, p.line, p.message), opts);
      const slowLogs = opts.slowLogs ?? [];
      const join = slowLogs.length > 0 ? new SlowLogJoin(slowLogEntries(slowLogs, (f, p) => sink.problem(f, p.line, p.message), opts.utcOffsetMinutes)[Symbol.asyncIterator]()) : undefined;
      const emit = async (ev: DasEvent) => {
        if (join !== undefined && ev.class === 'MAIN' && ev.command === 'QUERY') {
          ev.rowCount = await join.rowCount(String(ev.sessionId), String(ev.commandText), Date.parse(String(ev.endTime).replace(' ', 'T').replace(/\+00$/, 'Z')));
        }
        await sink.event(ev);
      };
      for (const path of paths) {
        file = path;
        const lines = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
        let n = 0;
        for await (const line of lines) {
          n++;
          for (const ev of conv.push(line, n)) await emit(ev);
        }
        conv.endFile();
      }
      for (const ev of conv.end()) await emit(ev);
      if (join === undefined) return;
      await join.end();
      const c = join.counts;
      return {
        summary:
          `slow log: ${count(c.entries, 'entry', 'entries')}, ${c.joined} joined to their statement, ${join.unmatched} unmatched;` +
          ` ${count(c.statementsWithout, 'statement')} without a slow-log entry (rowCount null)`,
      };
    },
  };
}
