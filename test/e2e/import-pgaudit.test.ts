/**
 * `dasguard import pgaudit` against a REAL PostgreSQL 15 with pgaudit: initdb + pg_ctl in a temp dir on 127.0.0.1
 * and a free port (as the postgres OS user when the test runs as root: initdb refuses root), csvlog and jsonlog,
 * connections logged; a superuser's DDL, a statement that fails while it runs, five syntax errors (an injection probe), ten failed logins.
 * Both logs are imported and replayed with the bundled rules: the alerts a user expects (ddl-by-privileged-user,
 * sql-error with the SQLSTATE, sql-injection-probe, brute-force) are there. Skips, saying why, when the server or pgaudit is absent
 * (.ci/run installs them: postgresql-15, postgresql-15-pgaudit). PG_BIN overrides /usr/lib/postgresql/15/bin.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { jsonLines, runCli } from '../support/cli.js';

const run = promisify(execFile);
const BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';
const PGAUDIT = join(BIN, '..', 'lib', 'pgaudit.so');
const asRoot = process.getuid?.() === 0;

function whySkip(): string | false {
  if (!existsSync(join(BIN, 'initdb')) || !existsSync(join(BIN, 'psql'))) return `no PostgreSQL 15 in ${BIN} (apt-get install postgresql-15 postgresql-15-pgaudit, or set PG_BIN)`;
  if (!existsSync(PGAUDIT)) return `no pgaudit in ${PGAUDIT} (apt-get install postgresql-15-pgaudit)`;
  if (asRoot && !existsSync('/usr/sbin/runuser') && !existsSync('/sbin/runuser')) return 'running as root and no runuser to start PostgreSQL as the postgres user';
  return false;
}

/** A server binary, as the postgres OS user when we are root (initdb and postgres refuse root). */
function server(bin: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  return asRoot ? run('runuser', ['-u', 'postgres', '--', join(BIN, bin), ...args]) : run(join(BIN, bin), args);
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** The reason the test is skipped (shown in the test report as `# SKIP <reason>`), or false. */
const skip = whySkip();

test('a real PostgreSQL 15 + pgaudit log, imported and replayed, gives the alerts a user expects', { skip }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dg-pg-'));
  await chmod(dir, 0o777); // the postgres user writes here when we are root
  const data = join(dir, 'data');
  const logDir = join(dir, 'log');
  const port = await freePort();
  const pw = join(dir, 'pw');
  await writeFile(pw, 'superpw\n', { mode: 0o644 });
  let started = false;
  try {
    await server('initdb', ['-D', data, '-U', 'postgres', '--auth=scram-sha-256', `--pwfile=${pw}`, '-E', 'UTF8', '--no-sync']);
    const conf = [
      `listen_addresses = '127.0.0.1'`,
      `port = ${port}`,
      `unix_socket_directories = '${dir}'`,
      `shared_preload_libraries = 'pgaudit'`,
      `pgaudit.log = 'ddl,role,read,write,misc'`,
      `pgaudit.log_parameter = on`,
      `pgaudit.log_relation = on`,
      `logging_collector = on`,
      `log_destination = 'csvlog,jsonlog'`,
      `log_directory = '${logDir}'`,
      `log_filename = 'pg'`,
      `log_connections = on`,
      `log_disconnections = on`,
      `log_timezone = 'UTC'`,
      `fsync = off`,
    ];
    await writeFile(join(data, 'postgresql.conf'), conf.join('\n') + '\n', { flag: 'a' });
    await server('pg_ctl', ['-D', data, '-l', join(dir, 'server.log'), '-w', 'start']);
    started = true;
    const psql = (user: string, password: string, sql: string) =>
      run(join(BIN, 'psql'), ['-h', '127.0.0.1', '-p', String(port), '-U', user, '-d', 'postgres', '-X', '-v', 'ON_ERROR_STOP=0', '-c', sql], { env: { ...process.env, PGPASSWORD: password } });
    await psql('postgres', 'superpw', "create table accounts (id int, owner text); insert into accounts values (1, 'a'); create role alice login password 'alicepw'");
    // fails while it runs: pgaudit logged it first, so the error goes on its event
    await assert.rejects(psql('postgres', 'superpw', 'select id,\n owner from accounts\n where 1/(id-1) = 0'), /division by zero/);
    // An injection probe: a burst of syntax errors from one user and host (one alert, not one per error).
    for (const probe of ['selec 1', "select * from accounts where id = 1'", 'select * from accounts where id = 1 union selec null--', 'SELECT owner FROM accounts WHERE id = 1) OR (1=1', 'select 1 frm accounts']) {
      await assert.rejects(psql('postgres', 'superpw', probe), /syntax error|unterminated/);
    }
    for (let i = 0; i < 10; i++) await assert.rejects(psql('alice', 'wrong', 'select 1'), /password authentication failed/);
    await server('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']); // the collector has written everything
    started = false;

    const alertsOf = async (logFile: string) => {
      const out = join(dir, `out-${logFile}`);
      await (await import('node:fs/promises')).mkdir(out);
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
    if (started) await server('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
});
