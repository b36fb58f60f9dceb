/**
 * The `tests:` blocks of rule files: each rule lists partial events that must fire it and events that must
 * not. A partial event is completed into a realistic one (completeTestEvent) so that a test states only what
 * matters to the rule. A correlation rule is tested by timed sequences instead (sequenceTests.ts parses them; run
 * here through a fresh CorrelationEngine each).
 */
import { localTimeOf } from './localTime.js';
import { engineOf, normalizeEvent } from '../codec/normalize.js';
import { joinMysqlStatements } from '../codec/mysqlStatements.js';
import type { ActivityEvent, DbEngine } from '../types.js';
import type { RuleTarget } from './fields.js';
import { CompiledRuleSet } from './RuleSet.js';
import type { CompiledRule, RuleSet, SequenceTest } from './types.js';
import { CorrelationEngine } from './CorrelationEngine.js';

export interface RuleTestFailure {
  ruleId: string;
  file: string;
  line: number;
  message: string;
}

export interface RuleTestResult {
  passed: number;
  failed: RuleTestFailure[];
}

/**
 * Runs the `tests:` of every rule (or of `options.ruleIds`). An enabled rule is checked through
 * `ruleSet.evaluate` (so the rule index is exercised too); a disabled rule, and one that only feeds correlations
 * (`generate: false`: still a detector, whose condition its tests hold to), directly.
 */
export function runRuleTests(ruleSet: RuleSet, options: { ruleIds?: readonly string[] } = {}): RuleTestResult {
  if (!(ruleSet instanceof CompiledRuleSet)) {
    throw new TypeError('runRuleTests needs a RuleSet made by loadRules()');
  }
  const wanted = options.ruleIds === undefined ? undefined : new Set(options.ruleIds);
  const result: RuleTestResult = { passed: 0, failed: [] };
  for (const r of ruleSet.compiledRules()) {
    if (r.tests === undefined || (wanted !== undefined && !wanted.has(r.info.id))) continue;
    const id = r.info.id;
    if (r.tests.sequences !== undefined) {
      for (const seq of r.tests.sequences) {
        const failure = runSequence(ruleSet, r, seq);
        if (failure === undefined) result.passed++;
        else result.failed.push({ ruleId: id, file: seq.pos.file, line: seq.pos.line, message: `tests.sequences '${seq.name}': ${failure}` });
      }
    }
    for (const [kind, cases] of [['fires', r.tests.fires], ['doesNotFire', r.tests.doesNotFire]] as const) {
      cases.forEach((tc, i) => {
        const event = completeTestEvent(tc.event, r.info.target);
        const direct = ruleSet.evaluateRule(id, event);
        const indexed = r.info.enabled && r.feedsOnly === undefined;
        const fired = indexed
          ? ruleSet.evaluate(event, r.info.target).some((m) => m.rule.id === id)
          : direct !== null && direct !== undefined;
        const expected = kind === 'fires';
        const where = `tests.${kind}[${i}]`;
        if (indexed && fired !== (direct !== null && direct !== undefined)) {
          result.failed.push({ ruleId: id, file: tc.pos.file, line: tc.pos.line, message: `${where}: the rule index disagrees with the rule (a dasguard bug)` });
        } else if (fired !== expected) {
          const msg = expected ? 'expected the rule to fire; it did not' : 'expected the rule not to fire; it fired';
          result.failed.push({ ruleId: id, file: tc.pos.file, line: tc.pos.line, message: `${where}: ${msg} on ${summarize(tc.event)}` });
        } else {
          result.passed++;
        }
      });
    }
  }
  return result;
}

/**
 * When a sequence's events start: Wednesday 2024-05-01 at 12:00:00.250 on the clock of the rule's time zone (its
 * own, else the files', else UTC), so that `at: +630m` is 22:30 company time whatever zone the site file sets and a
 * pack's off-hours tests hold in every zone.
 */
