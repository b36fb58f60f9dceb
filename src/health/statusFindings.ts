/**
 * What `dasguard status` concludes from what it gathered (src/commands/status.ts): the findings, each with a
 * severity, and the verdict with its exit code, in the Nagios / Icinga plugin convention monitors expect:
 * 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (the check itself could not be made). Pure: facts and a clock in,
 * findings out, so the policy (what is critical, what only a warning) is in this one place.
 */
import { formatDuration } from './healthAlert.js';

export const StatusCode = { ok: 0, warning: 1, critical: 2, unknown: 3 } as const;
export type Verdict = 'OK' | 'WARNING' | 'CRITICAL' | 'UNKNOWN';
export type FindingSeverity = 'warning' | 'critical' | 'unknown';

export interface Finding {
  severity: FindingSeverity;
  /** Stable id of the check: `activity-stream`, `kinesis-stream`, `loss-window`, `checkpoint-trimmed`, ... */
  check: string;
  /** A few words for the verdict line. */
  summary: string;
  /** The finding in full, with what it means. */
  message: string;
}

/** The facts the findings are judged on (a subset of the status report). */
export interface StatusFacts {
  /** `cluster prod` or `stream aws-rds-das-…`: what the verdict line names. */
  subject: string;
  /** The activity stream's status from RDS; null when not asked (`--stream`). */
  activityStatus: string | null;
  kinesis: { streamName: string; status: string | null; retentionHours: number | null; missing?: boolean; error?: string } | null;
  checkpoints: { shardId: string; ageMs: number | null; finished: boolean }[];
  /** Where the checkpoints and the liveness state were looked for (for messages). */
  checkpointDir: string;
  stateDir: string;
  liveness: { updatedAt: string; thresholdMs: number; instances: { instanceId: string | null; lastSeen: string; lastHeartbeat: string | null; silentSince: string | null }[] } | null;
  /** null: RDS events are not checked (`--stream`: run polls them only with --cluster). */
  rdsEvents: { polled: false } | { polled: true; lastPoll: string | null } | null;
  openLossWindows: { start: string; openForMs: number; startMessage: string }[];
}

export interface StatusLimits {
  /** No consumer activity (liveness written, checkpoint moved) for longer: critical. 0: not checked. */
  maxConsumerAgeMs: number;
  /** A checkpoint older (and within the retention): warning. 0: not checked. */
  maxCheckpointAgeMs: number;
}

const DEFAULT_RETENTION_HOURS = 24;
const KINESIS_OK = new Set(['ACTIVE', 'UPDATING']);

