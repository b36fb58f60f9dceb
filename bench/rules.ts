/**
 * Rule evaluation speed: json-rules-engine run naively (Engine.run per event) vs the compiled RuleSet, with
 * the same rules (the baseline pack + a few more to reach ~20 rules, like a real deployment) on the same
 * realistic event mix; then the pack's correlations, and the memory their state holds per group. Run:
 * `node --expose-gc --import tsx bench/rules.ts` (`--correlation-memory`: the memory row only).
 */
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { loadRuleTexts, loadRules, completeTestEvent, type RuleSet } from '../src/rules/index.js';
import { CompiledRuleSet } from '../src/rules/RuleSet.js';
import { CorrelationEngine } from '../src/rules/CorrelationEngine.js';
import { prng } from '../scripts/sampleData.js';

const here = dirname(fileURLToPath(import.meta.url));

/** Extra rules of the kinds users add, so the bench runs a realistic ~20 rules. */
export const EXTRA_RULES = `
lists:
  bench_sensitive_tables: [customers, cards, payments, salaries, ssn_registry]
  bench_office_cidrs: [10.0.0.0/8, 192.168.0.0/16, fd00::/8]
  bench_service_accounts: [app_user, etl_user, reporting]
rules:
  - id: bench-sensitive-table-read
    severity: medium
    when:
      all:
        - class: READ
        - objectName: {iin: $bench_sensitive_tables}
  - id: bench-outside-office
    severity: medium
    when:
      all:
        - sqlCommand: [CONNECT]
        - remoteHost: {notInCidr: $bench_office_cidrs}
  - id: bench-service-account-ddl
    severity: high
    when:
      all:
        - class: DDL
        - dbUserName: {iin: $bench_service_accounts}
  - id: bench-copy-program
    severity: critical
    when:
      all:
        - engine: postgresql
        - commandText: {matches: {pattern: 'copy\\s.*\\bprogram\\b', flags: i}}
  - id: bench-into-outfile
    severity: high
    when:
      all:
        - macro: mysql_statement
        - commandText: {containsText: 'into outfile'}
  - id: bench-night-writes
    severity: low
    when:
      all:
        - class: WRITE
        - rows: {gt: 5000}
  - id: bench-psql-from-prod
    severity: info
    when:
      all:
        - clientApplication: {ieq: psql}
        - databaseName: {startsWith: prod}
  - id: bench-pg-catalog
    severity: low
    when:
      all:
        - class: READ
        - objectName: {startsWith: pg_authid}
  - id: bench-set-config
    severity: medium
    when:
      all:
        - sqlCommand: [SET, ALTER SYSTEM]
        - commandText: {containsText: log_statement}
  - id: bench-oracle-sys-priv
    severity: high
    when:
      all:
        - engine: oracle
        - engineNativeAuditFields.SYSTEM_PRIVILEGE_USED: {exists: true}
  - id: bench-sqlserver-failed
    severity: medium
    when:
      all:
        - engine: sqlserver
        - engineNativeAuditFields.succeeded: {in: [false, 'false']}
  - id: bench-long-statement
    severity: info
    when:
      all:
        - exitCode: {exists: true}
        - exitCode: {notIn: ['0', 0]}
        - class: {ne: AUX}
  - id: bench-load-data
    severity: high
    when:
      sqlCommand: {startsWith: LOAD DATA}
  - id: bench-dblink
    severity: medium
    when:
      commandText: {matches: {pattern: 'dblink|postgres_fdw', flags: i}}
`;

/** The same deterministic PRNG as the samples (mulberry32). */
export { prng };

function pick<T>(rnd: () => number, items: readonly T[]): T {
  return items[Math.floor(rnd() * items.length)] as T;
}

/**
 * A realistic mix: mostly reads and writes by application users (PostgreSQL and MySQL MAIN+AUX), some
 * connects, a little DDL, grants, errors, failed logins and admin noise.
 */
