/**
 * Failed logins as encrypted DAS records, for the correlation tests of `run` against `replay`: one PostgreSQL
 * AUTH FAILURE event per record at a fixed event time (the pack's brute-force and password-spraying count them
 * through its authentication-failure base rule; a test rule of our own alerts on each, whatever the pack's base rule
 * does on its own), `dasguard replay` of the same records with every alert kept, and
 * what `run` left in its state directory (the correlation state, the checkpoints).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeRecord } from '../../src/codec/encode.js';
import type { Alert } from '../../src/pipeline/alert.js';
import { PG, dasTime } from '../../scripts/sampleData.js';
import { jsonLines, runCli } from './cli.js';
import { KEY_FILE, RESOURCE_ID, demoKeys, tempDir } from './kinesis.js';

/** A rule alerting on every failed login: what shows each record was evaluated (and when one was read again). */
export const EACH_FAILURE = 'test-each-failure';

/** The bundled pack and a file holding the EACH_FAILURE rule: `--rules` for every test of these records. */
export function packAndEachFailure(): string[] {
  const dir = tempDir('dasguard-rules-');
  writeFileSync(join(dir, 'each-failure.yaml'), `rules:\n  - id: ${EACH_FAILURE}\n    severity: info\n    when: {command: AUTH FAILURE}\n`);
  return ['rules', dir];
}

/** The event time of failed login `at` seconds after the tests' fixed start (2026-10-14 09:00:00 UTC). */
export const T0 = Date.parse('2026-10-14T09:00:00.000Z');

export interface FailedLogin {
  host: string;
  user: string;
  /** Seconds after T0. */
  at: number;
}

let session = 0;

/** A PostgreSQL failed login (a session of its own, so every event is distinct). */
export function failedLoginEvent(f: FailedLogin): Record<string, unknown> {
  const t = dasTime(T0 + f.at * 1000);
  const n = ++session;
  return {
    type: 'record', class: 'MISC', command: 'AUTH FAILURE', logTime: t, startTime: t, statementId: 1, substatementId: 1,
    dbUserName: f.user, remoteHost: f.host, remotePort: String(40000 + (n % 20000)), sessionId: `6a1b2c3d.${n.toString(16)}`, pid: 20000 + n,
    databaseName: 'postgres', objectType: null, objectName: null, rowCount: null, commandText: null, paramList: [], clientApplication: 'psql',
    exitCode: null, errorMessage: null, serverType: 'PostgreSQL', serverVersion: '2.3.5', serviceName: 'Amazon Aurora PostgreSQL-Compatible edition',
    serverHost: '172.31.3.192', netProtocol: 'TCP', dbProtocol: 'Postgres 3.0',
  };
}

/** One encrypted DAS record per failed login, in order. */
export async function failedLoginRecords(logins: readonly FailedLogin[]): Promise<Uint8Array[]> {
  const keys = demoKeys();
  const out: Uint8Array[] = [];
  for (const f of logins) {
    const record = { clusterId: PG.clusterId, instanceId: PG.instanceId, databaseActivityEventList: [failedLoginEvent(f)] };
    out.push(await encodeRecord(record, { resourceId: PG.clusterId, version: PG.version, wrapper: keys }));
  }
  return out;
}

/** `n` failed logins from `host` as `user` (or users[i % users.length]), `every` seconds apart from `at`. */
export function burst(host: string, n: number, o: { at?: number; every?: number; users?: readonly string[] } = {}): FailedLogin[] {
  const users = o.users ?? ['postgres'];
  return Array.from({ length: n }, (_, i) => ({ host, user: users[i % users.length]!, at: (o.at ?? 0) + i * (o.every ?? 2) }));
}

/** Every alert `dasguard replay` gives for these records, in order (written to a file as Kinesis records). */
export async function replayAlerts(data: readonly Uint8Array[], rules: readonly string[]): Promise<Alert[]> {
  const file = join(tempDir('dasguard-replay-'), 'records.jsonl');
  writeFileSync(file, data.map((d, i) => JSON.stringify({ SequenceNumber: String(i + 1), PartitionKey: 'pk', Data: Buffer.from(d).toString('base64') })).join('\n') + '\n');
  const args = ['replay', file, '--key-file', KEY_FILE, '--resource-id', RESOURCE_ID, '--output', 'jsonl', '-q'];
  for (const r of rules) args.push('--rules', r);
  const res = await runCli(args);
  if (res.code !== 0) throw new Error(`replay failed (${res.code}): ${res.stderr}`);
  return jsonLines(res.stdout) as unknown as Alert[];
}

/** Alerts from JSON lines (a run's stdout), in order. */
export function alertsIn(stdout: string): Alert[] {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Alert);
}

export const CORRELATION_RULES = ['brute-force', 'password-spraying'] as const;

export function correlationAlerts(alerts: readonly Alert[]): Alert[] {
  return alerts.filter((a) => (CORRELATION_RULES as readonly string[]).includes(a.ruleId));
}

/** What is compared between replay and run: the id, the rule, and the correlation's group and counts. */
export function correlationSummary(a: Alert): Record<string, unknown> {
  const c = (a.event as { correlation: Record<string, unknown> }).correlation;
  return { id: a.id, ruleId: a.ruleId, group: c.group, value: c.value, events: c.events, firstTime: c.firstTime, lastTime: c.lastTime, time: a.time };
}

/** The correlation state file `run` keeps for `stream` in `stateDir` (undefined before its first write). */
export function correlationStateFile(stateDir: string, stream: string): string {
  return join(stateDir, `correlation-${stream}.json`);
}

/** The contributing events the correlation state file holds for `rule`'s group of `host` (whatever else it is grouped by; 0 when none or no file). */
export function stateEntries(stateDir: string, stream: string, rule: string, host: string): number {
  const file = correlationStateFile(stateDir, stream);
  if (!existsSync(file)) return 0;
  // Replaced atomically by run: never a torn file.
  const state = JSON.parse(readFileSync(file, 'utf8')) as { rules: Record<string, [string, { entries: unknown[] }][]> };
  const group = (state.rules[rule] ?? []).find(([k]) => (JSON.parse(k) as unknown[]).includes(host));
  return group ? group[1].entries.length : 0;
}

/** The checkpointed sequence number of each shard of `stream` in `checkpointDir` (empty before the first write). */
export function checkpointsOf(checkpointDir: string, stream: string): Record<string, string | undefined> {
  const file = join(checkpointDir, `${stream}.json`);
  if (!existsSync(file)) return {};
  const cp = JSON.parse(readFileSync(file, 'utf8')) as { shards: Record<string, { sequenceNumber?: string }> };
  return Object.fromEntries(Object.entries(cp.shards).map(([id, s]) => [id, s.sequenceNumber]));
}
