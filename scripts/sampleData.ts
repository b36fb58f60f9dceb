/**
 * Realistic DAS activity, shared by the sample generator, the benchmarks and tests: the documented example
 * events (seeds/004) plus the variety a real cluster shows (privileged DDL, heavy reads, errors, failed logins,
 * privilege changes, unbounded DELETE/UPDATE, MySQL MAIN/AUX pairs (reads of a sensitive table), heartbeats, admin noise, an unknown field),
 * embedded in pgbench-like background traffic. Deterministic: a seeded PRNG, fixed clock.
 */

export type RawEvent = Record<string, unknown>;

export interface SampleRecord {
  clusterId: string;
  instanceId: string;
  databaseActivityEventList: RawEvent[];
}

export const PG = {
  clusterId: 'cluster-4HNY5V4RRNPKKYB7ICFKE5JBQQ',
  instanceId: 'db-FZJTMYKCXQBUUZ6VLU7NW3ITCM',
  version: '1.1',
} as const;

export const MYSQL = {
  clusterId: 'cluster-2VZQ7MYSQLDEMOK5XH3JQ4E3LY',
  instanceId: 'db-QW3MYSQLDEMOINST7ZP2L6RBNA',
  version: '1.2',
} as const;

/** mulberry32: small, fast, deterministic. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** "2024-03-05 14:02:11.123456+00", the DAS timestamp form. */
export function dasTime(ms: number, micros = 0): string {
  const iso = new Date(ms).toISOString(); // 2024-03-05T14:02:11.123Z
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}${String(micros % 1000).padStart(3, '0')}+00`;
}

const PG_BASE = {
  serverVersion: '2.3.5',
  serverType: 'PostgreSQL',
  serviceName: 'Amazon Aurora PostgreSQL-Compatible edition',
  serverHost: '172.31.3.192',
  netProtocol: 'TCP',
  dbProtocol: 'Postgres 3.0',
  type: 'record',
};

const MY_BASE = {
  serverHost: 'master',
  serverType: 'MySQL',
  serviceName: 'Amazon Aurora MySQL',
  serverVersion: 'MySQL 5.7.12',
  dbProtocol: 'MySQL',
  netProtocol: 'TCP',
  type: 'record',
};

interface PgSession {
  user: string;
  db: string;
  host: string;
  port: string;
  sessionId: string;
  pid: number;
  app: string | null;
  statementId: number;
}

export class PgTraffic {
  private t: number;
  private micro = 0;
  constructor(
    startMs: number,
    private readonly rnd: () => number,
  ) {
    this.t = startMs;
  }

  session(user: string, db: string, host: string, app: string | null, n: number): PgSession {
    const pid = 9000 + n;
    return { user, db, host, port: String(33000 + n), sessionId: `5e04596c.${pid.toString(16)}`, pid, app, statementId: 0 };
  }

  private tick(): [string, string] {
    const start = this.t;
    this.t += 1 + Math.floor(this.rnd() * 40);
    this.micro = (this.micro + 137) % 1000;
    return [dasTime(start, this.micro), dasTime(this.t, this.micro)];
  }

  event(s: PgSession, fields: Partial<RawEvent> & { command: string; class: string }): RawEvent {
    const [startTime, logTime] = this.tick();
    s.statementId++;
    return {
      startTime,
      logTime,
      statementId: s.statementId,
      substatementId: 1,
      objectType: null,
      objectName: null,
      databaseName: s.db,
      dbUserName: s.user,
      remoteHost: s.host,
      remotePort: s.port,
      sessionId: s.sessionId,
      rowCount: null,
      commandText: null,
      paramList: [],
      pid: s.pid,
      clientApplication: s.app,
      exitCode: null,
      ...PG_BASE,
      errorMessage: null,
      ...fields,
    };
  }

  heartbeat(): RawEvent {
    const [, logTime] = this.tick();
    return { type: 'heartbeat', logTime, serverType: 'PostgreSQL' };
  }

  /** Lets `ms` of quiet pass (a stream spanning days, for rules that learn what is usual). */
  advance(ms: number): void {
    this.t += ms;
  }

  /** pgbench's transaction: the background noise of a busy OLTP database. */
  pgbench(s: PgSession): RawEvent[] {
    const aid = 1 + Math.floor(this.rnd() * 100000);
    const delta = Math.floor(this.rnd() * 10000) - 5000;
    return [
      this.event(s, { class: 'WRITE', command: 'UPDATE', objectType: 'TABLE', objectName: 'public.pgbench_accounts', rowCount: 1, commandText: 'UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2;', paramList: [String(delta), String(aid)] }),
      this.event(s, { class: 'READ', command: 'SELECT', objectType: 'TABLE', objectName: 'public.pgbench_accounts', rowCount: 1, commandText: 'SELECT abalance FROM pgbench_accounts WHERE aid = $1;', paramList: [String(aid)] }),
      this.event(s, { class: 'WRITE', command: 'INSERT', objectType: 'TABLE', objectName: 'public.pgbench_history', rowCount: 1, commandText: 'INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES ($1, $2, $3, $4, CURRENT_TIMESTAMP);', paramList: ['7', '1', String(aid), String(delta)] }),
    ];
  }
}

interface MySession {
  user: string;
  db: string;
  host: string;
  port: string;
  sessionId: string;
  pid: number;
  statementId: number;
}

export class MyTraffic {
  private t: number;
  private micro = 0;
  constructor(
    startMs: number,
    private readonly rnd: () => number,
  ) {
    this.t = startMs;
  }

  session(user: string, db: string, host: string, n: number): MySession {
    return { user, db, host, port: String(11000 + n), sessionId: String(725000 + n), pid: 2830, statementId: 65459000 + n * 1000 };
  }

  private base(s: MySession): RawEvent {
    return {
      clientApplication: null,
      pid: s.pid,
      dbUserName: s.user,
      databaseName: s.db,
      remoteHost: s.host,
      remotePort: s.port,
      paramList: null,
      sessionId: s.sessionId,
      ...MY_BASE,
      transactionId: '0',
    };
  }

  /** One statement: a MAIN event and its AUX events (one per object), AUX first as Aurora often sends them. */
  statement(
    s: MySession,
    sql: string,
    opts: { objects?: { name: string; command: string; type?: string }[]; rowCount?: number; errorMessage?: string; exitCode?: string } = {},
  ): RawEvent[] {
    s.statementId++;
    const start = this.t;
    this.t += 1 + Math.floor(this.rnd() * 30);
    this.micro = (this.micro + 211) % 1000;
    const startTime = dasTime(start, this.micro);
    const mainTime = dasTime(this.t - 1, this.micro);
    const objects = opts.objects ?? [];
    const aux = objects.map((o, i) => ({
      ...this.base(s),
      logTime: dasTime(this.t - 1, this.micro + 1 + i),
      command: o.command,
      commandText: o.name,
      objectType: o.type ?? 'TABLE',
      objectName: o.name,
      statementId: s.statementId,
      substatementId: 2,
      exitCode: '',
      rowCount: 0,
      startTime,
      endTime: dasTime(this.t - 1, this.micro + 1 + i),
      errorMessage: '',
      class: 'AUX',
    }));
    const main = {
      ...this.base(s),
      logTime: mainTime,
      command: 'QUERY',
      commandText: sql,
      objectType: objects.length > 0 ? (objects[0]!.type ?? 'TABLE') : '',
      objectName: objects.map((o) => o.name).join(','),
      statementId: s.statementId,
      substatementId: 1,
      exitCode: opts.exitCode ?? '0',
      rowCount: opts.rowCount ?? 0,
      startTime,
      endTime: dasTime(this.t, this.micro),
      errorMessage: opts.errorMessage ?? '',
      class: 'MAIN',
    };
    return [...aux, main];
  }

  connection(s: MySession, command: 'CONNECT' | 'DISCONNECT' | 'FAILED_CONNECT', errorMessage = '', exitCode = '0'): RawEvent {
    const start = this.t;
    this.t += 1;
    return {
      ...this.base(s),
      logTime: dasTime(this.t, 5),
      command,
      commandText: '',
      objectType: 'TABLE',
      objectName: '',
      statementId: 0,
      substatementId: 1,
      exitCode,
      rowCount: 0,
      startTime: dasTime(start, 1),
      endTime: dasTime(this.t, 4),
      errorMessage,
      class: 'MAIN',
    };
  }

  heartbeat(): RawEvent {
    this.t += 1;
    return { type: 'heartbeat', logTime: dasTime(this.t, 0), serverType: 'MySQL' };
  }
}

/** Splits events into records of `per` events (DAS batches many events per Kinesis record). */
export function chunk<T>(xs: T[], per: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += per) out.push(xs.slice(i, i + per));
  return out;
}

const T0_PG = Date.UTC(2026, 9, 14, 9, 0, 0);
const T0_MY = Date.UTC(2026, 9, 14, 9, 30, 0);

/** The PostgreSQL sample stream: records of events, in order. */
export function postgresSample(): SampleRecord[] {
  const rnd = prng(20261014);
  const tr = new PgTraffic(T0_PG, rnd);
  const admin = tr.session('rdsadmin', 'postgres', '172.31.3.195', 'psql', 1);
  const app = tr.session('appuser', 'payments', '10.0.1.25', 'payments-api', 2);
  const bench = tr.session('pgbench', 'mylab', '10.0.1.40', 'pgbench', 3);
  const master = tr.session('masteruser', 'payments', '10.0.8.14', 'psql', 4);
  const proxy = tr.session('rdsproxyadmin', 'postgres', '10.0.2.7', null, 5);
  const intruder = tr.session('postgres', 'postgres', '198.51.100.23', 'psql', 6);
  const analyst = tr.session('analyst', 'payments', '10.0.4.81', 'DBeaver 23.1', 7);

  const records: RawEvent[][] = [];
  const bg = (n: number) => {
    const out: RawEvent[] = [];
    for (let i = 0; i < n; i++) out.push(...tr.pgbench(bench));
    return out;
  };

  // 1. Aurora's own admin session, as in the documentation: never alerts.
  records.push([
    tr.heartbeat(),
    tr.event(admin, { class: 'MISC', command: 'CONNECT' }),
    tr.event(admin, { class: 'DDL', command: 'CREATE TABLE', commandText: 'create table my_table (id serial primary key, name varchar(32));' }),
    tr.event(admin, { class: 'READ', command: 'SELECT', objectType: 'TABLE', objectName: 'public.my_table', rowCount: 10, commandText: 'select * from my_table;' }),
    tr.event(proxy, { class: 'MISC', command: 'CONNECT' }),
  ]);
  records.push([tr.heartbeat()]);
  records.push([tr.event(app, { class: 'MISC', command: 'CONNECT' }), ...bg(4)]);
  // 2. Normal application reads with bind values.
  records.push([
    tr.event(app, { class: 'READ', command: 'SELECT', objectType: 'TABLE', objectName: 'public.orders', rowCount: 25, commandText: 'SELECT * FROM orders WHERE customer_id = $1 ORDER BY created_at DESC LIMIT 25;', paramList: ['81723'] }),
    ...bg(3),
  ]);
  // 3. A privileged user runs DDL.
  records.push([
    tr.event(master, { class: 'MISC', command: 'CONNECT' }),
    tr.event(master, { class: 'DDL', command: 'CREATE TABLE', objectType: 'TABLE', objectName: 'public.payments_archive', commandText: 'CREATE TABLE payments_archive (id bigint PRIMARY KEY, pan text, amount numeric(12,2));' }),
    ...bg(2),
  ]);
  // 4. A heavy read: an analyst pulls the whole customers table.
  records.push([
    tr.event(analyst, { class: 'MISC', command: 'CONNECT' }),
    tr.event(analyst, { class: 'READ', command: 'SELECT', objectType: 'TABLE', objectName: 'public.customers', rowCount: 250000, commandText: 'SELECT * FROM customers;' }),
  ]);
  records.push([tr.heartbeat(), ...bg(5)]);
  // 5. A statement that fails, with a card number in it (the literal must not reach an alert).
  records.push([
    tr.event(app, { class: 'READ', command: 'SELECT', objectType: 'TABLE', objectName: 'public.cards', commandText: "SELECT * FROM cards WHERE pan = '4111111111111111';", exitCode: '42P01', errorMessage: 'relation "cards" does not exist' }),
    ...bg(2),
  ]);
  // 6. Failed logins from an unexpected address.
  records.push([
    tr.event(intruder, { class: 'MISC', command: 'AUTH FAILURE', exitCode: '28P01', errorMessage: 'password authentication failed for user "postgres"' }),
    tr.event(intruder, { class: 'MISC', command: 'AUTH FAILURE', exitCode: '28P01', errorMessage: 'password authentication failed for user "postgres"' }),
  ]);
  // 7. Privilege changes, one with a password Aurora did not redact.
  records.push([
    tr.event(master, { class: 'ROLE', command: 'GRANT', commandText: 'GRANT SELECT ON ALL TABLES IN SCHEMA public TO analyst;' }),
    tr.event(master, { class: 'ROLE', command: 'CREATE ROLE', commandText: "CREATE USER etl_loader WITH LOGIN PASSWORD 'Summer2026!';" }),
    ...bg(2),
  ]);
  // 8. Unbounded writes, and a bounded one that must NOT alert.
  records.push([
    tr.event(app, { class: 'WRITE', command: 'DELETE', objectType: 'TABLE', objectName: 'public.sessions', rowCount: 5000, commandText: 'DELETE FROM sessions;' }),
    tr.event(app, { class: 'WRITE', command: 'UPDATE', objectType: 'TABLE', objectName: 'public.accounts', rowCount: 1, commandText: 'UPDATE accounts SET balance = 0 WHERE id = $1;', paramList: ['42'] }),
    ...bg(3),
  ]);
  // 9. Destructive DDL: TRUNCATE by the master user, DROP by the application user.
  records.push([
    tr.event(master, { class: 'DDL', command: 'TRUNCATE TABLE', objectType: 'TABLE', objectName: 'public.audit_log', commandText: 'TRUNCATE audit_log;' }),
    tr.event(app, { class: 'DDL', command: 'DROP TABLE', objectType: 'TABLE', objectName: 'public.tmp_import', commandText: 'DROP TABLE tmp_import;' }),
  ]);
  // 10. A field AWS may add one day: kept verbatim, no harm done.
  records.push([{ ...tr.event(app, { class: 'READ', command: 'SELECT', objectType: 'TABLE', objectName: 'public.orders', rowCount: 3, commandText: 'SELECT id FROM orders WHERE id = $1;', paramList: ['7'] }), queryId: '-4526581229458611234' }, ...bg(2)]);
  records.push([tr.event(master, { class: 'MISC', command: 'DISCONNECT' }), tr.event(app, { class: 'MISC', command: 'DISCONNECT' }), tr.heartbeat()]);
  for (let i = 0; i < 6; i++) records.push([...bg(4), ...(i % 2 === 0 ? [tr.heartbeat()] : [])]);
  // 11. The address of 6 comes back guessing: 12 more failed logins as postgres within a second (brute-force, at
  //     the 10th failure of the minute), then the password is found and the login succeeds
  //     (failed-logins-then-success).
  const guess = () => tr.event(intruder, { class: 'MISC', command: 'AUTH FAILURE', exitCode: '28P01', errorMessage: 'password authentication failed for user "postgres"' });
  records.push(Array.from({ length: 6 }, guess));
  records.push([...Array.from({ length: 6 }, guess), tr.event(intruder, { class: 'MISC', command: 'CONNECT' }), ...bg(2)]);
  // 12. Password spraying: one address tries one password on five accounts (password-spraying).
  records.push([
    ...['alice', 'bob', 'carol', 'dave', 'erin'].map((user, i) =>
      tr.event(tr.session(user, 'payments', '203.0.113.77', 'psql', 20 + i), { class: 'MISC', command: 'AUTH FAILURE', exitCode: '28P01', errorMessage: `password authentication failed for user "${user}"` }),
    ),
    ...bg(2),
  ]);
  // 13. Eight days later (past the 7 days new-host-privileged-login learns from), the master user logs in from a
  //     host it never used: one alert (the application's login, not privileged, is not looked at).
  tr.advance(8 * 24 * 3600 * 1000);
  const masterElsewhere = tr.session('masteruser', 'payments', '10.0.9.61', 'psql', 8);
  records.push([tr.heartbeat(), tr.event(app, { class: 'MISC', command: 'CONNECT' }), ...bg(2)]);
  records.push([
    tr.event(masterElsewhere, { class: 'MISC', command: 'CONNECT' }),
    tr.event(masterElsewhere, { class: 'READ', command: 'SELECT', objectType: 'TABLE', objectName: 'public.orders', rowCount: 12, commandText: 'SELECT count(*) FROM orders;' }),
    ...bg(2),
  ]);
  records.push([...bg(3), tr.heartbeat()]);

  return records.map((events) => ({ clusterId: PG.clusterId, instanceId: PG.instanceId, databaseActivityEventList: events }));
}

/** The Aurora MySQL sample stream. */
export function mysqlSample(): SampleRecord[] {
  const rnd = prng(20261015);
  const tr = new MyTraffic(T0_MY, rnd);
  const admin = tr.session('rdsadmin', '', 'localhost', 1);
  const master = tr.session('master', 'test', '10.0.8.14', 2);
  const app = tr.session('shop_app', 'shop', '10.0.1.30', 3);
  const attacker = tr.session('root', '', '203.0.113.50', 4);
  const bi = tr.session('bi_reader', 'shop', '10.0.4.90', 5);
  const bg = (n: number) => {
    const out: RawEvent[] = [];
    for (let i = 0; i < n; i++) {
      const id = 1 + Math.floor(rnd() * 90000);
      out.push(...tr.statement(app, `SELECT id, status FROM orders WHERE id = ${id}`, { objects: [{ name: 'orders', command: 'READ' }], rowCount: 1 }));
      out.push(...tr.statement(app, `UPDATE orders SET status = 'shipped' WHERE id = ${id}`, { objects: [{ name: 'orders', command: 'UPDATE' }], rowCount: 1 }));
    }
    return out;
  };
  const records: RawEvent[][] = [];
  // The documented examples: rdsadmin's connection, CREATE TABLE test1 and SELECT by master (MAIN + AUX).
  records.push([tr.connection(admin, 'CONNECT'), tr.heartbeat()]);
  records.push([tr.connection(master, 'CONNECT'), ...tr.statement(master, 'CREATE TABLE test1 (id INT)', { objects: [{ name: 'test1', command: 'CREATE' }] })]);
  records.push([...tr.statement(master, 'SELECT * FROM test1 WHERE id < 28', { objects: [{ name: 'test1', command: 'READ' }], rowCount: 2 }), ...bg(3)]);
  records.push([tr.heartbeat(), tr.connection(app, 'CONNECT'), ...bg(4)]);
  // Failed logins as root from outside.
  records.push([
    tr.connection(attacker, 'FAILED_CONNECT', "Access denied for user 'root'@'203.0.113.50' (using password: YES)", '1045'),
    tr.connection(attacker, 'FAILED_CONNECT', "Access denied for user 'root'@'203.0.113.50' (using password: YES)", '1045'),
  ]);
  // Privilege changes, with a password in clear.
  records.push([
    ...tr.statement(master, "GRANT ALL PRIVILEGES ON *.* TO 'etl'@'%'", { objects: [{ name: 'etl', command: 'GRANT', type: 'USER' }] }),
    ...tr.statement(master, "SET PASSWORD FOR 'shop_app'@'%' = 'Winter2026!'", {}),
    ...bg(2),
  ]);
  // A heavy read, an error, unbounded DELETE, a bounded UPDATE (no alert), a DROP.
  records.push([...tr.statement(bi, 'SELECT * FROM customers', { objects: [{ name: 'customers', command: 'READ' }], rowCount: 120000 }), ...bg(2)]);
  records.push([...tr.statement(app, 'SELECT * FROM nope', { errorMessage: "Table 'shop.nope' doesn't exist", exitCode: '1146' }), ...bg(2)]);
  records.push([
    ...tr.statement(app, 'DELETE FROM cart_items', { objects: [{ name: 'cart_items', command: 'DELETE' }], rowCount: 812 }),
    ...tr.statement(app, "UPDATE customers SET email = 'x@example.com' WHERE id = 12", { objects: [{ name: 'customers', command: 'UPDATE' }], rowCount: 1 }),
  ]);
  records.push([...tr.statement(master, 'DROP TABLE staging_2019', { objects: [{ name: 'staging_2019', command: 'DROP' }] }), tr.connection(master, 'DISCONNECT')]);
  for (let i = 0; i < 5; i++) records.push([...bg(3), tr.heartbeat()]);
  // Reads of the sensitive table cards (sensitive-table-read, through the statement's AUX events): one table, then a
  // join with another table; each is one alert showing the SQL.
  records.push([
    ...tr.statement(app, 'SELECT number, holder FROM cards WHERE customer_id = 12', { objects: [{ name: 'cards', command: 'READ' }], rowCount: 1 }),
    ...bg(1),
    ...tr.statement(bi, 'SELECT u.email, c.holder FROM customers u JOIN cards c ON c.customer_id = u.id', {
      objects: [{ name: 'customers', command: 'READ' }, { name: 'cards', command: 'READ' }],
      rowCount: 40,
    }),
  ]);
  return records.map((events) => ({ clusterId: MYSQL.clusterId, instanceId: MYSQL.instanceId, databaseActivityEventList: events }));
}

/**
 * Synthetic load for benchmarks: `records` records of `perRecord` events each, the PostgreSQL mix above
 * (mostly pgbench traffic with occasional alert-worthy events).
 */
export function benchRecords(records: number, perRecord: number, seed = 7): SampleRecord[] {
  const rnd = prng(seed);
  // 09:00 UTC on a Thursday: business hours, so the DDL of the master user in it is not privileged-off-hours too.
  const tr = new PgTraffic(Date.UTC(2026, 9, 1, 9), rnd);
  const bench = tr.session('pgbench', 'mylab', '10.0.1.40', 'pgbench', 3);
  const master = tr.session('masteruser', 'payments', '10.0.8.14', 'psql', 4);
  const out: SampleRecord[] = [];
  for (let r = 0; r < records; r++) {
    const events: RawEvent[] = [];
    while (events.length < perRecord) {
      const x = rnd();
      if (x < 0.01) events.push(tr.event(master, { class: 'DDL', command: 'ALTER TABLE', commandText: 'ALTER TABLE orders ADD COLUMN note text;' }));
      else if (x < 0.02) events.push(tr.event(bench, { class: 'READ', command: 'SELECT', rowCount: 50000, commandText: 'SELECT * FROM pgbench_accounts;' }));
      else events.push(...tr.pgbench(bench));
    }
    events.length = perRecord;
    out.push({ clusterId: PG.clusterId, instanceId: PG.instanceId, databaseActivityEventList: events });
  }
  return out;
}
