/** Alert reporters (text for people, JSON Lines for machines), the run summary and the progress line (from PipelineStats). */
import { count } from '../util/plural.js';
import type { Writable } from 'node:stream';
import type { KeyProviderStats } from '../keys/KeyProvider.js';
import type { Severity } from '../types.js';
import { eventOf, type Alert } from './alert.js';
import type { PipelineStats } from './PipelineStats.js';
import { describeQuarantine } from './processRecord.js';
import { jsonLine, terminalSafe } from '../util/escape.js';

export type OutputFormat = 'text' | 'jsonl';

/** Writes to a stream, honouring backpressure, so a slow pipe never makes output pile up in memory. */
export async function writeLine(out: Writable, line: string): Promise<void> {
  if (!out.write(line + '\n')) {
    await new Promise<void>((resolve, reject) => {
      const onDrain = () => {
        out.off('error', onError);
        resolve();
      };
      const onError = (err: Error) => {
        out.off('drain', onDrain);
        reject(err);
      };
      out.once('drain', onDrain);
      out.once('error', onError);
    });
  }
}

const COLORS: Record<Severity, string> = {
  info: '\x1b[2m',
  low: '\x1b[36m',
  medium: '\x1b[33m',
  high: '\x1b[31m',
  critical: '\x1b[1;41;97m',
};

/** Column widths of the text line: most rule ids, cluster names and user@host fit; a longer value pushes the rest on. */
const RULE_WIDTH = 30;
const CLUSTER_WIDTH = 20;
const WHO_WIDTH = 24;

/** What the text line calls the alert's cluster: its name when known, else its id (a resource id), else `-`. */
export function clusterLabel(a: Alert): string {
  return a.cluster?.name ?? a.clusterId ?? a.cluster?.resourceId ?? '-';
}

/** `user@host` of an activity alert (of a correlation's last event; `user`, `@host` when one is missing); `-` for alerts without them. */
export function whoLabel(a: Alert): string {
  const text = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
  const e = eventOf(a);
  const user = text(e.dbUserName);
  const host = text(e.remoteHost);
  if (user === undefined && host === undefined) return '-';
  return `${user ?? ''}${host !== undefined ? `@${host}` : ''}`;
}

/** A column: the value made terminal-safe, then padded (padded after escaping, so the escapes count). */
function col(v: string, width: number): string {
  return terminalSafe(v).padEnd(width);
}

/**
 * One alert as one aligned line of text: time, severity, rule, cluster, user@host, the message and the alert id
 * (and the id it resolves). Every field is escaped (terminalSafe), so none can forge lines or sequences. With
 * `verbose`, the record's position (file:line, shard and sequence number) follows, and the runbook on a second line.
 */
export function formatAlertText(a: Alert, color: boolean, verbose = false): string {
  const sev = a.severity.toUpperCase().padEnd(8);
  const head = color ? `${COLORS[a.severity]}${sev}\x1b[0m` : sev;
  const ids = a.resolves !== undefined ? `[${a.id}, resolves ${a.resolves}]` : `[${a.id}]`;
  const tail = terminalSafe(`${a.message}  ${ids}${verbose ? ` (${a.source})` : ''}`);
  const line = `${col(a.time ?? '-', 24)} ${head} ${col(a.ruleId, RULE_WIDTH)} ${col(clusterLabel(a), CLUSTER_WIDTH)} ${col(whoLabel(a), WHO_WIDTH)} ${tail}`;
  // The runbook on a second line, under the message: what to check first.
  return !verbose || a.runbook === undefined ? line : `${line}\n${' '.repeat(24 + 1 + 8 + 1)}${terminalSafe(`runbook: ${a.runbook}`)}`;
}

export function formatAlert(a: Alert, format: OutputFormat, color: boolean, verbose = false): string {
  return format === 'jsonl' ? jsonLine(a) : formatAlertText(a, color, verbose);
}

/**
 * For people: it picks what it prints, from the stats' snapshot and their breakdowns (by rule, the sample).
 * `alerts: false` for a command that evaluates no rules (`decode`): its summary does not speak of alerts. `workers`:
 * the line about the worker threads (src/commands/common.ts openPool), when there is one.
 */
export function formatSummary(command: string, s: PipelineStats, keys?: KeyProviderStats, opts: { alerts?: boolean; workers?: string | undefined } = {}): string {
  const alerts = opts.alerts ?? true;
  const c = s.snapshot();
  const secs = (Date.now() - s.startedAt) / 1000;
  const lines: string[] = [];
  const rate = secs > 0 ? ` (${Math.round(c.events / secs).toLocaleString('en-US')} events/s)` : '';
  lines.push(
    `dasguard ${command}: ${count(c.records, 'record')} (${c.encryptedRecords} encrypted), ${count(c.events, 'activity event')}, ` +
      `${count(c.heartbeats, 'heartbeat')}, ${alerts ? `${count(c.alerts, 'alert')}, ` : ''}${c.quarantined} quarantined in ${secs.toFixed(2)} s${rate}`,
  );
  if (alerts && s.alertsByRule.size > 0) {
    lines.push('  alerts by rule:');
    const rows = [...s.alertsByRule].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
    for (const [rule, n] of rows) lines.push(`    ${String(n).padStart(6)}  ${rule}`);
  }
  if (keys && keys.backendCalls + keys.cacheHits > 0) {
    const cache = keys.cacheHits + keys.cacheMisses > 0 ? `, ${keys.cacheHits} cache hits, ${keys.cacheMisses} misses` : '';
    lines.push(`  data keys: ${keys.backendCalls} decrypt calls${cache}`);
  }
  if (opts.workers !== undefined) lines.push(opts.workers);
  if (c.correlationLate > 0 || c.correlationEvictions > 0) {
    lines.push(`  correlation rules: ${c.correlationLate} events too late for their window (dropped), ${c.correlationEvictions} groups evicted (limit per rule reached)`);
  }
  if (c.mysqlUnjoined > 0) {
    lines.push(`  MySQL statements: ${c.mysqlUnjoined} MAIN or AUX parts evaluated without their other part (not in the same or the next record)`);
  }
  for (const w of s.warnings) lines.push(`  warning: ${w}`);
  if (c.quarantined > 0) {
    lines.push(`  quarantined: ${c.quarantinedRecords} records, ${c.quarantinedEvents} events`);
    for (const q of s.quarantineSample) lines.push(`    ${describeQuarantine(q)}`);
    if (c.quarantined > s.quarantineSample.length) lines.push(`    … and ${c.quarantined - s.quarantineSample.length} more`);
  }
  return lines.map(terminalSafe).join('\n');
}

/** A one-line status on a terminal, refreshed at most every 250 ms; nothing when stderr is not a terminal. */
export class Progress {
  private last = 0;
  private shown = false;
  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly enabled = Boolean(out.isTTY),
  ) {}

  update(s: PipelineStats): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (now - this.last < 250) return;
    this.last = now;
    const c = s.snapshot();
    const secs = Math.max(0.001, (now - s.startedAt) / 1000);
    this.out.write(
      `\r\x1b[2K${c.records.toLocaleString('en-US')} records, ${c.events.toLocaleString('en-US')} events ` +
        `(${Math.round(c.events / secs).toLocaleString('en-US')}/s), ${count(c.alerts, 'alert')}, ${c.quarantined} quarantined`,
    );
    this.shown = true;
  }

  clear(): void {
    if (this.shown) this.out.write('\r\x1b[2K');
    this.shown = false;
  }
}
