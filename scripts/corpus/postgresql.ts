/**
 * `npm run corpus`: builds the labelled PostgreSQL detection corpus in test/corpus/postgresql/ from a REAL
 * PostgreSQL 15 + pgaudit (test/support/postgres.ts: a temp server on 127.0.0.1, as the postgres OS user when run as root).
 * It provisions (roles, the database, Aurora's stand-ins, the application's schema: pgbench -i), runs benign load
 * (pgbench -c 2 -t 8000, an application-like workload with an occasional constraint error and a VACUUM/ANALYZE, the
 * DBA's maintenance), then scripted incidents one after the other, several varied instances per category, then imports the csvlog with `dasguard import pgaudit` and writes events.jsonl.gz, labels.json, counts.json.
 *
 * Labels: keyed by the events' sessionId (the csvlog session_id, as the importer maps it). Comments cannot be
 * the key (alerts redact literals; a failed login has no statement), and an incident like brute force is many
 * connections, so each incident is a time window on this machine's clock: a session whose FIRST event was logged
 * while the incident's psql commands ran belongs to it. Nothing else runs during an incident, so this is exact.
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PG_BIN as BIN, startPostgres, whyNoPostgres } from '../../test/support/postgres.js';
import { importLog, IncidentLog, LogClock, writeCorpus } from './common.js';

const run = promisify(execFile);
const OUT = join('test', 'corpus', 'postgresql');
/** Where the corpus's log time starts (a Wednesday's working hours). */
const CORPUS_START_MS = Date.parse('2026-10-14T09:00:00.000Z');
/** Log time between two incidents' starts: longer than the pack's longest quiet period (realert 10m). */
const INCIDENT_GAP_MS = 11 * 60_000;

