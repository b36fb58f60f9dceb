/**
 * MariaDB's slow query log joined to server_audit (src/import/mariadbSlowLog.ts, `import mariadb-audit --slow-log`)
 * on a pair of fixtures MariaDB 10.11 wrote here with long_query_time=0 and log_slow_verbosity=query_plan
 * (test/fixtures/import/mariadb-slow-query-log.txt and mariadb-slow-server-audit.txt, one run; .txt as *.log is
 * git-ignored): the parser's entries, each QUERY's rowCount (Rows_sent for a SELECT, Rows_affected for DML, a masked
 * password and a statement over lines joined), the summary's counts of entries that joined and did not, an unreadable
 * line as file:line, an entry left behind.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { LAG_MS, SlowLogJoin, SlowLogParser, statementsMatch, type SlowEntry, type SlowLogProblem } from '../../src/import/mariadbSlowLog.js';
import type { DasEvent } from '../../src/import/records.js';
import { main } from '../../src/cli.js';
import type { Io } from '../../src/commands/io.js';

const FIXTURES = join('test', 'fixtures', 'import');
const SLOW = join(FIXTURES, 'mariadb-slow-query-log.txt');
const AUDIT = join(FIXTURES, 'mariadb-slow-server-audit.txt');

function parse(text: string): { entries: SlowEntry[]; problems: SlowLogProblem[] } {
  const problems: SlowLogProblem[] = [];
  const p = new SlowLogParser((x) => problems.push(x));
  const entries: SlowEntry[] = [];
  text.split('\n').forEach((l, i) => entries.push(...p.push(l, i + 1)));
  entries.push(...p.endFile());
  return { entries, problems };
}

function capture(): { io: Io; err: () => string } {
  let err = '';
  const w = (f: (s: string) => void): Writable => new Writable({ write(c, _e, cb) { f(String(c)); cb(); } });
  return { io: { stdout: w(() => {}), stderr: w((s) => (err += s)) } as unknown as Io, err: () => err };
}

/** `dasguard import mariadb-audit AUDIT --slow-log SLOW...`: exit code, stderr, the MAIN QUERY events. */
async function importWith(audit: string, slow: string[]): Promise<{ code: number; err: string; queries: DasEvent[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'dasguard-slowlog-'));
  const out = join(dir, 'out.jsonl');
  const c = capture();
  const code = await main(['import', 'mariadb-audit', audit, ...slow.flatMap((s) => ['--slow-log', s]), '--output', out], c.io);
  const events = readFileSync(out, 'utf8').trim().split('\n').filter((l) => l !== '')
    .flatMap((l) => (JSON.parse(l) as { databaseActivityEvents: { databaseActivityEventList: DasEvent[] } }).databaseActivityEvents.databaseActivityEventList);
  return { code, err: c.err(), queries: events.filter((e) => e.class === 'MAIN' && e.command === 'QUERY') };
}

