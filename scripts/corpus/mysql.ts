/**
 * `npm run corpus -- mysql`: builds the labelled MySQL detection corpus in test/corpus/mysql/ from a REAL MariaDB
 * 10.11 + server_audit (test/support/mariadb.ts: a temp server on 127.0.0.1, TZ=UTC so the audit log's local times
 * are UTC). It runs provisioning (users, the `shop` database and its tables), benign load (an application-like
 * workload of thousands of statements as `app`, an occasional duplicate key, reports, one mistyped password), then
 * scripted incidents one after the other, several varied instances per category, then imports the audit log with
 * `dasguard import mariadb-audit` and writes events.jsonl.gz, labels.json, counts.json (scripts/corpus/common.ts).
 *
 * Labels: keyed by the events' sessionId (server_audit's connection id), as for PostgreSQL (postgresql.ts says why).
 */
import { spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MARIADB, startMariadb, whyNoMariadb } from '../../test/support/mariadb.js';
import { importLog, IncidentLog, LogClock, writeCorpus } from './common.js';

const OUT = join('test', 'corpus', 'mysql');
/** Where the corpus's log time starts (a Wednesday's working hours). */
const CORPUS_START_MS = Date.parse('2026-10-14T09:00:00.000Z');
/** Log time between two incidents' starts: longer than the pack's longest quiet period (realert 10m). */
const INCIDENT_GAP_MS = 11 * 60_000;

/**
 * Runs `sql` (statements separated by ";\n") in ONE connection of the mariadb client, on stdin; --force goes on
 * after an error, --comments sends comments to the server. Resolves false when the client failed (a rejected
 * login, an error in a statement): expected for incidents. A client rejected at login may exit before it reads its
 * input: that EPIPE is its exit (the code says it failed), any other error on its stdin fails the build.
 */
function client(args: string[], sql: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const c = spawn(MARIADB!, ['--no-defaults', '--force', '--comments', '--batch', ...args], { stdio: ['pipe', 'ignore', 'ignore'] });
    c.once('error', reject);
    c.once('exit', (code) => resolve(code === 0));
    c.stdin.on('error', (err: NodeJS.ErrnoException) => { if (err.code !== 'EPIPE') reject(err); });
    c.stdin.end(sql);
  });
}