export function statusFindings(f: StatusFacts, limits: StatusLimits, now: number): Finding[] {
  const out: Finding[] = [];
  const add = (severity: FindingSeverity, check: string, summary: string, message: string) => out.push({ severity, check, summary, message });
  const age = (iso: string) => now - Date.parse(iso);

  if (f.activityStatus !== null && f.activityStatus !== 'started') {
    add('critical', 'activity-stream', `activity stream of ${f.subject} is ${f.activityStatus}`, `the activity stream is ${f.activityStatus}: database activity is not (fully) audited`);
  }
  const k = f.kinesis;
  if (k !== null) {
    if (k.missing) add('critical', 'kinesis-stream', `Kinesis stream ${k.streamName} does not exist`, `the Kinesis stream ${k.streamName} does not exist: the activity stream is stopped, or the name is wrong`);
    else if (k.error !== undefined) add('unknown', 'kinesis-stream', 'could not check the Kinesis stream', k.error);
    else if (k.status !== null && !KINESIS_OK.has(k.status)) add('warning', 'kinesis-stream', `Kinesis stream is ${k.status}`, `the Kinesis stream ${k.streamName} is ${k.status}`);
  }

  for (const w of f.openLossWindows) {
    add('critical', 'loss-window', `loss window open for ${formatDuration(w.openForMs)}`, `loss window open since ${w.start} (${formatDuration(w.openForMs)}): activity records may be missing ("${w.startMessage}")`);
  }

  const retentionHours = k?.retentionHours ?? DEFAULT_RETENTION_HOURS;
  for (const c of f.checkpoints) {
    if (c.finished || c.ageMs === null) continue;
    if (c.ageMs > retentionHours * 3600_000) {
      add('critical', 'checkpoint-trimmed', `checkpoint of ${c.shardId} is beyond the ${retentionHours} h retention`, `the checkpoint of ${c.shardId} is ${formatDuration(c.ageMs)} old, beyond the stream's retention (${retentionHours} h): records after it were trimmed unread`);
    } else if (limits.maxCheckpointAgeMs > 0 && c.ageMs > limits.maxCheckpointAgeMs) {
      add('warning', 'checkpoint-old', `checkpoint of ${c.shardId} is ${formatDuration(c.ageMs)} old`, `the checkpoint of ${c.shardId} is ${formatDuration(c.ageMs)} old (over --max-checkpoint-age ${formatDuration(limits.maxCheckpointAgeMs)}): its consumer is stuck or the shard is idle`);
    }
  }

  if (limits.maxConsumerAgeMs > 0) {
    // the consumer's own signs of life: `run` writes its liveness state every few seconds, and moves checkpoints
    const times = [...f.checkpoints.map((c) => (c.ageMs === null ? null : now - c.ageMs)), f.liveness ? Date.parse(f.liveness.updatedAt) : null].filter(
      (t): t is number => t !== null && !Number.isNaN(t),
    );
    const last = times.length > 0 ? Math.max(...times) : null;
    if (last === null) {
      add('critical', 'consumer', 'no consumer has run here', `no consumer activity: no checkpoints in ${f.checkpointDir} and no liveness state in ${f.stateDir} (is 'dasguard run' running, with these directories?)`);
    } else if (now - last > limits.maxConsumerAgeMs) {
      add('critical', 'consumer', `no consumer for ${formatDuration(now - last)}`, `no consumer activity for ${formatDuration(now - last)} (over --max-consumer-age ${formatDuration(limits.maxConsumerAgeMs)}): 'dasguard run' stopped or is stuck`);
    }
  }

  for (const i of f.liveness?.instances ?? []) {
    const who = i.instanceId ?? 'the cluster';
    if (i.silentSince !== null) {
      add('warning', 'instance-silent', `${who} silent for ${formatDuration(age(i.silentSince))}`, `${who} silent since ${i.silentSince} (no record, no heartbeat)`);
      continue;
    }
    const lastBeat = i.lastHeartbeat ?? i.lastSeen;
    if (age(lastBeat) > f.liveness!.thresholdMs) {
      add('warning', 'heartbeat-late', `no heartbeat from ${who} for ${formatDuration(age(lastBeat))}`, `no heartbeat from ${who} since ${lastBeat} (${formatDuration(age(lastBeat))}, threshold ${formatDuration(f.liveness!.thresholdMs)})`);
    }
  }

  if (f.rdsEvents !== null) {
    if (!f.rdsEvents.polled) {
      add('warning', 'rds-events', 'RDS events never polled', `RDS events were never polled into ${f.stateDir} (run 'dasguard watch' or 'dasguard run'): loss windows are unknown`);
    } else if (limits.maxConsumerAgeMs > 0 && f.rdsEvents.lastPoll !== null && age(f.rdsEvents.lastPoll) > limits.maxConsumerAgeMs) {
      add('warning', 'rds-events', `RDS events last polled ${formatDuration(age(f.rdsEvents.lastPoll))} ago`, `RDS events were last polled ${formatDuration(age(f.rdsEvents.lastPoll))} ago: newer loss windows are unknown`);
    }
  }
  return out;
}

const RANK: Record<FindingSeverity, number> = { warning: 1, unknown: 2, critical: 3 };

/** The worst finding decides (CRITICAL over UNKNOWN over WARNING); no finding is OK. */
export function verdictOf(findings: readonly Finding[]): { verdict: Verdict; exitCode: number } {
  let worst: FindingSeverity | undefined;
  for (const f of findings) if (worst === undefined || RANK[f.severity] > RANK[worst]) worst = f.severity;
  if (worst === undefined) return { verdict: 'OK', exitCode: StatusCode.ok };
  return { verdict: worst.toUpperCase() as Verdict, exitCode: StatusCode[worst] };
}

/** `CRITICAL: activity stream of cluster prod is stopped; no consumer for 14m (+1 warning)`; `ok`: the OK line's text. */
export function verdictLine(findings: readonly Finding[], ok: string): string {
  const { verdict } = verdictOf(findings);
  if (verdict === 'OK') return `OK: ${ok}`;
  const top = findings.filter((f) => f.severity.toUpperCase() === verdict);
  const rest = findings.length - top.length;
  return `${verdict}: ${top.map((f) => f.summary).join('; ')}${rest > 0 ? ` (+${rest} more)` : ''}`;
}