/** Builds test/corpus/postgresql/ (the `postgresql` part of `npm run corpus`). */
export async function buildPostgresCorpus(): Promise<void> {
  const why = whyNoPostgres();
  if (why !== false) throw new Error(why);
  const pg = await startPostgres();
  const { port, logDir } = pg;
  try {
    const env = (password: string) => ({ ...process.env, PGPASSWORD: password, PGHOST: '127.0.0.1', PGPORT: String(port) });
    /** One connection: each -c is its own query; errors do not stop the rest. Rejections are expected for incidents. */
    const psql = (user: string, password: string, db: string, ...sql: string[]) =>
      run(join(BIN, 'psql'), ['-U', user, '-d', db, '-X', '-q', '-v', 'ON_ERROR_STOP=0', ...sql.flatMap((s) => ['-c', s])], { env: env(password), maxBuffer: 256 * 1024 * 1024 })
        .then(() => true, () => false);

    // --- setup (benign: the DBA's provisioning, before anything is labelled) ---
    const clock = new LogClock();
    clock.mark(CORPUS_START_MS);
    const setupStart = Date.now();
    const users = ['app', 'reporter', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi', 'ivan', 'judy', 'mallory'];
    await psql('postgres', 'superpw', 'postgres', ...users.map((u) => `create role ${u} login password '${u}pw'`), 'create database appdb owner app', 'grant pg_read_all_data to reporter');
    // Aurora's stand-ins: the rds_superuser role, and aws_s3.query_export_to_s3 (a stub with the extension's
    // signature: it exports nothing); a table for COPY FROM PROGRAM's output
    await psql('postgres', 'superpw', 'appdb', 'create role rds_superuser nologin', 'create schema aws_s3', 'grant usage on schema aws_s3 to public',
      'create function aws_s3.query_export_to_s3(query text, s3_info text, options text default null, out rows_uploaded bigint, out files_uploaded bigint, out bytes_uploaded bigint) language sql as $$ select 0::bigint, 0::bigint, 0::bigint $$',
      'create table public.cmd_out (line text)');
    // the application owner's schema set-up (pgbench -i drops and creates its tables): provisioning too
    await run(join(BIN, 'pgbench'), ['-i', '-s', '1', '-U', 'app', 'appdb'], { env: env('apppw') });
    const setupEnd = Date.now();
    // --- benign load ---
    // (a pgbench run first vacuums its tables and truncates pgbench_history, as the app owner)
    await run(join(BIN, 'pgbench'), ['-c', '2', '-t', '8000', '-U', 'app', 'appdb'], { env: env('apppw') });
    await psql('app', 'apppw', 'appdb', 'create table orders (id serial primary key, customer text not null, total numeric, created timestamptz default now())', 'create unique index orders_customer_day on orders (customer, total)');
    for (let i = 0; i < 200; i++) {
      const sql = [
        `insert into orders (customer, total) values ('cust${i % 17}', ${(i * 7) % 100})`,
        `select id, customer, total from orders where customer = 'cust${i % 17}' order by created desc limit 10`,
        `update orders set total = total + 1 where id = ${i + 1}`,
        `select abalance from pgbench_accounts where aid = ${i * 13 + 1}`,
        `select count(*) from orders where total > ${i}`,
      ];
      if (i % 10 === 9) sql.push(`insert into orders (customer, total) values ('cust${i % 17}', ${(i * 7) % 100})`); // a unique violation, as apps have
      if (i % 20 === 19) sql.push('vacuum analyze orders');
      await psql('app', 'apppw', 'appdb', ...sql);
    }
    await psql('reporter', 'reporterpw', 'appdb', 'select customer, sum(total) from orders group by customer', 'select bid, sum(abalance) from pgbench_accounts group by bid');
    // the DBA's maintenance, as the superuser in working hours: a look at the sessions, table statistics, VACUUM/ANALYZE
    for (let i = 0; i < 5; i++) {
      await psql('postgres', 'superpw', 'appdb', 'select pid, usename, application_name, state, query from pg_stat_activity', 'select relname, n_live_tup, n_dead_tup, last_autovacuum from pg_stat_user_tables order by n_dead_tup desc',
        'select pg_size_pretty(pg_database_size(current_database()))', 'select rolname, rolcanlogin from pg_roles order by 1', i % 2 === 0 ? 'vacuum (analyze) pgbench_accounts' : 'analyze orders');
    }
    await psql('app', 'wrongpw', 'appdb', 'select 1'); // one mistyped password: benign
    await psql('app', 'apppw', 'appdb', 'select 1');
    await psql('app', 'apppw', 'appdb', 'delete from orders where id = 3', 'analyze pgbench_accounts');

    // --- incidents, one after the other ---
    const log = new IncidentLog(clock, clock.toLog(Date.now()) + INCIDENT_GAP_MS, INCIDENT_GAP_MS);
    const incident = (category: string, body: () => Promise<unknown>) => log.run(category, body);
    const times = async (n: number, f: (i: number) => Promise<unknown>) => { for (let i = 0; i < n; i++) await f(i); };
    const su = (...sql: string[]) => psql('postgres', 'superpw', 'appdb', ...sql);

    await incident('brute-force', () => times(12, () => psql('bob', 'guess', 'appdb', 'select 1')));
    await incident('brute-force', () => times(15, (i) => psql('carol', `pw${i}`, 'postgres', 'select 1')));
    await incident('brute-force', () => times(10, (i) => psql('postgres', `Summer202${i}`, 'postgres', 'select 1')));
    await incident('password-spraying', () => times(10, (i) => psql(users[i + 1]!, 'Winter2026!', 'appdb', 'select 1')));
    await incident('password-spraying', () => times(8, (i) => psql(['erin', 'frank', 'grace', 'heidi', 'ivan', 'judy', 'mallory', 'reporter'][i]!, 'Password1', 'postgres', 'select 1')));
    await incident('failed-logins-then-success', async () => { await times(6, () => psql('dave', 'dave', 'appdb', 'select 1')); await psql('dave', 'davepw', 'appdb', 'select current_user'); });
    await incident('failed-logins-then-success', async () => { await times(8, (i) => psql('judy', `judy${i}`, 'postgres', 'select 1')); await psql('judy', 'judypw', 'postgres', 'select 1'); });
    await incident('privilege-escalation', () => su('ALTER ROLE mallory SUPERUSER'));
    await incident('privilege-escalation', () => su('grant pg_read_server_files to erin'));
    await incident('privilege-escalation', () => su('alter   role frank\n  with superuser createrole -- maintenance'));
    await incident('privilege-escalation', () => su('GRANT pg_execute_server_program TO grace'));
    await incident('privilege-escalation', () => su("create role eve superuser login password 'evepw'"));
    await incident('privilege-escalation', () => su('ALTER ROLE heidi\n  BYPASSRLS'));
    await incident('privilege-escalation', () => su('/* ticket 42 */ grant RDS_SUPERUSER to ivan'));
    await incident('ddl-by-privileged-user', () => su('create table audit_shadow (id int, note text)'));
    await incident('ddl-by-privileged-user', () => su('ALTER TABLE orders ADD COLUMN discount numeric'));
    await incident('ddl-by-privileged-user', () => su('/* hotfix */ create index orders_created on orders (created)'));
    await incident('destructive', () => su('create table scratch (id int)', 'drop table scratch'));
    await incident('destructive', () => su('TRUNCATE pgbench_history'));
    await incident('destructive', () => psql('app', 'apppw', 'appdb', 'DELETE FROM orders'));
    await incident('destructive', () => psql('app', 'apppw', 'appdb', 'update pgbench_branches\n set bbalance = 0'));
    await incident('audit-tampering', () => su("SET pgaudit.log = 'none'", 'select 1'));
    await incident('audit-tampering', () => su("ALTER SYSTEM SET pgaudit.log = 'none'", 'ALTER SYSTEM RESET pgaudit.log'));
    await incident('audit-tampering', () => su("set pgaudit.log to 'ddl'"));
    // (each reset at once: the next sessions of app, or in appdb, would not be audited)
    await incident('audit-tampering', () => su("ALTER ROLE app SET pgaudit.log = 'none'", 'alter role app reset pgaudit.log'));
    await incident('audit-tampering', () => su("alter database appdb\n  set pgaudit.log to 'none' -- quieter", 'ALTER DATABASE appdb RESET pgaudit.log'));
    await incident('code-execution-file-access', () => su("COPY (select 1) TO PROGRAM 'cat > /dev/null'"));
    await incident('code-execution-file-access', () => su("select pg_read_file('/etc/hostname')"));
    await incident('code-execution-file-access', () => su("SELECT lo_import('/etc/hostname')"));
    await incident('code-execution-file-access', () => su("select pg_ls_dir('.')"));
    await incident('code-execution-file-access', () => su("COPY cmd_out FROM PROGRAM 'id'"));
    await incident('code-execution-file-access', () => su('select lo_create(4242)', `SELECT lo_export(4242, '${join(pg.dir, 'lo-out')}')`, 'select lo_unlink(4242)'));
    await incident('untrusted-extension', () => su('CREATE EXTENSION dblink'));
    await incident('untrusted-extension', () => su('create extension if not exists adminpack'));
    await incident('untrusted-extension', () => su('create extension file_fdw'));
    await incident('untrusted-extension', () => su('CREATE EXTENSION postgres_fdw'));
    await incident('untrusted-extension', () => su('create extension plpython3u')); // not installed here: the ERROR is still an attempt
    // libc's system(): PostgreSQL refuses a library without its magic block (the ERROR is the attempt); then a C
    // function from a library it accepts
    await incident('untrusted-extension', () => su("CREATE FUNCTION sys_exec(cstring) RETURNS int\n AS '/lib/x86_64-linux-gnu/libc.so.6', 'system'\n LANGUAGE c STRICT"));
    await incident('untrusted-extension', () => su("create or replace function public.fdw_handler_c() returns fdw_handler\n as '$libdir/file_fdw', 'file_fdw_handler' language C"));
    await incident('security-definer', () => su('create function f_sd() returns int language sql security definer as $$ select 1 $$'));
    await incident('security-definer', () => su('CREATE OR REPLACE FUNCTION public.elevate()\n RETURNS void LANGUAGE plpgsql\n SECURITY DEFINER AS $$ begin perform 1; end $$'));
    await incident('credential-catalog-read', () => su('select rolname, rolpassword from pg_authid'));
    await incident('credential-catalog-read', () => su('SELECT usename, passwd FROM pg_shadow'));
    await incident('credential-catalog-read', () => su('select * from pg_catalog.pg_authid where rolsuper'));
    await incident('bulk-read', () => psql('reporter', 'reporterpw', 'appdb', 'select * from pgbench_accounts'));
    await incident('bulk-read', () => psql('reporter', 'reporterpw', 'appdb', 'COPY pgbench_accounts TO STDOUT'));
    await incident('bulk-read', () => su('copy (select * from orders) to stdout with csv'));
    await incident('bulk-read', () => run(join(BIN, 'pg_dump'), ['-U', 'reporter', '--no-blobs', 'appdb'], { env: env('reporterpw'), maxBuffer: 256 * 1024 * 1024 }));
    // exfiltration in small bites: 200 pages of 5,000 rows (each under heavy-read's threshold), 1,000,000 in all
    await incident('bulk-read', () => psql('reporter', 'reporterpw', 'appdb', ...Array.from({ length: 200 }, (_, i) => `select aid, abalance from pgbench_accounts where aid > ${(i % 20) * 5000} order by aid limit 5000`)));
    await incident('export-to-s3', () => psql('app', 'apppw', 'appdb', "select * from aws_s3.query_export_to_s3('select * from orders', 'dg-bucket/orders.csv', options := 'format csv')"));
    await incident('export-to-s3', () => psql('reporter', 'reporterpw', 'appdb', "SELECT * FROM AWS_S3.Query_Export_To_S3(\n  'SELECT * FROM pgbench_accounts', 'dg-bucket/accounts')"));
    const probes = ['selec 1', "select * from orders where id = 1'", 'select * from orders where id = 1 union selec null--', "SELECT customer FROM orders WHERE id = 1) OR (1=1", 'select 1 frm orders', "select * from orders where customer = '' or 1=1 --'"];
    await incident('sql-injection-probe', () => psql('app', 'apppw', 'appdb', ...probes));
    await incident('sql-injection-probe', () => psql('reporter', 'reporterpw', 'appdb', ...probes.map((p) => p.toUpperCase()).slice(1), 'SELEKT 2'));
    // a scanner that reconnects for each probe (as through an application's pool)
    await incident('sql-injection-probe', () => times(6, (i) => psql('app', 'apppw', 'appdb', probes[i]!)));
    await incident('sql-injection-probe', () => psql('app', 'apppw', 'appdb', "select id from orders where id = '1''", 'select id from orders where id = 1 order by 9 9', 'select 1 union all selec 2', 'select from where', 'sleect pg_sleep(5)'));

    // at night (02:30 UTC the next day; site.yaml's zone is UTC): the superuser reads the sessions and kills one
    await log.run('privileged-off-hours', () => su('select pid, usename, query from pg_stat_activity', 'select pg_terminate_backend(0)'), Date.parse('2026-10-15T02:30:00.000Z'));

    // a week later (new-host-privileged-login learns the superuser's hosts for 7 days from its first login, the
    // provisioning): the DBA's routine from its usual host (benign), then the superuser from hosts it never used: IPv6
    // loopback, and the server's own Unix socket (remoteHost [local]: someone on the database host itself)
    const asHost = (host: string, ...sql: string[]) =>
      run(join(BIN, 'psql'), ['-h', host, '-U', 'postgres', '-d', 'appdb', '-X', '-q', ...sql.flatMap((q) => ['-c', q])], { env: env('superpw') }).then(() => true, () => false);
    clock.mark(Date.parse('2026-10-22T09:30:00.000Z'));
    await su('vacuum analyze orders', 'select count(*) from pg_stat_activity');
    await log.run('new-host-privileged-login', () => asHost('::1', 'select current_user'), Date.parse('2026-10-22T10:00:00.000Z'));
    await log.run('new-host-privileged-login', () => asHost(pg.dir, 'SELECT datname FROM pg_database'));

    await pg.stop(); // the collector has written everything

    // --- the log's clock: the same figures whenever the corpus is rebuilt, and incidents apart ---
    // The script runs in a few seconds at whatever time of day. Its log is moved to a fixed working day (Wednesday
    // 2026-10-14, from 09:00 UTC, so time-of-day rules see working hours), and each incident starts INCIDENT_GAP
    // after the one before in log time, so one incident never falls in the quiet period (realert, at most 10 min in
    // the pack) of the one before from the same user and host, as separate incidents of a real database would not.
    const csv = join(logDir, 'pg.csv');
    const shifted = join(pg.dir, 'pg-shifted.csv');
    await writeFile(shifted, shiftLogTimes(await readFile(csv, 'utf8'), (t) => clock.toLog(t) - t));

    // --- import and label ---
    const jsonl = await importLog('pgaudit', shifted, pg.dir);
    // The provisioning (the DBA's CREATE ROLE, CREATE DATABASE; the app owner's pgbench -i): neither an incident nor
    // routine load; left out of both.
    const provisioning = [{ startMs: clock.toLog(setupStart), endMs: clock.toLog(setupEnd) }];
    process.stdout.write(await writeCorpus(OUT, jsonl, log.inLogTime(), provisioning));
  } finally {
    await pg.remove();
  }
}

/**
 * A csvlog with each entry's log_time (its first field: `2026-12-02 05:40:28.638 UTC`) moved by `shiftAt(t)`. A
 * line that starts with such a time followed by a comma starts an entry (a quoted statement's continuation line does
 * not start with a timestamp and a comma).
 */
export function shiftLogTimes(csv: string, shiftAt: (t: number) => number): string {
  return csv.replace(/^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) UTC,/gm, (_m, time: string) => {
    const t = Date.parse(`${time.replace(' ', 'T')}Z`);
    return `${new Date(t + shiftAt(t)).toISOString().replace('T', ' ').replace('Z', '')} UTC,`;
  });
}

