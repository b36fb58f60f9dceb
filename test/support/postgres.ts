/**
 * A real PostgreSQL 15 + pgaudit for tests and scripts/corpus.ts: initdb + pg_ctl in a temp dir on 127.0.0.1 and
 * a free port (as the postgres OS user when run as root: initdb refuses root), scram-sha-256 with the superuser
 * `postgres` / `superpw`, pgaudit `ddl,role,read,write,misc,misc_set` (pgaudit 1.7 logs SET in its own class MISC_SET) with parameters,
 * relations and row counts (`log_rows`), the server's log_statement = 'all' (docs/import.md), connections and
 * disconnections logged, csvlog and jsonlog in `logDir` (pg.csv, pg.json). `whyNoPostgres` says why it cannot run.
 * PG_BIN overrides /usr/lib/postgresql/15/bin.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './freePort.js';

const run = promisify(execFile);
export const PG_BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';
const PGAUDIT = join(PG_BIN, '..', 'lib', 'pgaudit.so');
const asRoot = process.getuid?.() === 0;

/** Why a server cannot be started here (a skip reason), or false. */
export function whyNoPostgres(): string | false {
  if (!existsSync(join(PG_BIN, 'initdb')) || !existsSync(join(PG_BIN, 'psql'))) return `no PostgreSQL 15 in ${PG_BIN} (apt-get install postgresql-15 postgresql-15-pgaudit, or set PG_BIN)`;
  if (!existsSync(PGAUDIT)) return `no pgaudit in ${PGAUDIT} (apt-get install postgresql-15-pgaudit)`;
  if (asRoot && !existsSync('/usr/sbin/runuser') && !existsSync('/sbin/runuser')) return 'running as root and no runuser to start PostgreSQL as the postgres user';
  return false;
}

/** A server binary, as the postgres OS user when we are root (initdb and postgres refuse root). */
function server(bin: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  return asRoot ? run('runuser', ['-u', 'postgres', '--', join(PG_BIN, bin), ...args]) : run(join(PG_BIN, bin), args);
}

export interface Postgres {
  /** The temp dir (holds data/, log/; removed by `remove`). */
  dir: string;
  logDir: string;
  port: number;
  /** A fast shutdown: the logging collector has written everything when it returns. */
  stop(): Promise<void>;
  /** Stops the server if it still runs (immediate) and removes the temp dir. */
  remove(): Promise<void>;
}

export async function startPostgres(): Promise<Postgres> {
  const dir = await mkdtemp(join(tmpdir(), 'dg-pg-'));
  await chmod(dir, 0o777); // the postgres user writes here when we are root
  const data = join(dir, 'data');
  const logDir = join(dir, 'log');
  const port = await freePort();
  const pw = join(dir, 'pw');
  await writeFile(pw, 'superpw\n', { mode: 0o644 });
  let started = false;
  const remove = async () => {
    if (started) await server('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
    started = false;
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await server('initdb', ['-D', data, '-U', 'postgres', '--auth=scram-sha-256', `--pwfile=${pw}`, '-E', 'UTF8', '--no-sync']);
    const conf = [
      `listen_addresses = '127.0.0.1,::1'`, // ::1: a second client host (scripts/corpus/postgresql.ts)
      `port = ${port}`,
      `unix_socket_directories = '${dir}'`,
      `shared_preload_libraries = 'pgaudit'`,
      `pgaudit.log = 'ddl,role,read,write,misc,misc_set'`,
      `pgaudit.log_parameter = on`,
      `pgaudit.log_rows = on`,
      `pgaudit.log_relation = on`,
      `log_statement = 'all'`, // what pgaudit cannot log about itself (SET pgaudit.log = 'none' and what follows): docs/import.md
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
  } catch (e) {
    await remove();
    throw e;
  }
  return {
    dir,
    logDir,
    port,
    stop: async () => {
      await server('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']);
      started = false;
    },
    remove,
  };
}