export function realisticEvents(n: number, seed = 1): Record<string, unknown>[] {
  const rnd = prng(seed);
  const users = ['app_user', 'app_user', 'app_user', 'etl_user', 'reporting', 'postgres', 'rdsadmin', 'admin'];
  const tables = ['orders', 'customers', 'items', 'cards', 'sessions', 'events', 'pg_authid'];
  const hosts = ['10.0.1.25', '10.0.2.7', '192.168.3.4', '203.0.113.9', 'localhost', '::1'];
  const out: Record<string, unknown>[] = [];
  while (out.length < n) {
    const r = rnd();
    const user = pick(rnd, users);
    const table = pick(rnd, tables);
    const host = pick(rnd, hosts);
    const rows = rnd() < 0.02 ? Math.floor(rnd() * 500_000) : Math.floor(rnd() * 50);
    if (rnd() < 0.55) {
      // PostgreSQL
      let p: Record<string, unknown>;
      if (r < 0.6) p = { class: 'READ', command: 'SELECT', commandText: `select * from ${table} where id = $1`, paramList: ['42'], objectName: `public.${table}`, rowCount: rows };
      else if (r < 0.85) p = { class: 'WRITE', command: pick(rnd, ['INSERT', 'UPDATE', 'DELETE']), commandText: rnd() < 0.05 ? `delete from ${table}` : `update ${table} set a = 1 where id = 7`, rowCount: 0 };
      else if (r < 0.93) p = { class: 'MISC', command: pick(rnd, ['CONNECT', 'DISCONNECT']), commandText: null };
      else if (r < 0.96) p = { class: 'DDL', command: pick(rnd, ['CREATE TABLE', 'DROP TABLE', 'ALTER TABLE']), commandText: `create table ${table}_x (id int)` };
      else if (r < 0.98) p = { class: 'ROLE', command: 'ALTER ROLE', commandText: "ALTER ROLE bob PASSWORD 'x'" };
      else p = { class: 'MISC', command: 'AUTH FAILURE', errorMessage: 'password authentication failed for user "x"' };
      if (rnd() < 0.03) p.errorMessage = 'canceling statement due to user request';
      out.push(completeTestEvent({ engine: 'postgresql', dbUserName: user, remoteHost: host, ...p }));
    } else {
      // MySQL: a MAIN event and (for table statements) an AUX event
      let text: string;
      if (r < 0.6) text = `SELECT * FROM ${table} WHERE id = 42`;
      else if (r < 0.85) text = rnd() < 0.05 ? `DELETE FROM ${table}` : `UPDATE ${table} SET a = 1 WHERE id = 7`;
      else if (r < 0.95) text = '';
      else if (r < 0.98) text = `CREATE TABLE ${table}_x (id INT)`;
      else text = "GRANT SELECT ON shop.* TO 'bob'@'%'";
      const command = text === '' ? pick(rnd, ['CONNECT', 'DISCONNECT', 'FAILED_CONNECT']) : 'QUERY';
      const base = { engine: 'mysql', dbUserName: user, remoteHost: host, rowCount: rows, errorMessage: rnd() < 0.03 ? 'Deadlock found' : '' };
      out.push(completeTestEvent({ ...base, class: 'MAIN', command, commandText: text, objectName: text === '' ? '' : table }));
      if (text !== '' && out.length < n) out.push(completeTestEvent({ ...base, class: 'AUX', command: 'READ', commandText: table, objectName: table }));
    }
  }
  return out;
}

export interface BenchRulesResult {
  naiveEventsPerSec: number;
  compiledEventsPerSec: number;
  rules: number;
  events: number;
}

/**
 * Measures both evaluators on the same rules and events in one run. `events` (default 50,000) are evaluated
 * by the compiled RuleSet; the naive Engine.run gets the first `naiveEvents` of them (default 5,000: it is slow).
 */
export async function benchRules(opts: { events?: number; naiveEvents?: number; seed?: number; rulesDir?: string } = {}): Promise<BenchRulesResult> {
  const n = Math.max(opts.events ?? 50_000, 20_000);
  const naiveN = Math.min(opts.naiveEvents ?? 5_000, n);
  const ruleSet = await benchRuleSet(opts.rulesDir ?? join(here, '..', 'rules'));
  const events = realisticEvents(n, opts.seed ?? 1);
  const engine = ruleSet.referenceEngine('activity');

  // Warm both up (JIT), then measure.
  for (let i = 0; i < 2000; i++) ruleSet.evaluate(events[i % n] as Record<string, unknown>);
  for (let i = 0; i < 200; i++) await engine.run(events[i % n] as Record<string, unknown>);

  let fired = 0;
  let t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fired += ruleSet.evaluate(events[i] as Record<string, unknown>).length;
  const compiledNs = Number(process.hrtime.bigint() - t0);

  let naiveFired = 0;
  t0 = process.hrtime.bigint();
  for (let i = 0; i < naiveN; i++) naiveFired += (await engine.run(events[i] as Record<string, unknown>)).events.length;
  const naiveNs = Number(process.hrtime.bigint() - t0);
  if (fired === 0 || naiveFired === 0) throw new Error('benchmark events fired no rule: the mix is not realistic');

  return {
    naiveEventsPerSec: Math.round(naiveN / (naiveNs / 1e9)),
    compiledEventsPerSec: Math.round(n / (compiledNs / 1e9)),
    rules: ruleSet.engineRules('activity').length,
    events: n,
  };
}

export async function benchRuleSet(rulesDir: string): Promise<CompiledRuleSet> {
  const pack = await loadRules([rulesDir]);
  if (pack.ruleSet === undefined) throw new Error(`the rules in ${rulesDir} do not load`);
  // The extra rules use the pack's macros: load them together, from the same texts.
  const { readFile } = await import('node:fs/promises');
  const texts = await Promise.all(pack.files.map(async (file) => ({ file, text: await readFile(file, 'utf8') })));
  const all = loadRuleTexts([...texts, { file: 'bench-extra.yaml', text: EXTRA_RULES }]);
  if (!(all.ruleSet instanceof CompiledRuleSet)) {
    throw new Error(`bench rules do not load: ${all.problems.map((p) => p.message).join('; ')}`);
  }
  return all.ruleSet as CompiledRuleSet & RuleSet;
}