/** Builds test/corpus/mysql/ (the `mysql` part of `npm run corpus`). */
export async function buildMysqlCorpus(): Promise<void> {
  const why = whyNoMariadb();
  if (why !== false) throw new Error(why);
  // --secure-file-priv= (empty): LOAD DATA INFILE, LOAD_FILE and INTO OUTFILE may touch any path (the incidents)
  // the slow log of every statement: its row counts, joined to the audit log's statements by the import
  const db = await startMariadb({ env: { ...process.env, TZ: 'UTC' }, extraArgs: ['--secure-file-priv='], slowLog: true });
  const { port, sock } = db;
  try {
    const tcp = (user: string, password: string, sql: string[], database = 'shop') =>
      client(['-h127.0.0.1', `-P${port}`, `-u${user}`, `-p${password}`, ...(database !== '' ? [`-D${database}`] : [])], sql.map((s) => `${s};\n`).join(''));
    const root = (...sql: string[]) => client([`-S${sock}`, '-uroot', '-Dshop'], sql.map((s) => `${s};\n`).join(''));

    // --- setup (benign: the DBA's provisioning, before anything is labelled) ---
    const clock = new LogClock();
    clock.mark(CORPUS_START_MS);
    const setupStart = Date.now();
    const users = ['app', 'reporter', 'admin', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi', 'ivan', 'judy', 'mallory'];
    await client([`-S${sock}`, '-uroot'], [
      'CREATE DATABASE shop',
      ...users.map((u) => `CREATE USER '${u}'@'%' IDENTIFIED BY '${u}pw'`),
      "GRANT SELECT, INSERT, UPDATE, DELETE ON shop.* TO 'app'@'%'",
      "GRANT SELECT ON shop.* TO 'reporter'@'%'",
      "GRANT ALL ON *.* TO 'admin'@'%'",
      'USE shop',
      'CREATE TABLE customers (id INT PRIMARY KEY AUTO_INCREMENT, email VARCHAR(80) NOT NULL UNIQUE, name VARCHAR(80))',
      'CREATE TABLE orders (id INT PRIMARY KEY AUTO_INCREMENT, customer_id INT NOT NULL, total DECIMAL(10,2), created TIMESTAMP DEFAULT CURRENT_TIMESTAMP, KEY (customer_id))',
      'CREATE TABLE products (id INT PRIMARY KEY, name VARCHAR(80), price DECIMAL(10,2), stock INT)',
      'CREATE TABLE cards (id INT PRIMARY KEY, customer_id INT, pan VARCHAR(19), expiry CHAR(5))',
      'CREATE TABLE scratch (id INT)',
      'CREATE TABLE scratch_load (id INT, v VARCHAR(10))',
      `INSERT INTO products VALUES ${Array.from({ length: 50 }, (_, i) => `(${i + 1}, 'product ${i + 1}', ${(i % 20) + 1}.99, 100)`).join(', ')}`,
      `INSERT INTO cards VALUES ${Array.from({ length: 50 }, (_, i) => `(${i + 1}, ${i + 1}, '4111111111${String(100000 + i)}', '12/29')`).join(', ')}`,
      // last year's orders, archived (the Sequence engine's seq_1_to_N): the reporter's SELECT * of it (bulk-read-1)
      // reads past heavy-read's 10,000 rows; its own table, as the destructive incidents empty orders before
      'CREATE TABLE order_history (id INT PRIMARY KEY, customer_id INT NOT NULL, total DECIMAL(10,2), created TIMESTAMP NULL)',
      "INSERT INTO order_history SELECT seq, seq % 200 + 1, (seq * 7) % 100 + 0.5, TIMESTAMP '2025-10-14 09:00:00' + INTERVAL seq * 23 MINUTE FROM seq_1_to_20000",
    ].map((s) => `${s};\n`).join(''));
    const setupEnd = Date.now();
    await nextWallSecond(); // the benign load starts in a second of its own (logSecond)

    // --- benign load: the application (a pool of connections, many statements each), reports, a typo ---
    for (let c = 0; c < 12; c++) {
      const sql: string[] = [];
      for (let i = 0; i < 60; i++) {
        const n = c * 60 + i;
        const cust = (n % 200) + 1;
        if (n < 200) sql.push(`INSERT INTO customers (email, name) VALUES ('user${cust}@example.com', 'Customer ${cust}')`);
        else if (n % 25 === 0) sql.push(`INSERT INTO customers (email, name) VALUES ('user${cust}@example.com', 'Customer ${cust}')`); // a duplicate key, as apps have
        sql.push(`SELECT id, email, name FROM customers WHERE id = ${cust}`);
        sql.push(`INSERT INTO orders (customer_id, total) VALUES (${cust}, ${(n * 7) % 100}.50)`);
        sql.push(`SELECT id, total, created FROM orders WHERE customer_id = ${cust} ORDER BY created DESC LIMIT 10`);
        sql.push(`SELECT name, price, stock FROM products WHERE id = ${(n % 50) + 1}`);
        sql.push(`UPDATE products SET stock = stock - 1 WHERE id = ${(n % 50) + 1}`);
        if (n % 3 === 0) sql.push(`UPDATE orders SET total = total + 1 WHERE id = ${n + 1}`);
        if (n % 40 === 39) sql.push(`DELETE FROM orders WHERE id = ${n - 20}`);
        if (n % 10 === 0) sql.push('SELECT COUNT(*) FROM orders WHERE created > NOW() - INTERVAL 1 DAY');
      }
      await tcp('app', 'apppw', sql);
    }
    await tcp('reporter', 'reporterpw', [
      'SELECT customer_id, SUM(total) FROM orders GROUP BY customer_id',
      'SELECT p.name, COUNT(*) FROM orders o JOIN products p ON p.id = o.customer_id % 50 + 1 GROUP BY p.name',
      'SELECT COUNT(*) FROM customers',
    ]);
    await tcp('app', 'wrongpw', ['SELECT 1']); // one mistyped password: benign
    await tcp('app', 'apppw', ['SELECT 1']);

    // --- incidents, one after the other ---
    const log = new IncidentLog(clock, clock.toLog(Date.now()) + INCIDENT_GAP_MS, INCIDENT_GAP_MS);
    // each incident starts in a second of its own: server_audit's times are whole seconds, so a second shared by two
    // phases could not be moved to both places in log time (logSecond below)
    const incident = async (category: string, body: () => Promise<unknown>) => { await nextWallSecond(); await log.run(category, body); };
    const times = async (n: number, f: (i: number) => Promise<unknown>) => { for (let i = 0; i < n; i++) await f(i); };
    const admin = (...sql: string[]) => tcp('admin', 'adminpw', sql);

    await incident('brute-force', () => times(12, () => tcp('bob', 'guess', ['SELECT 1'])));
    await incident('brute-force', () => times(15, (i) => tcp('carol', `pw${i}`, ['SELECT 1'], '')));
    await incident('brute-force', () => times(10, (i) => tcp('root', `Summer202${i}`, ['SELECT 1'], '')));
    await incident('password-spraying', () => times(10, (i) => tcp(users[i + 1]!, 'Winter2026!', ['SELECT 1'])));
    await incident('password-spraying', () => times(8, (i) => tcp(['erin', 'frank', 'grace', 'heidi', 'ivan', 'judy', 'mallory', 'reporter'][i]!, 'Password1', ['SELECT 1'], '')));
    await incident('failed-logins-then-success', async () => { await times(6, () => tcp('dave', 'dave', ['SELECT 1'], '')); await tcp('dave', 'davepw', ['SELECT CURRENT_USER()'], ''); });
    await incident('failed-logins-then-success', async () => { await times(8, (i) => tcp('judy', `judy${i}`, ['SELECT 1'], '')); await tcp('judy', 'judypw', ['SELECT 1'], ''); });
    await incident('privilege-escalation', () => root("GRANT ALL PRIVILEGES ON *.* TO 'mallory'@'%' WITH GRANT OPTION"));
    await incident('privilege-escalation', () => root("grant super on *.* to 'erin'@'%'"));
    await incident('privilege-escalation', () => root("GRANT FILE\n  ON *.* TO 'frank'@'%' -- maintenance"));
    await incident('privilege-escalation', () => root("/* temp */ CREATE USER 'svc_tmp'@'%' IDENTIFIED BY 'x1'", "GRANT ALL ON *.* TO 'svc_tmp'@'%'"));
    await incident('ddl-by-privileged-user', () => root('CREATE TABLE audit_shadow (id INT, note TEXT)'));
    await incident('ddl-by-privileged-user', () => admin('ALTER TABLE orders ADD COLUMN discount DECIMAL(10,2)'));
    await incident('ddl-by-privileged-user', () => root('/* hotfix */ create index orders_created on orders (created)'));
    await incident('destructive', () => root('DROP TABLE scratch'));
    await incident('destructive', () => admin('truncate   table products'));
    await incident('destructive', () => tcp('app', 'apppw', ['DELETE FROM orders']));
    await incident('destructive', () => tcp('app', 'apppw', ['update customers\n set name = NULL']));
    await incident('audit-tampering', () => root('SET GLOBAL server_audit_logging = OFF', 'SELECT 1', 'SET GLOBAL server_audit_logging = ON'));
    await incident('audit-tampering', () => admin("set global server_audit_events = ''", "SET GLOBAL server_audit_events = 'CONNECT,QUERY,TABLE'"));
    // the plugin uninstalled, then put back as it was (the corpus needs the rest of the log)
    await incident('audit-tampering', () => root('UNINSTALL PLUGIN server_audit', "INSTALL PLUGIN server_audit SONAME 'server_audit'", "SET GLOBAL server_audit_events = 'CONNECT,QUERY,TABLE'", 'SET GLOBAL server_audit_logging = ON'));
    const files = join(db.dir, 'files');
    await mkdir(files, { recursive: true });
    await writeFile(join(files, 'load.csv'), '1,a\n2,b\n');
    await incident('code-execution-file-access', () => root(`LOAD DATA INFILE '${join(files, 'load.csv')}' INTO TABLE scratch_load FIELDS TERMINATED BY ','`));
    await incident('code-execution-file-access', () => admin("SELECT LOAD_FILE('/etc/hostname')"));
    await incident('code-execution-file-access', () => root(`select * from customers into outfile '${join(files, 'out.csv')}'`));
    await incident('credential-catalog-read', () => root('SELECT user, host, authentication_string FROM mysql.user'));
    await incident('credential-catalog-read', () => admin('select * from mysql.global_priv'));
    await incident('credential-catalog-read', () => admin('SELECT User, Password\n  FROM mysql.user WHERE User = \'root\''));
    await incident('bulk-read', () => tcp('reporter', 'reporterpw', ['SELECT * FROM order_history']));
    await incident('bulk-read', () => new Promise<void>((resolve, reject) => {
      const d = spawn('mariadb-dump', ['--no-defaults', '-h127.0.0.1', `-P${port}`, '-ureporter', '-preporterpw', '--single-transaction', 'shop', 'customers', 'orders'], { stdio: ['ignore', 'ignore', 'ignore'] });
      d.once('error', reject);
      d.once('exit', () => resolve());
    }));
    await incident('bulk-read', () => admin('select * from cards'));
    // quotes balanced within each probe: the mariadb client splits its input at `;` outside quotes, so an open quote
    // would send the rest of the burst as one statement (real injected strings reach the server one by one)
    const probes = ['selec 1', "select * from orders where id = 1' or '1'='1", 'select * from orders where id = 1 union selec null--', 'SELECT name FROM customers WHERE id = 1) OR (1=1', 'select 1 frm orders', "select * from customers where email = 'a' 'b' or 1=1)"];
    await incident('sql-injection-probe', () => tcp('app', 'apppw', probes));
    await incident('sql-injection-probe', () => tcp('reporter', 'reporterpw', [...probes.map((p) => p.toUpperCase()).slice(1), 'SELEKT 2']));
    // a scanner that reconnects for each probe (as through an application's pool)
    await incident('sql-injection-probe', () => times(6, (i) => tcp('app', 'apppw', [probes[i]!])));
    await incident('sql-injection-probe', () => tcp('app', 'apppw', ["select id from orders where id = '1' and '1' limit '1'", 'select id from orders where id = 1 order by 9 9', 'select 1 union all selec 2', 'select from where', 'sleect sleep(5)']));

    await db.stop(); // the plugin's file is complete once the server has stopped

    // --- the log's clock (as in postgresql.ts): a fixed working day, incidents INCIDENT_GAP apart ---
    // The log has whole seconds: a wall second moves with the mark in force at its end (each incident's starts a
    // second of its own), to a whole second of log time, and the incidents' spans are those seconds' spans.
    const logSecond = (wallMs: number) => {
      const end = Math.floor(wallMs / 1000) * 1000 + 999;
      return Math.floor(clock.toLog(end) / 1000) * 1000;
    };
    const shifted = join(db.dir, 'server_audit-shifted.log');
    await writeFile(shifted, shiftAuditTimes(await readFile(db.auditLog, 'utf8'), logSecond));
    // the slow log's times the same way (the import joins an entry to its statement by thread and text, reading the
    // slow log as far as the audit log's time has got)
    const slowShifted = join(db.dir, 'slow-shifted.log');
    await writeFile(slowShifted, shiftSlowLogTimes(await readFile(db.slowLog, 'utf8'), logSecond));

    // --- import (row counts from the slow log) and label ---
    const jsonl = await importLog('mariadb-audit', shifted, db.dir, ['--slow-log', slowShifted]);
    // The DBA's provisioning (CREATE USER, GRANT, CREATE DATABASE/TABLE): neither an incident nor routine load.
    const span = (startMs: number, endMs: number) => ({ startMs: logSecond(startMs), endMs: logSecond(endMs) + 999 });
    const provisioning = [span(setupStart, setupEnd)];
    const incidents = log.incidents.map((i) => ({ ...i, ...span(i.startMs, i.endMs) }));
    process.stdout.write(await writeCorpus(OUT, jsonl, incidents, provisioning));
  } finally {
    await db.remove();
  }
}

/** Waits for the wall clock's next second (and a few ms into it). */
function nextWallSecond(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 1005 - (Date.now() % 1000)));
}

