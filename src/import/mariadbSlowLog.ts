/**
 * MariaDB's slow query log -> the row counts server_audit does not log, joined to the audit log's QUERY events
 * (`dasguard import mariadb-audit FILE... --slow-log SLOWLOG`; docs/import.md, "Row counts from the slow log").
 *
 * With `long_query_time = 0` the slow log has an entry for every statement, as MariaDB 10.11 writes it:
 *
 *   # Time: 261202 18:21:51
 *   # User@Host: app[app] @  [127.0.0.1]
 *   # Thread_id: 5  Schema: shop  QC_hit: No
 *   # Query_time: 0.000390  Lock_time: 0.000192  Rows_sent: 2  Rows_examined: 2
 *   # Rows_affected: 0  Bytes_sent: 73
 *   use `shop`;
 *   SET timestamp=1796235711;
 *   SELECT id FROM t;
 *
 * (`# Time:` only when the second changed; `use`, `SET last_insert_id=`/`insert_id=` only when needed; more `# ...`
 * lines with log_slow_verbosity; the server's three-line banner at each start.) An entry joins the audit QUERY of the
 * same thread id (server_audit's connection id) and the same statement: compared with runs of whitespace as one space
 * and trailing `;` dropped; server_audit's `*****` (a masked password) stands for any text, and an audit statement of
 * 1024 bytes (escaped, as logged) that is the start of the entry's is one cut at server_audit_query_log_limit (its
 * default; a server with a lower limit leaves its longer statements unjoined, and says how many). The event's
 * rowCount is Rows_sent when the statement sent rows, else Rows_affected (an INSERT, UPDATE, DELETE; 0 for a SELECT
 * that found nothing).
 *
 * Streamed: SlowLogParser turns lines into entries; SlowLogJoin reads entries only as far as the audit log has got
 * (by the `# Time:` of the entries against the audit statement's time, both the server's local time) and holds the
 * ones not yet joined, per thread, in order (each thread's statements are in the same order in both logs). An entry
 * left behind (older than the audit log by LAG_MS, before a later entry of its thread that joined, or over the
 * bounds) is unmatched: counted, and said in the import summary. A line that cannot be read is reported as file:line.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';

/** One slow-log entry, as far as the join needs it. */
export interface SlowEntry {
  threadId: string;
  /** `# Time:` in force (the server's local time, read as UTC with the audit log's offset), ms; null before any. */
  timeMs: number | null;
  rowsSent: number;
  /** Null when the log has no `# Rows_affected:` line. */
  rowsAffected: number | null;
  /** The statement's match key (matchKey). */
  key: string;
  /** Its file's line of `# User@Host:`. */
  line: number;
}

/** A longer statement is unreadable (the audit import's limit for a line). */
export const MAX_STATEMENT_CHARS = 16 * 1024 * 1024;
/** A statement's match key keeps this much of its text; a longer one is its start and a digest of the whole. */
const KEY_CHARS = 4096;
/** server_audit_query_log_limit's default: an audit statement this long (bytes) may have been cut. */
const AUDIT_CUT_BYTES = 1024;

/** The statement as compared: whitespace runs as one space, no trailing `;`. */
export function normalizeStatement(sql: string): string {
  return sql.replace(/\s+/g, ' ').replace(/[\s;]+$/, '').trimStart();
}

/** A statement's key: its normalized text, or for a long one its first KEY_CHARS and a digest of the whole. */
function matchKey(sql: string): string {
  const n = normalizeStatement(sql);
  if (n.length <= KEY_CHARS) return n;
  return `${n.slice(0, KEY_CHARS)}\0${n.length}:${createHash('sha256').update(n).digest('hex')}`;
}

/** Does the slow entry's key stand for the audit statement `auditSql`? */
export function statementsMatch(auditSql: string, slowKey: string): boolean {
  return auditMatcher(auditSql)(slowKey);
}

