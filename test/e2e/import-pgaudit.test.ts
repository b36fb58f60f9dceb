/**
 * `dasguard import pgaudit` against a REAL PostgreSQL 15 with pgaudit (test/support/postgres.ts: a temp server on
 * 127.0.0.1 and a free port, as the postgres OS user when the test runs as root), csvlog and jsonlog, connections logged; a superuser's DDL, a statement that fails while it runs, five syntax errors (an injection probe), ten failed logins.
 * Both logs are imported and replayed with the bundled rules: the alerts a user expects (ddl-by-privileged-user,
 * sql-error with the SQLSTATE, sql-injection-probe, brute-force) are there. Skips, saying why, when the server or pgaudit is absent
 * (.ci/run installs them: postgresql-15, postgresql-15-pgaudit). PG_BIN overrides /usr/lib/postgresql/15/bin.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { jsonLines, runCli } from '../support/cli.js';
import { PG_BIN as BIN, startPostgres, whyNoPostgres } from '../support/postgres.js';

const run = promisify(execFile);

/** The reason the test is skipped (shown in the test report as `# SKIP <reason>`), or false. */
const skip = whyNoPostgres();

test('a real PostgreSQL 15 + pgaudit log, imported and replayed, gives the alerts a user expects', { skip }, async () => {
  const pg = await startPostgres();
  const { dir, logDir, port } = pg;
  try {
    const psql = (user: string, password: string, sql: string) =>
      run(join(BIN, 'psql'), ['-h', '127.0.0.1', '-p', String(port), '-U', user, '-d', 'postgres', '-X', '-v', 'ON_ERROR_STOP=0', '-c', sql], { env: { ...process.env, PGPASSWORD: password } });
    await psql('postgres', 'superpw', "create table accounts (id int, owner text); insert into accounts values (1, 'a'); create role alice login password 'alicepw'");
    // fails while it runs: with pgaudit.log_rows pgaudit logs a SELECT when it ends (to count its rows), so a
    // failed one has no AUDIT line; the server's log_statement line is its event (READ, pgaudit's class for a SELECT),
    // and the ERROR goes on it
    await assert.rejects(psql('postgres', 'superpw', 'select id,\n owner from accounts\n where 1/(id-1) = 0'), /division by zero/);
    // An injection probe: a burst of syntax errors from one user and host (one alert, not one per error).
    for (const probe of ['selec 1', "select * from accounts where id = 1'", 'select * from accounts where id = 1 union selec null--', 'SELECT owner FROM accounts WHERE id = 1) OR (1=1', 'select 1 frm accounts']) {
      await assert.rejects(psql('postgres', 'superpw', probe), /syntax error|unterminated/);
    }
    for (let i = 0; i < 10; i++) await assert.rejects(psql('alice', 'wrong', 'select 1'), /password authentication failed/);
    await pg.stop(); // the collector has written everything

    const alertsOf = async (logFile: string) => {
      const out = join(dir, `out-${logFile}`);
      await mkdir(out);
      const imp = await runCli(['import', 'pgaudit', join(logDir, logFile), '--output', out]);
      assert.equal(imp.code, 0, imp.stderr);
      assert.match(imp.stderr, /import pgaudit: \d+ events in \d+ records? .*; 0 unreadable lines/);
      const [file] = await readdir(out);
      const r = await runCli(['replay', join(out, file!), '--rules', 'rules', '--output', 'jsonl', '--quiet']);
      assert.equal(r.code, 0, r.stderr);
      return jsonLines(r.stdout) as { ruleId: string; event: Record<string, unknown> }[];
    };
    for (const logFile of ['pg.csv', 'pg.json']) {
      const alerts = await alertsOf(logFile);
      const ids = alerts.map((a) => a.ruleId);
      const ddl = alerts.find((a) => a.ruleId === 'ddl-by-privileged-user');
      assert.ok(ddl, `${logFile}: ${ids.join()}`);
      assert.equal(ddl.event.command, 'CREATE TABLE');
      const errors = alerts.filter((a) => a.ruleId === 'sql-error').map((a) => [a.event.class, a.event.exitCode, a.event.commandText]);
      assert.deepEqual(errors, [
        // (alerts show statements with their literals redacted: docs/redaction.md)
        ['READ', '22012', 'select id,\n owner from accounts\n where ?/(id-?) = ?'],
      ], logFile);
      // The five syntax errors are one sql-injection-probe alert; none of them is an sql-error of its own.
      const probes = alerts.filter((a) => a.ruleId === 'sql-injection-probe');
      assert.equal(probes.length, 1, `${logFile}: ${ids.join()}`);
      assert.equal((probes[0]!.event.correlation as { events: number }).events, 5);
      assert.ok(ids.includes('privilege-change'), `${logFile}: ${ids.join()}`);
      const brute = alerts.find((a) => a.ruleId === 'brute-force');
      assert.ok(brute, `${logFile}: ${ids.join()}`);
      const last = brute.event.last as Record<string, unknown>;
      assert.deepEqual([last.dbUserName, last.command, last.remoteHost], ['alice', 'AUTH FAILURE', '127.0.0.1']);
      assert.equal((brute.event.correlation as { events: number }).events, 10);
    }
  } finally {
    await pg.remove();
  }
});