/**
 * A server_audit log with each entry's timestamp (its first field, the server's local time: UTC here,
 * `20261014 09:00:00`) replaced by `moveTo(t)` (ms since the epoch; written as whole seconds). A line that starts
 * with such a time followed by a comma starts an entry (a statement's continuation line does not).
 */
export function shiftAuditTimes(log: string, moveTo: (t: number) => number): string {
  return log.replace(/^(\d{4})(\d\d)(\d\d) (\d\d:\d\d:\d\d),/gm, (_m, y: string, mo: string, d: string, time: string) => {
    const t = Date.parse(`${y}-${mo}-${d}T${time}Z`);
    const s = new Date(moveTo(t)).toISOString();
    return `${s.slice(0, 4)}${s.slice(5, 7)}${s.slice(8, 10)} ${s.slice(11, 19)},`;
  });
}

/**
 * A slow log with its times moved like the audit log's: `# Time: 261014  9:00:00` (the server's local time, UTC here;
 * MariaDB pads the hour with a space) and `SET timestamp=<epoch seconds>;` each replaced by `moveTo(t)`.
 */
export function shiftSlowLogTimes(log: string, moveTo: (t: number) => number): string {
  return log
    .replace(/^# Time: (\d\d)(\d\d)(\d\d) +(\d{1,2}):(\d\d):(\d\d)$/gm, (_m, y: string, mo: string, d: string, h: string, mi: string, sec: string) => {
      const s = new Date(moveTo(Date.UTC(2000 + Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(sec)))).toISOString();
      return `# Time: ${s.slice(2, 4)}${s.slice(5, 7)}${s.slice(8, 10)} ${s.slice(11, 19)}`;
    })
    .replace(/^SET timestamp=(\d+);$/gm, (_m, t: string) => `SET timestamp=${Math.floor(moveTo(Number(t) * 1000) / 1000)};`);
}