export function sequenceStartMs(timeZone: string): number {
  const wall = Date.UTC(2024, 4, 1, 12, 0, 0, 250);
  // The zone's offset at that instant (twice: the first guess may sit on the other side of a change of offset).
  let ms = wall;
  for (let i = 0; i < 2; i++) {
    const t = localTimeOf(ms, timeZone);
    if (t === undefined) return wall;
    const [h, m] = t.timeOfDay.split(':').map(Number) as [number, number];
    const [y, mo, d] = t.date.split('-').map(Number) as [number, number, number];
    const local = Date.UTC(y, mo - 1, d, h, m, 0, 250);
    ms -= local - wall;
  }
  return ms;
}

/** A DAS logTime text for `ms` ('2024-05-01 12:00:30.250000+00'). */
function dasTime(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.(\d{3})Z$/, '.$1000+00');
}

/**
 * One timed sequence through a fresh CorrelationEngine, in order; undefined when the alerts are the ones expected.
 * Each event gets its time (logTime at its offset) and, unless it sets one, its own statementId, so that two events
 * of a sequence are never the same event.
 */
function runSequence(ruleSet: CompiledRuleSet, r: CompiledRule, seq: SequenceTest): string | undefined {
  const engine = new CorrelationEngine();
  const start = sequenceStartMs(r.timeZone);
  const fired: { after: number; group: Record<string, unknown> }[] = [];
  for (let i = 0; i < seq.events.length; i++) {
    const { atMs, event: partial } = seq.events[i] as SequenceTest['events'][number];
    const event = completeTestEvent({ statementId: i + 1, ...partial, logTime: dasTime(start + atMs) });
    const base = r.info.enabled ? ruleSet.baseMatches(event).includes(r) : r.basePredicate?.(event) === true;
    if (!base) continue;
    const f = engine.observe(r, event);
    if (f !== undefined) fired.push({ after: i + 1, group: f.group });
  }
  const show = (xs: readonly { after: number; group?: Record<string, unknown> }[]): string =>
    xs.length === 0 ? 'none' : xs.map((x) => `after event ${x.after}${x.group ? ` ${JSON.stringify(x.group)}` : ''}`).join(', ');
  const same =
    fired.length === seq.expect.length &&
    seq.expect.every((x, k) => {
      const got = fired[k] as (typeof fired)[number];
      return got.after === x.after && (x.group === undefined || Object.entries(x.group).every(([f, v]) => JSON.stringify(got.group[f] ?? null) === JSON.stringify(v)));
    });
  return same ? undefined : `expected ${seq.expect.length} alert(s) (${show(seq.expect)}); got ${fired.length} (${show(fired)})`;
}

function summarize(partial: Record<string, unknown>): string {
  const s = JSON.stringify(partial);
  return s.length > 300 ? s.slice(0, 300) + '…' : s;
}

const ADDED_FIELDS = [
  'engine', 'clusterId', 'instanceId', 'recordVersion', 'logTimeMs', 'startTimeMs', 'endTimeMs', 'rows', 'sqlCommand',
  'sqlHasWhere', 'sqlComments',
] as const;

const COMMON = {
  type: 'record',
  logTime: '2024-05-01 12:00:00.250000+00',
  startTime: '2024-05-01 12:00:00.200000+00',
  statementId: 1,
  substatementId: 1,
  databaseName: 'appdb',
  dbUserName: 'app_user',
  remoteHost: '10.0.1.25',
  remotePort: '49804',
  pid: 18251,
  netProtocol: 'TCP',
};