export interface BenchCorrelationResult {
  /** The pack with its correlations: stateless rules, base matches and the correlation state step, per event. */
  eventsPerSec: number;
  correlations: number;
  events: number;
  /** Heap held by the state of one event_count rule with `groups` groups (one contributing event each). */
  groups: number;
  stateBytes: number;
}

/** The pack with its correlations end to end (as the record driver runs them), and the state's memory per group. */
export async function benchCorrelations(opts: { events?: number; groups?: number; seed?: number; rulesDir?: string } = {}): Promise<BenchCorrelationResult> {
  const n = opts.events ?? 50_000;
  const ruleSet = await benchRuleSet(opts.rulesDir ?? join(here, '..', 'rules'));
  // Distinct times and statements: each event is its own (not a duplicate) and windows slide.
  const events = realisticEvents(n, opts.seed ?? 1).map((e, i) => ({ ...e, logTimeMs: 1_700_000_000_000 + i * 10, statementId: i }));
  const engine = new CorrelationEngine();
  const step = (e: Record<string, unknown>): number => {
    let k = ruleSet.evaluate(e).length;
    for (const c of ruleSet.baseMatches(e)) if (engine.observe(c, e) !== undefined) k++;
    return k;
  };
  for (let i = 0; i < 2000; i++) step(events[i % n] as Record<string, unknown>);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) step(events[i] as Record<string, unknown>);
  const ns = Number(process.hrtime.bigint() - t0);

  const { groups, stateBytes } = await benchCorrelationMemory({ ...opts, events });
  return { eventsPerSec: Math.round(n / (ns / 1e9)), correlations: ruleSet.correlations.length, events: n, groups, stateBytes };
}

/**
 * The heap held by the state of the pack's event_count rule with `groups` groups (default 1M) of one event each: the
 * memory row. Needs `node --expose-gc` to be exact (the heap is measured after a full GC before and after).
 */
export async function benchCorrelationMemory(opts: { groups?: number; rulesDir?: string; events?: Record<string, unknown>[] } = {}): Promise<{ groups: number; stateBytes: number }> {
  const ruleSet = await benchRuleSet(opts.rulesDir ?? join(here, '..', 'rules'));
  const groups = opts.groups ?? 1_000_000;
  const rule = ruleSet.correlations.find((c) => c.correlation?.type === 'event_count');
  if (rule === undefined) throw new Error('the pack has no event_count correlation');
  const big = new CorrelationEngine({ maxGroups: groups });
  // As benchCorrelations passes them: its events, with their own times and statements (overridden below).
  const proto = (opts.events ?? realisticEvents(1, 1).map((e) => ({ ...e, logTimeMs: 1_700_000_000_000, statementId: 0 })))[0] as Record<string, unknown>;
  globalThis.gc?.();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < groups; i++) big.observe(rule, { ...proto, remoteHost: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, statementId: i, logTimeMs: 1_700_000_000_000 + i });
  globalThis.gc?.();
  const stateBytes = process.memoryUsage().heapUsed - before;
  if (big.groupCounts()[rule.info.id] !== groups) throw new Error('groups were evicted during the memory bench');
  return { groups, stateBytes };
}

/** The memory row as printed: MiB and bytes per group. */
export function memoryRow(groups: number, stateBytes: number): string {
  return `state of ${groups.toLocaleString('en-US')} groups: ${Math.round(stateBytes / 1048576)} MiB (${Math.round(stateBytes / groups)} bytes/group, one event each)`;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  // `--correlation-memory`: the memory row only (`node --expose-gc --import tsx bench/rules.ts --correlation-memory`).
  if (process.argv.includes('--correlation-memory')) {
    if (globalThis.gc === undefined) console.error('note: without node --expose-gc the figure includes garbage');
    const m = await benchCorrelationMemory();
    console.log(memoryRow(m.groups, m.stateBytes));
    process.exit(0);
  }
  const r = await benchRules();
  console.log(
    `rules: ${r.rules}, events: ${r.events}; naive json-rules-engine: ${r.naiveEventsPerSec} events/s; ` +
      `compiled: ${r.compiledEventsPerSec} events/s (x${(r.compiledEventsPerSec / r.naiveEventsPerSec).toFixed(1)})`,
  );
  const c = await benchCorrelations();
  console.log(
    `with ${c.correlations} correlations (stateless + base matches + correlation state, in order): ${c.eventsPerSec} events/s; ` +
      memoryRow(c.groups, c.stateBytes),
  );
}
