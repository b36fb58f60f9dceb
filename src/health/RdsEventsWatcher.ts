/**
 * Polls RDS events of one cluster and turns them into alerts: loss windows (built in, see lossWindows.ts) and
 * the `target: rds-event` rules.
 *
 * Nothing missed, nothing doubled, across restarts: events are kept 14 days and arrive best-effort and out of
 * order, so each poll asks for everything since a persisted cursor = the newest event date seen minus an
 * overlap (default 1 h), and drops the events it already handled (a seen-set keyed by date + source + message,
 * as DescribeEvents has no event id). The seen-set is pruned below the cursor, where no query reaches. The
 * state is written (atomically) only after the poll's alerts were handed off: a crash in between re-sends them
 * with the same ids, never loses them.
 */
import type { RDSClient } from '@aws-sdk/client-rds';
import type { Alert } from '../pipeline/alert.js';
import type { AlertHandoff } from '../pipeline/AlertHandoff.js';
import type { RuleSet } from '../rules/index.js';
import { systemClock, stableId, type Clock } from './healthAlert.js';
import {
  DEFAULT_LOSS_PATTERNS,
  applyLossEvent,
  classifyLossEvent,
  emptyLossWindowState,
  pruneClosedWindows,
  settlePendingEnds,
  type LossWindowPatterns,
  type LossWindowState,
} from './lossWindows.js';
import { eventIdentity, fromSdkEvent, type RdsEvent } from './rdsEvent.js';
import { describeClusterEvents } from './rdsEvents.js';
import { DEFAULT_STATE_DIR, readJsonState, statePath, writeJsonState } from './stateFile.js';

const RDS_EVENT_RETENTION_MS = 14 * 24 * 3600_000;

export interface RdsEventsState {
  version: 1;
  clusterId: string;
  /** ISO: the next poll asks for events from here. Null before the first poll. */
  cursor: string | null;
  /** ISO date of the newest event seen. */
  newestSeen: string | null;
  /** Event identity -> ISO date, for events at or after the cursor. */
  seen: Record<string, string>;
  lossWindows: LossWindowState;
  /** ISO: when the last poll completed. */
  lastPoll: string | null;
}

export interface RdsEventsWatcherOptions {
  client: RDSClient;
  /** The cluster identifier (DescribeEvents SourceIdentifier). */
  clusterId: string;
  stateDir?: string;
  /** `target: rds-event` rules; none: loss windows only. */
  rules?: RuleSet;
  patterns?: LossWindowPatterns;
  /** How far behind the newest event the cursor stays (late deliveries); default 1 h. */
  overlapMs?: number;
  /** First poll (no state): how far back to look; default 24 h, at most 14 days. */
  lookbackMs?: number;
  pageSize?: number;
  clock?: Clock;
}

export interface PollResult {
  /** Events not seen before, oldest first. */
  newEvents: RdsEvent[];
  alerts: Alert[];
  /** Events fetched, duplicates included. */
  fetched: number;
  state: RdsEventsState;
}

function rdsEventsStatePath(stateDir: string, clusterId: string): string {
  return statePath(stateDir, 'rds-events', clusterId);
}

export async function readRdsEventsState(stateDir: string, clusterId: string): Promise<RdsEventsState | undefined> {
  return readJsonState<RdsEventsState>(rdsEventsStatePath(stateDir, clusterId));
}

export class RdsEventsWatcher {
  readonly #o: Required<Omit<RdsEventsWatcherOptions, 'rules' | 'pageSize'>> & Pick<RdsEventsWatcherOptions, 'rules' | 'pageSize'>;
  readonly #path: string;
  readonly #source: string;

