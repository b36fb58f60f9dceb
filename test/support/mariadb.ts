/**
 * A real MariaDB with the server_audit plugin (Debian `mariadb-server`) for tests and scripts/corpus.ts:
 * mariadb-install-db + mariadbd in a temp dir on 127.0.0.1 and a free port (`--user=root` when run as root),
 * server_audit logging CONNECT,QUERY,TABLE to `auditLog`; root over the socket `sock` without a password.
 * `extraArgs` are more mariadbd options (e.g. `--secure-file-priv=DIR`); `env` its environment (e.g. TZ=UTC: the
 * audit log's timestamps are the server's local time); `slowLog: true` also writes the slow query log of every
 * statement (long_query_time=0, log_slow_verbosity=query_plan) to `slowLog`, whose row counts `import mariadb-audit
 * --slow-log` joins. `whyNoMariadb` says why it cannot run.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './freePort.js';

const run = promisify(execFile);

function which(name: string): string | undefined {
  for (const dir of [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/bin']) {
    const p = join(dir, name);
    if (dir !== '' && existsSync(p)) return p;
  }
  return undefined;
}

export const MARIADBD = which('mariadbd');
export const INSTALL_DB = which('mariadb-install-db');
/** The command-line client. */
export const MARIADB = which('mariadb');

/** Why a server cannot be started here (a skip reason), or false. */
export function whyNoMariadb(): string | false {
  if (MARIADBD === undefined || INSTALL_DB === undefined || MARIADB === undefined) return 'mariadbd, mariadb-install-db or mariadb not installed (apt-get install mariadb-server)';
  return false;
}

export interface Mariadb {
  /** The temp dir (holds data/, the socket, the audit log; removed by `remove`). */
  dir: string;
  port: number;
  sock: string;
  /** The server_audit log (complete once `stop` returned). */
  auditLog: string;
  /** The slow query log (with `slowLog: true`; complete once `stop` returned). */
  slowLog: string;
  /** SIGTERM and wait for the exit: the plugin's file is complete when it returns. */
  stop(): Promise<void>;
  /** Stops the server if it still runs and removes the temp dir (the data dir is ~110 MB). */
  remove(): Promise<void>;
}

export async function startMariadb(opts: { extraArgs?: string[]; env?: NodeJS.ProcessEnv; slowLog?: boolean } = {}): Promise<Mariadb> {
  const why = whyNoMariadb();
  if (why !== false) throw new Error(why);
  const dir = await mkdtemp(join(tmpdir(), 'dg-mariadb-'));
  const datadir = join(dir, 'data');
  const sock = join(dir, 'mysqld.sock');
  const auditLog = join(dir, 'server_audit.log');
  const slowLog = join(dir, 'slow.log');
  const asRoot = userInfo().uid === 0 ? ['--user=root'] : [];
  let exited: Promise<number | null> | undefined;
  let server: ReturnType<typeof spawn> | undefined;
  const stop = async () => {
    if (server === undefined || exited === undefined) return;
    server.kill('SIGTERM');
    await exited;
    server = undefined;
  };
  const remove = async () => {
    await stop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await run(INSTALL_DB!, ['--no-defaults', `--datadir=${datadir}`, '--auth-root-authentication-method=normal', ...asRoot]);
    const port = await freePort();
    server = spawn(
      MARIADBD!,
      [
        '--no-defaults', `--datadir=${datadir}`, `--socket=${sock}`, `--port=${port}`, '--bind-address=127.0.0.1', '--skip-name-resolve',
        `--pid-file=${join(dir, 'mysqld.pid')}`, '--skip-log-bin', '--innodb-buffer-pool-size=16M', ...asRoot,
        '--plugin-load-add=server_audit', '--server_audit_logging=ON', '--server_audit_events=CONNECT,QUERY,TABLE', `--server_audit_file_path=${auditLog}`,
        ...(opts.slowLog === true ? ['--slow-query-log=ON', `--slow-query-log-file=${slowLog}`, '--long-query-time=0', '--log-slow-verbosity=query_plan'] : []),
        ...(opts.extraArgs ?? []),
      ],
      { stdio: ['ignore', 'ignore', 'pipe'], env: opts.env ?? process.env },
    );
    const srv = server;
    exited = new Promise<number | null>((resolve) => srv.once('exit', (code) => resolve(code)));
    let serverLog = '';
    // the server says when it accepts connections
    await new Promise<void>((resolve, reject) => {
      srv.stderr!.on('data', (c: Buffer) => {
        serverLog += c.toString();
        if (serverLog.includes('ready for connections')) resolve();
      });
      void exited!.then((code) => reject(new Error(`mariadbd exited (${code}) before it was ready:\n${serverLog}`)));
    });
    return { dir, port, sock, auditLog, slowLog, stop, remove };
  } catch (e) {
    await remove();
    throw e;
  }
}