/** The test of statementsMatch for one audit statement, prepared once for the entries it is compared with. */
function auditMatcher(auditSql: string): (slowKey: string) => boolean {
  const a = matchKey(auditSql);
  const audit = normalizeStatement(auditSql);
  const masked = audit.includes('*****') ? new RegExp(`^${audit.split('*****').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('[\\s\\S]*?')}$`) : undefined;
  const cut = loggedBytes(auditSql) >= AUDIT_CUT_BYTES - 1;
  return (slowKey) => {
    if (a === slowKey) return true;
    const long = slowKey.includes('\0');
    const slowText = long ? slowKey.slice(0, slowKey.indexOf('\0')) : slowKey;
    if (masked !== undefined) return !long && masked.test(slowText);
    return cut && audit.length < slowText.length && slowText.startsWith(audit);
  };
}

/**
 * The bytes a statement took in the audit log, escaped: server_audit cuts there (at server_audit_query_log_limit;
 * one short when an escape pair would cross it).
 */
function loggedBytes(sql: string): number {
  return Buffer.byteLength(sql) + (sql.match(/['\\\n\r\t\0]/g)?.length ?? 0);
}

/** The server's banner at each start (and after FLUSH SLOW LOGS). */
const BANNER = [/^\S.*, Version: .* started with:$/, /^Tcp port: \d+ +Unix socket: /, /^Time\s+Id\s+Command\s+Argument$/];
const TIME = /^# Time: (\d\d)(\d\d)(\d\d) +(\d{1,2}):(\d\d):(\d\d)$/;
const USER_HOST = /^# User@Host: /;
const THREAD = /^# Thread_id: (\d+)(\s|$)/;
const QUERY_TIME = /^# Query_time: [\d.]+ +Lock_time: [\d.]+ +Rows_sent: (\d+) +Rows_examined: (\d+)/;
const ROWS_AFFECTED = /^# Rows_affected: (\d+)/;
/** What the server writes before the statement: the schema, insert ids, then the time. */
const PREAMBLE = /^(use [^\n]*;|SET (last_insert_id|insert_id)=\d+(,\s*(last_insert_id|insert_id)=\d+)*;)$/;
const SET_TIMESTAMP = /^SET timestamp=\d+;$/;

/** A line that could not be read. */
export interface SlowLogProblem {
  line: number;
  message: string;
}

interface Open {
  line: number;
  threadId?: string;
  rowsSent?: number;
  rowsAffected?: number;
  /** In the statement (after the header lines); `started`: after SET timestamp or a statement line. */
  body: boolean;
  started: boolean;
  text: string[];
  chars: number;
}

/**
 * Lines -> entries, in order: `push` each line (without its newline), `endFile` at the end of each file; each returns
 * the entries it completed. `utcOffsetMinutes`: the server's zone, as for the audit log (its `# Time:` is local).
 */
export class SlowLogParser {
  private open: Open | undefined;
  private timeMs: number | null = null;
  /** A line outside an entry that is not a header: reported once per run of such lines. */
  private strayFrom: number | undefined;

  constructor(
    private readonly onProblem: (p: SlowLogProblem) => void,
    private readonly utcOffsetMinutes = 0,
  ) {}

  push(rawLine: string, lineNo: number): SlowEntry[] {
    const line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
    const out: SlowEntry[] = [];
    const t = TIME.exec(line);
    if (t !== null || USER_HOST.test(line) || BANNER.some((b) => b.test(line))) {
      this.close(out);
      this.strayFrom = undefined;
      if (t !== null) {
        const [, yy, mo, dd, hh, mi, ss] = t.map(Number) as number[];
        this.timeMs = Date.UTC(2000 + yy!, mo! - 1, dd!, hh!, mi!, ss!) - this.utcOffsetMinutes * 60_000;
      } else if (USER_HOST.test(line)) this.open = { line: lineNo, body: false, started: false, text: [], chars: 0 };
      return out;
    }
    const o = this.open;
    if (o === undefined) {
      if (line.trim() !== '' && this.strayFrom === undefined) {
        this.strayFrom = lineNo;
        this.onProblem({ line: lineNo, message: 'not a slow-log line (expected "# Time:", "# User@Host:" or the server\'s banner)' });
      }
      return out;
    }
    if (!o.body && line.startsWith('#')) {
      const th = THREAD.exec(line);
      const q = QUERY_TIME.exec(line);
      const ra = ROWS_AFFECTED.exec(line);
      if (th !== null) o.threadId = th[1];
      else if (q !== null) o.rowsSent = Number(q[1]);
      else if (ra !== null) o.rowsAffected = Number(ra[1]);
      else if (/^# (Thread_id|Query_time|Rows_affected):/.test(line)) this.bad(lineNo, `unreadable ${line.slice(2, line.indexOf(':'))} line: ${JSON.stringify(line.slice(0, 80))}`);
      return out; // other `# ...` header lines (log_slow_verbosity's) are not needed
    }
    o.body = true;
    if (!o.started) {
      if (SET_TIMESTAMP.test(line)) {
        o.started = true;
        return out;
      }
      if (PREAMBLE.test(line)) return out;
      o.started = true;
    }
    o.chars += line.length + 1;
    if (o.chars > MAX_STATEMENT_CHARS) {
      this.bad(o.line, `statement over ${MAX_STATEMENT_CHARS} characters`);
      return out;
    }
    o.text.push(line);
    return out;
  }

  /** The end of a file: its last entry is complete. */
  endFile(): SlowEntry[] {
    const out: SlowEntry[] = [];
    this.close(out);
    this.strayFrom = undefined;
    return out;
  }

  /** Reports the open entry's problem and drops it. */
  private bad(line: number, message: string): void {
    this.onProblem({ line, message });
    this.open = undefined;
    this.strayFrom = line; // the rest of the entry is not reported again
  }

  private close(out: SlowEntry[]): void {
    const o = this.open;
    this.open = undefined;
    if (o === undefined) return;
    if (o.threadId === undefined) return this.onProblem({ line: o.line, message: 'slow-log entry without a "# Thread_id:" line' });
    if (o.rowsSent === undefined) return this.onProblem({ line: o.line, message: 'slow-log entry without a "# Query_time: ... Rows_sent:" line' });
    if (o.text.length === 0) return this.onProblem({ line: o.line, message: 'slow-log entry without a statement' });
    out.push({ threadId: o.threadId, timeMs: this.timeMs, rowsSent: o.rowsSent, rowsAffected: o.rowsAffected ?? null, key: matchKey(o.text.join('\n')), line: o.line });
  }
}

/** The join's counts (the import summary says them). */
export interface SlowJoinCounts {
  /** Entries read. */
  entries: number;
  /** Entries joined to an audit statement. */
  joined: number;
  /** Audit statements (QUERY) with no entry (their rowCount stays null). */
  statementsWithout: number;
}

/** An entry waits this long (of the audit log's time) for its audit statement before it is unmatched. */
export const LAG_MS = 10_000;
/** The slow log is read up to this far past the audit statement's time (both logs write at a statement's end). */
export const LEAD_MS = 2_000;
/** Entries held at most (all threads); over it, the oldest is unmatched. */
export const MAX_HELD = 100_000;
/** Entries held at most for one thread; over it, its oldest is unmatched. */
export const MAX_HELD_PER_THREAD = 10_000;

interface Held {
  entry: SlowEntry;
  done: boolean;
}

/**
 * The join: `rowCount(threadId, sql, timeMs)` for each audit QUERY in log order, then `end()`. `entries` yields the
 * slow log's entries in order (slowLogEntries).
 */
export class SlowLogJoin {
  readonly counts: SlowJoinCounts = { entries: 0, joined: 0, statementsWithout: 0 };
  private readonly byThread = new Map<string, Held[]>();
  /** Every held entry in log order (entries already joined or dropped are skipped when met). */
  private fifo: Held[] = [];
  private fifoStart = 0;
  private held = 0;
  private frontMs: number | null = null;
  private exhausted = false;

  constructor(private readonly entries: AsyncIterator<SlowEntry>) {}

  /** Entries read and never joined. */
  get unmatched(): number {
    return this.counts.entries - this.counts.joined;
  }

  /** The rowCount for the audit statement `sql` of connection `threadId`, ended at `timeMs`; null when no entry joins. */
  async rowCount(threadId: string, sql: string, timeMs: number): Promise<number | null> {
    while (!this.exhausted && (this.frontMs === null || this.frontMs <= timeMs + LEAD_MS)) await this.readOne();
    this.evictOlderThan(timeMs - LAG_MS);
    const q = this.byThread.get(threadId);
    const matches = auditMatcher(sql);
    const i = q === undefined ? -1 : q.findIndex((h) => matches(h.entry.key));
    if (q === undefined || i < 0) {
      this.counts.statementsWithout++;
      return null;
    }
    // the thread's entries before it: statements the audit log does not have (unmatched)
    const e = q[i]!.entry;
    for (const h of q.splice(0, i + 1)) this.drop(h);
    if (q.length === 0) this.byThread.delete(threadId);
    this.counts.joined++;
    return e.rowsSent > 0 || e.rowsAffected === null ? e.rowsSent : e.rowsAffected;
  }

  /** Reads the rest of the slow log (each entry left is unmatched). */
  async end(): Promise<void> {
    while (!this.exhausted) await this.readOne();
    this.byThread.clear();
    this.fifo = [];
    this.held = 0;
  }

  private async readOne(): Promise<void> {
    const r = await this.entries.next();
    if (r.done === true) {
      this.exhausted = true;
      return;
    }
    const e = r.value;
    this.counts.entries++;
    if (e.timeMs !== null) this.frontMs = e.timeMs;
    const h: Held = { entry: e, done: false };
    let q = this.byThread.get(e.threadId);
    if (q === undefined) this.byThread.set(e.threadId, (q = []));
    q.push(h);
    this.fifo.push(h);
    this.held++;
    if (q.length > MAX_HELD_PER_THREAD) this.drop(q.shift()!);
    while (this.held > MAX_HELD) this.dropOldest();
  }

  private drop(h: Held): void {
    if (h.done) return;
    h.done = true;
    this.held--;
  }

  /** Drops the oldest held entry (unmatched). */
  private dropOldest(): void {
    const h = this.nextHeld();
    if (h === undefined) return;
    this.fifoStart++;
    this.removeFromThread(h);
  }

  private evictOlderThan(ms: number): void {
    for (let h = this.nextHeld(); h !== undefined && h.entry.timeMs !== null && h.entry.timeMs < ms; h = this.nextHeld()) {
      this.fifoStart++;
      this.removeFromThread(h);
    }
  }

  /** The oldest entry still held (skipping the joined and dropped ones); compacts the FIFO now and then. */
  private nextHeld(): Held | undefined {
    while (this.fifoStart < this.fifo.length && this.fifo[this.fifoStart]!.done) this.fifoStart++;
    if (this.fifoStart > 4096 && this.fifoStart * 2 > this.fifo.length) {
      this.fifo = this.fifo.slice(this.fifoStart);
      this.fifoStart = 0;
    }
    return this.fifo[this.fifoStart];
  }

  private removeFromThread(h: Held): void {
    const q = this.byThread.get(h.entry.threadId);
    if (q !== undefined) {
      // the oldest held entry is its thread's oldest too (both in log order)
      const i = q[0] === h ? 0 : q.indexOf(h);
      if (i >= 0) q.splice(i, 1);
      if (q.length === 0) this.byThread.delete(h.entry.threadId);
    }
    this.drop(h);
  }
}

/**
 * The entries of the slow-log files, in the order given (rotated logs: oldest first), streamed; each unreadable line
 * goes to `onProblem` with its file.
 */
export async function* slowLogEntries(paths: string[], onProblem: (file: string, p: SlowLogProblem) => void, utcOffsetMinutes = 0): AsyncGenerator<SlowEntry> {
  for (const path of paths) {
    const parser = new SlowLogParser((p) => onProblem(path, p), utcOffsetMinutes);
    const lines = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
    let n = 0;
    for await (const line of lines) {
      n++;
      yield* parser.push(line, n);
    }
    yield* parser.endFile();
  }
}