  constructor(opts: RdsEventsWatcherOptions) {
    this.#o = {
      stateDir: DEFAULT_STATE_DIR,
      patterns: DEFAULT_LOSS_PATTERNS,
      overlapMs: 3600_000,
      lookbackMs: 24 * 3600_000,
      clock: systemClock,
      ...opts,
    };
    this.#path = rdsEventsStatePath(this.#o.stateDir, opts.clusterId);
    this.#source = `rds-events ${opts.clusterId}`;
  }

  get statePath(): string {
    return this.#path;
  }

  async loadState(): Promise<RdsEventsState> {
    const s = await readJsonState<RdsEventsState>(this.#path);
    if (s === undefined) {
      return { version: 1, clusterId: this.#o.clusterId, cursor: null, newestSeen: null, seen: {}, lossWindows: emptyLossWindowState(), lastPoll: null };
    }
    return s;
  }

  /**
   * One poll: fetch events since the cursor, alert on the new ones, hand the alerts off, then persist the state.
   * Throws TransientError / ConfigError from RDS (state untouched) and whatever the handoff throws.
   */
  async poll(handoff: AlertHandoff, signal?: AbortSignal): Promise<PollResult> {
    const state = await this.loadState();
    const now = this.#o.clock.now();
    const oldest = now - RDS_EVENT_RETENTION_MS;
    const lookback = Math.min(this.#o.lookbackMs, RDS_EVENT_RETENTION_MS);
    const startMs = Math.max(state.cursor !== null ? Date.parse(state.cursor) : now - lookback, oldest);
    const raw = await describeClusterEvents(this.#o.client, {
      clusterId: this.#o.clusterId,
      startTime: new Date(startMs),
      ...(this.#o.pageSize !== undefined ? { pageSize: this.#o.pageSize } : {}),
      ...(signal ? { signal } : {}),
    });
    const events = raw.map((e) => fromSdkEvent(e, new Date(now)));
    events.sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : a.message < b.message ? -1 : a.message > b.message ? 1 : 0));

    const alerts: Alert[] = [];
    const newEvents: RdsEvent[] = [];
    // One rule set for the whole poll (a reload swaps between polls: src/rules/LiveRuleSet.ts).
    const rules = this.#o.rules?.pin?.() ?? this.#o.rules;
    for (const e of events) {
      const id = eventIdentity(e);
      if (state.seen[id] !== undefined) continue;
      state.seen[id] = e.date;
      newEvents.push(e);
      if (state.newestSeen === null || e.date > state.newestSeen) state.newestSeen = e.date;
      const loss = classifyLossEvent(e, this.#o.patterns);
      if (loss) alerts.push(...applyLossEvent(state.lossWindows, e, loss, this.#o.clusterId, this.#source));
      if (rules) {
        for (const m of rules.evaluate(e, 'rds-event')) {
          alerts.push({
            id: stableId(['rds-event', m.rule.id, id]),
            kind: 'rds-event',
            ruleId: m.rule.id,
            ...(rules.version !== undefined ? { rulesVersion: rules.version } : {}),
            severity: m.rule.severity,
            tags: [...m.rule.tags],
            description: m.rule.description,
            message: m.message,
            clusterId: this.#o.clusterId,
            instanceId: null,
            time: e.date,
            source: this.#source,
            event: e,
          });
        }
      }
    }

    // The cursor only moves forward: newest seen minus the overlap (or where this poll started, if later).
    const candidate = state.newestSeen !== null ? Date.parse(state.newestSeen) - this.#o.overlapMs : startMs;
    const cursorMs = Math.max(startMs, candidate, oldest);
    const cursor = new Date(cursorMs).toISOString();
    state.cursor = cursor;
    for (const [id, date] of Object.entries(state.seen)) if (date < cursor) delete state.seen[id];
    alerts.push(...settlePendingEnds(state.lossWindows, cursor, this.#o.clusterId, this.#source));
    pruneClosedWindows(state.lossWindows, new Date(oldest).toISOString());
    state.lastPoll = new Date(now).toISOString();

    if (alerts.length > 0) await handoff.handOff(alerts);
    await writeJsonState(this.#path, state);
    return { newEvents, alerts, fetched: raw.length, state };
  }
}