describe('slow log: parsing', () => {
  it('reads every entry of a real slow log: thread, Rows_sent, Rows_affected, the statement over lines', () => {
    const { entries, problems } = parse(readFileSync(SLOW, 'utf8'));
    assert.deepEqual(problems, []);
    assert.equal(entries.length, 13);
    const last = entries.at(-1)!;
    assert.deepEqual([last.threadId, last.rowsSent, last.rowsAffected, last.key], ['5', 25, 0, 'SELECT * FROM cards']);
    const multiLine = entries.find((e) => e.key.startsWith('select id'))!;
    assert.equal(multiLine.key, "select id from cards where pan = 'it''s' # a comment");
    // `# Time:` in force: the entries of thread 5 are in the second 18:26:07
    assert.equal(last.timeMs, Date.UTC(2026, 11, 2, 18, 26, 7));
    // `use \`shop\`;` and SET timestamp are the server's preamble, not the statement
    assert.ok(entries.some((e) => e.key === 'CREATE TABLE cards (id INT PRIMARY KEY AUTO_INCREMENT, pan VARCHAR(19))'));
  });

  it('a malformed header names its line; the rest of that entry is not reported again; the next entry is read', () => {
    const { entries, problems } = parse([
      '# Time: 261202  9:26:07',
      '# User@Host: app[app] @  [127.0.0.1]',
      '# Thread_id: 5  Schema: shop  QC_hit: No',
      '# Query_time: 0.000460  Lock_time: 0.000175  Rows_sent: many  Rows_examined: 7',
      'SET timestamp=1796235967;',
      'SELECT 1;',
      '# User@Host: app[app] @  [127.0.0.1]',
      '# Thread_id: 5  Schema: shop  QC_hit: No',
      '# Query_time: 0.000460  Lock_time: 0.000175  Rows_sent: 1  Rows_examined: 0',
      'SET insert_id=4;',
      'SET timestamp=1796235967;',
      'SELECT 2;',
      'garbage after the entry is its statement',
    ].join('\n'));
    assert.deepEqual(problems.map((p) => p.line), [4]);
    assert.match(problems[0]!.message, /unreadable Query_time line/);
    assert.deepEqual(entries.map((e) => [e.key, e.timeMs]), [['SELECT 2; garbage after the entry is its statement', Date.UTC(2026, 11, 2, 9, 26, 7)]]);
  });

  it('lines before any entry that are not the banner are one problem', () => {
    const { problems } = parse('hello\nworld\n# Time: 261202 18:26:07');
    assert.deepEqual(problems, [{ line: 1, message: 'not a slow-log line (expected "# Time:", "# User@Host:" or the server\'s banner)' }]);
  });

  it('statements compare without whitespace runs and the trailing `;`; ***** stands for a masked password; a cut statement by its start', () => {
    const key = (s: string) => parse(`# User@Host: a[a] @ h []\n# Thread_id: 1  Schema: \n# Query_time: 0.1  Lock_time: 0.0  Rows_sent: 0  Rows_examined: 0\n${s}`).entries[0]!.key;
    assert.ok(statementsMatch('SELECT  a\n FROM t', key('SELECT a FROM t;')));
    assert.ok(statementsMatch("CREATE USER 'x'@'%' IDENTIFIED BY *****", key("CREATE USER 'x'@'%' IDENTIFIED BY 'p4ss';")));
    assert.ok(!statementsMatch('SELECT 1', key('SELECT 10;')));
    const long = `INSERT INTO t VALUES ${Array.from({ length: 300 }, (_, i) => `(${i})`).join(', ')}`;
    assert.ok(statementsMatch(long.slice(0, 1024), key(`${long};`)), 'cut at server_audit_query_log_limit (1024)');
    assert.ok(!statementsMatch(long.slice(0, 500), key(`${long};`)), 'a short statement is not a cut one');
    // the limit counts the logged (escaped) bytes: 40 quoted values of 'product N' cut at 1024 of them
    const quoted = `INSERT INTO products VALUES ${Array.from({ length: 80 }, (_, i) => `(${i}, 'product ${i}')`).join(', ')}`;
    let cut = quoted;
    while (Buffer.byteLength(cut) + (cut.match(/'/g)?.length ?? 0) > 1024) cut = cut.slice(0, -1);
    assert.ok(Buffer.byteLength(cut) < 1000);
    assert.ok(statementsMatch(cut, key(`${quoted};`)));
  });
});

describe('slow log: the join', () => {
  it('fills each QUERY\'s rowCount from its entry; says what joined and what did not', async () => {
    const { code, err, queries } = await importWith(AUDIT, [SLOW]);
    assert.equal(code, 0, err);
    const rows = Object.fromEntries(queries.map((q) => [q.commandText, q.rowCount]));
    assert.equal(rows['SELECT pan FROM cards WHERE id <= 7'], 7);
    assert.equal(rows['SELECT * FROM cards'], 25);
    assert.equal(rows['/* batch */ UPDATE cards SET pan = NULL WHERE id > 20'], 6);
    assert.equal(rows['DELETE FROM cards WHERE id = 3'], 1);
    assert.equal(rows["INSERT INTO cards (pan) SELECT CONCAT('4111', LPAD(seq, 12, '0')) FROM seq_1_to_25"], 25);
    assert.equal(rows["select  id\n  from cards where pan = 'it''s' # a comment"], 0);
    assert.equal(rows['selec 1'], 0);
    assert.equal(rows["CREATE USER 'app'@'%' IDENTIFIED BY *****"], 0);
    // the statements before the slow log was switched on
    assert.equal(rows['SET GLOBAL long_query_time=0'], null);
    assert.match(err, /; slow log: 13 entries, 13 joined to their statement, 0 unmatched; 4 statements without a slow-log entry \(rowCount null\)\n/);
  });

  it('entries no audit statement joins are counted as unmatched; a bad slow-log line is file:line and exit 1', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dasguard-slowlog-'));
    const slow = join(dir, 'slow.log');
    const extra = [
      '# User@Host: app[app] @  [127.0.0.1]',
      '# Thread_id: 99  Schema: shop  QC_hit: No',
      '# Query_time: 0.000255  Lock_time: 0.000102  Rows_sent: 3  Rows_examined: 3',
      'SET timestamp=1796235967;',
      'SELECT * FROM nobody_audited;',
      '# User@Host: app[app] @  [127.0.0.1]',
      '# Thread_id: five  Schema: shop  QC_hit: No',
    ];
    const text = `${readFileSync(SLOW, 'utf8')}${extra.join('\n')}\n`;
    writeFileSync(slow, text);
    const { code, err } = await importWith(AUDIT, [slow]);
    assert.equal(code, 1, err);
    const badLine = text.split('\n').length - 1;
    assert.match(err, new RegExp(`${slow.replace(/[.\\/]/g, '\\$&')}:${badLine}: unreadable Thread_id line`));
    assert.match(err, /slow log: 14 entries, 13 joined to their statement, 1 unmatched;/);
  });

  it('--slow-log with another format is a usage error (exit 2)', async () => {
    const c = capture();
    assert.equal(await main(['import', 'pgaudit', AUDIT, '--slow-log', SLOW], c.io), 2);
    assert.match(c.err(), /import pgaudit: --slow-log is for mariadb-audit/);
  });

  it('an entry older than the audit log by LAG_MS is left behind (unmatched), not joined to a later statement', async () => {
    const at = (s: number): SlowEntry => ({ threadId: '7', timeMs: s * 1000, rowsSent: 5, rowsAffected: 0, key: 'SELECT 1', line: 1 });
    const entries = [at(0), at(100)];
    async function* gen() { yield* entries; }
    const join = new SlowLogJoin(gen());
    assert.equal(await join.rowCount('7', 'SELECT 1', 0), 5);
    // the second entry is at 100 s; an audit SELECT 1 of thread 7 at 100 s + LAG_MS + 1 s finds it gone
    assert.equal(await join.rowCount('7', 'SELECT 1', 100_000 + LAG_MS + 1000), null);
    await join.end();
    assert.deepEqual(join.counts, { entries: 2, joined: 1, statementsWithout: 1 });
    assert.equal(join.unmatched, 1);
  });
});