const RAW_DEFAULTS: Record<DbEngine, Record<string, unknown>> = {
  postgresql: {
    ...COMMON,
    class: 'READ',
    command: 'SELECT',
    commandText: 'SELECT 1',
    objectType: null,
    objectName: null,
    sessionId: '5ce5f7f0.474b',
    rowCount: 1,
    paramList: [],
    clientApplication: 'psql',
    exitCode: null,
    errorMessage: null,
    serverType: 'PostgreSQL',
    serviceName: 'Amazon Aurora PostgreSQL-Compatible edition',
    serverVersion: '2.3.1',
    serverHost: '172.31.3.192',
    dbProtocol: 'Postgres 3.0',
  },
  mysql: {
    ...COMMON,
    class: 'MAIN',
    command: 'QUERY',
    commandText: 'SELECT 1',
    objectType: 'TABLE',
    objectName: '',
    sessionId: '725121',
    rowCount: 1,
    paramList: null,
    clientApplication: null,
    exitCode: '0',
    errorMessage: '',
    endTime: '2024-05-01 12:00:00.240000+00',
    transactionId: '0',
    serverType: 'MySQL',
    serviceName: 'Amazon Aurora MySQL',
    serverVersion: 'MySQL 8.0.32',
    serverHost: 'master',
    dbProtocol: 'MySQL',
  },
  oracle: {
    ...COMMON,
    class: 'Standard',
    command: 'SELECT',
    commandText: 'SELECT 1 FROM dual',
    objectType: null,
    objectName: null,
    sessionId: 4026531,
    rowCount: null,
    paramList: [],
    exitCode: 0,
    errorMessage: null,
    serverType: 'ORACLE',
    serviceName: 'oracle-ee',
    engineNativeAuditFields: {},
  },
  sqlserver: {
    ...COMMON,
    class: 'SCHEMA_OBJECT_ACCESS_GROUP',
    command: 'SELECT',
    commandText: 'SELECT 1',
    objectType: null,
    objectName: null,
    sessionId: 62,
    statementId: '0x1A2B',
    rowCount: null,
    paramList: null,
    exitCode: 1,
    errorMessage: null,
    serverType: 'SQLSERVER',
    serviceName: 'sqlserver-ee',
    engineNativeAuditFields: {},
  },
  unknown: { ...COMMON },
};

const RECORD_VERSION: Record<DbEngine, string | null> = {
  postgresql: '1.1',
  mysql: '1.2',
  oracle: '1.3',
  sqlserver: '1.4',
  unknown: null,
};

const RDS_EVENT_DEFAULTS = {
  eventId: 'RDS-EVENT-0000',
  message: '',
  categories: [],
  sourceIdentifier: 'test-cluster',
  sourceType: 'db-cluster',
  date: '2024-05-01T12:00:00.000Z',
  sourceArn: 'arn:aws:rds:us-east-1:123456789012:cluster:test-cluster',
};

const ENGINES: readonly DbEngine[] = ['postgresql', 'mysql', 'oracle', 'sqlserver', 'unknown'];

/**
 * A partial test event completed into a whole, normalised one: the engine comes from `engine` or
 * `serverType` (PostgreSQL when neither is given), the other DAS fields from that engine's defaults, and
 * dasguard's added fields (sqlCommand, rows, logTimeMs...) are derived as the decoder derives them, unless the
 * partial event sets them itself.
 */
export function completeTestEvent(partial: Record<string, unknown>, target: RuleTarget = 'activity'): Record<string, unknown> {
  if (target === 'rds-event') return { ...RDS_EVENT_DEFAULTS, ...partial };
  const given = typeof partial.engine === 'string' && ENGINES.includes(partial.engine as DbEngine) ? (partial.engine as DbEngine) : undefined;
  const detected = engineOf(partial, null);
  const engine: DbEngine = given ?? (detected !== 'unknown' ? detected : 'postgresql');
  const raw: Record<string, unknown> = { ...RAW_DEFAULTS[engine] };
  for (const [k, v] of Object.entries(partial)) {
    if (!(ADDED_FIELDS as readonly string[]).includes(k)) raw[k] = v;
  }
  if (engine === 'mysql' && raw.class === 'AUX' && !('substatementId' in partial)) raw.substatementId = 2;
  // The decoder's own normalisation derives the added fields, so a rule test sees what a replay would.
  const n = normalizeEvent({ ...raw, type: 'record' }, 0, {
    clusterId: 'cluster-TESTCLUSTER0000000000000000',
    instanceId: 'db-TESTINSTANCE0000000000000000',
    version: RECORD_VERSION[engine],
  });
  if (n.kind !== 'event') throw new Error(`rule test event did not normalise: ${n.kind}`);
  const event: Record<string, unknown> = { ...n.event, engine };
  for (const k of ADDED_FIELDS) if (k in partial) event[k] = partial[k];
  // A MySQL event as a replay of a record holding only it evaluates it: the statement view's `objects` (a MAIN
  // without AUX events: none; an AUX event: its own objects), unless the test gives them.
  if (!('objects' in partial)) joinMysqlStatements([event as ActivityEvent]);
  return event;
}
