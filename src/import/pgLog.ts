/**
 * The PostgreSQL log that `dasguard import pgaudit` reads: csvlog records and jsonlog lines -> one LogEntry each
 * (time, user, database, session, severity, SQLSTATE, message, query), whichever destination wrote it, and the DAS
 * form of its time. What an entry becomes is ./pgaudit.ts.
 *
 * CSV: a small state machine, not an npm parser: csvlog is one fixed dialect (comma, `"` quotes doubled, a record
 * ends at a newline outside quotes), we need the first line number of each record for problems, and it keeps the
 * shared node_modules without a new dependency. A record left in quotes past MAX_RECORD_CHARS is dropped as a problem
 * so one broken quote cannot swallow the rest of a multi-GB file into memory.
 */
/** A csvlog record (or a jsonlog line) longer than this is dropped as a problem. */
export const MAX_RECORD_CHARS = 16 * 1024 * 1024;

/** The csvlog columns (PostgreSQL 13+: 23 at least; 14+ adds leader_pid, query_id). */
const CSV = {
  logTime: 0,
  user: 1,
  database: 2,
  pid: 3,
  connectionFrom: 4,
  sessionId: 5,
  sessionLine: 6,
  severity: 11,
  sqlState: 12,
  message: 13,
  detail: 14,
  query: 19,
  application: 22,
} as const;
const MIN_CSV_COLUMNS = 23;

/** One log entry, whichever destination wrote it. */
export interface LogEntry {
  logTime: string;
  user: string | null;
  database: string | null;
  pid: number | null;
  remoteHost: string | null;
  remotePort: string | null;
  sessionId: string | null;
  /** The line's number within its session (session_line_num): what tells apart errors pgaudit did not number. */
  sessionLine: number | null;
  severity: string;
  sqlState: string | null;
  message: string;
  query: string | null;
  application: string | null;
}

/**
 * Splits CSV text into records of fields, fed line by line: `push(line)` returns the record when the line ends it,
 * undefined while a quoted field goes on into the next line. Quoted fields keep their newlines.
 */
export class CsvRecordReader {
  private fields: string[] = [];
  private field = '';
  private inQuotes = false;
  private chars = 0;

  /** Whether a record is open (a quoted field runs past the last line pushed). */
  get pending(): boolean {
    return this.inQuotes;
  }

  push(line: string): string[] | undefined {
    this.chars += line.length + 1;
    for (let i = 0; i < line.length; i++) {
      const c = line.charCodeAt(i);
      if (this.inQuotes) {
        if (c === 34 /* " */) {
          if (line.charCodeAt(i + 1) === 34) {
            this.field += '"';
            i++;
          } else this.inQuotes = false;
        } else {
          // the run up to the next quote at once
          const q = line.indexOf('"', i);
          const end = q < 0 ? line.length : q;
          this.field += line.slice(i, end);
          i = end - 1;
        }
      } else if (c === 44 /* , */) {
        this.fields.push(this.field);
        this.field = '';
      } else if (c === 34 && this.field === '') this.inQuotes = true;
      else this.field += line[i];
    }
    if (this.inQuotes) {
      this.field += '\n';
      return undefined;
    }
    this.fields.push(this.field);
    const record = this.fields;
    this.reset();
    return record;
  }

  /** Characters held by the open record. */
  get size(): number {
    return this.chars;
  }

  reset(): void {
    this.fields = [];
    this.field = '';
    this.inQuotes = false;
    this.chars = 0;
  }
}

/** Splits one CSV line (a pgaudit AUDIT message, a parameter list) into fields; undefined if a quote is left open. */
export function splitCsvLine(text: string): string[] | undefined {
  const r = new CsvRecordReader();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const rec = r.push(lines[i]!);
    if (rec !== undefined) return i === lines.length - 1 ? rec : undefined;
  }
  return undefined;
}

/** "2026-12-02 05:20:11.123 UTC" -> "2026-12-02 05:20:11.123000+00" (the DAS form); undefined if not understood. */
export function dasLogTime(text: string): string | undefined {
  const m = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(?:\.(\d{1,6}))? ?(UTC|GMT|Z|[+-]\d\d(?::?\d\d)?)$/.exec(text.trim());
  if (m === null) return undefined;
  const frac = (m[3] ?? '').padEnd(6, '0');
  const zone = m[4]!;
  if (zone === 'UTC' || zone === 'GMT' || zone === 'Z') return `${m[1]} ${m[2]}.${frac}+00`;
  // an offset: convert to UTC so every time reads alike
  const ms = Date.parse(`${m[1]}T${m[2]}.${frac.slice(0, 3)}${zone.length === 3 ? `${zone}:00` : zone.includes(':') ? zone : `${zone.slice(0, 3)}:${zone.slice(3)}`}`);
  if (Number.isNaN(ms)) return undefined;
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}.${frac}+00`;
}

export function orNull(s: string | undefined): string | null {
  return s === undefined || s === '' ? null : s;
}

/** A csvlog record -> LogEntry, or why not. */
export function entryFromCsv(f: string[]): LogEntry | string {
  if (f.length < MIN_CSV_COLUMNS) return `expected at least ${MIN_CSV_COLUMNS} csvlog columns, got ${f.length}`;
  const from = f[CSV.connectionFrom] ?? '';
  const colon = from.lastIndexOf(':');
  const [host, port] = from === '' ? [null, null] : colon > 0 && /^\d+$/.test(from.slice(colon + 1)) ? [from.slice(0, colon), from.slice(colon + 1)] : [from, null];
  const pid = Number(f[CSV.pid]);
  return {
    logTime: f[CSV.logTime]!,
    user: orNull(f[CSV.user]),
    database: orNull(f[CSV.database]),
    pid: Number.isInteger(pid) && f[CSV.pid] !== '' ? pid : null,
    remoteHost: host,
    remotePort: port,
    sessionId: orNull(f[CSV.sessionId]),
    sessionLine: /^\d+$/.test(f[CSV.sessionLine] ?? '') ? Number(f[CSV.sessionLine]) : null,
    severity: f[CSV.severity]!,
    sqlState: orNull(f[CSV.sqlState]),
    message: f[CSV.message]!,
    query: orNull(f[CSV.query]),
    application: orNull(f[CSV.application]),
  };
}

/** A jsonlog line's object -> LogEntry, or why not. */
export function entryFromJson(o: unknown): LogEntry | string {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return 'a jsonlog line is a JSON object';
  const j = o as Record<string, unknown>;
  const str = (k: string): string | null => (typeof j[k] === 'string' && j[k] !== '' ? (j[k] as string) : typeof j[k] === 'number' ? String(j[k]) : null);
  if (str('timestamp') === null || str('error_severity') === null || typeof j.message !== 'string') return 'jsonlog line without timestamp, error_severity or message';
  return {
    logTime: str('timestamp')!,
    user: str('user'),
    database: str('dbname'),
    pid: typeof j.pid === 'number' ? j.pid : null,
    remoteHost: str('remote_host'),
    remotePort: str('remote_port'),
    sessionId: str('session_id'),
    sessionLine: typeof j.session_line_num === 'number' ? j.session_line_num : null,
    severity: str('error_severity')!,
    sqlState: str('state_code'),
    message: j.message,
    query: str('statement'),
    application: str('application_name'),
  };
}
