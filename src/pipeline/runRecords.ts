/**
 * The one record driver, shared by `replay`/`decode`, the live consumer's ShardReader and the Lambda handler (as
 * Powertools' processPartialResponse leaves its user only the record handler, this leaves each of them only its
 * transport policy). For each item of a source, in order:
 *
 *   item --toItem--> SourceRecord (or a bad input) --process (processRecord)--> RecordOutcome
 *     -> quarantined entries: counted, put to the QuarantineSink
 *     -> the decoded batch: counted, observer.onBatch
 *     -> MySQL statement halves: joined with the previous record's, or left waiting for the next (StatementJoiner)
 *     -> correlation rules: the record's base events applied to the correlation state (deps.correlator, in order), staged
 *        (a driver sharing the state with others, one per shard in `run`, waits its turn while another's record is staged)
 *     -> alerts (the record's and its correlations'): handed to the AlertHandoff (a TransientError retried per `handoffRetry`), then counted
 *     -> the correlation state's staged changes committed (rolled back when the hand-off failed)
 *     -> `commit(item, outcome)`
 *
 * Items are processed with bounded concurrency and their results taken IN ORDER (src/pipeline/drive.ts: retries of a
 * TransientError per `drive`, and the key verdict of KEY_VERDICT_LOOKAHEAD); the first failure that is not a
 * quarantine stops the driver and rejects with it: nothing after that item is handed off or committed.
 * Every outcome is counted in one PipelineStats.
 *
 * THE COMMIT HOOK. `commit` is called once per item, in source order, after the item's alerts were durably handed
 * off and before the next item's outcome is looked at; the driver waits for it. It is where the driver's user records
 * progress: the ShardReader moves the shard's checkpoint (the consumer's flush persists every CheckpointedState, the
 * delivery handoff's suppression windows, before it writes checkpoints), the Lambda handler marks the record
 * processed (and keeps its delivery ticket), decode writes the record's events. So "nothing is committed past a
 * record whose effects are not durable" holds in one place: state that a record changes (stateful rules) is made
 * durable together with the checkpoint by joining the consumer's `state` (a CheckpointedState) and being changed no
 * later than this hook; the hook is the one place a per-record commit step is added. The correlation state follows
 * that rule: `apply` only stages the record's changes, committed right before the hook (no await in between, so no
 * persist sees the record's checkpoint without its state) and rolled back when the hand-off fails, so a state
 * persisted at a stop or read by a Lambda retry never holds the effects of a record that was not committed.
 *
 * HELD HALVES. A record whose MySQL statement halves wait for the next record (src/pipeline/StatementJoiner.ts) is
 * not committed at its step: the waiting halves' alerts come with the next step, so its commit follows the next
 * step's hand-off (then the next record's own commit, unless its halves wait in turn). Every hand-off is followed by
 * at least one commit (the Lambda keeps a hand-off's delivery ticket with the record it commits next): a record that
 * waits with no commit pending hands off nothing at its step, its own alerts and base events go with the next step's,
 * in one correlation turn (whose alerts carry the next record's position). So at most one record waits, with its own
 * results only while no commit is pending; nothing is held past the end of `items` (the last record's waiting halves
 * are evaluated unjoined, handed off, then it is committed). A failure stops the driver with the waiting record
 * uncommitted: it is read again (a restart, a Lambda retry from it) and joined as the first time.
 */
import { TransientError } from '../errors.js';
import type { SourceItem } from '../sources/types.js';
import { summarizeBatch, type SourceRecord } from '../types.js';
import type { Alert } from './alert.js';
import type { AlertHandoff } from './AlertHandoff.js';
import { drive, withRetry, type DriveOptions, type RetryOptions } from './drive.js';
import type { PipelineStats } from './PipelineStats.js';
import { processRecord, type BaseEvents, type CorrelationStep, type ProcessorDeps, type RecordOutcome } from './processRecord.js';
import type { QuarantineSink } from './QuarantineSink.js';
import { StatementJoiner } from './StatementJoiner.js';
import type { StreamObserver } from './StreamObserver.js';

/** How a failed hand-off is retried (only a TransientError is): the retry policy, and the retry's log line. */
export interface HandoffRetry<I> extends Omit<RetryOptions, 'onRetry' | 'classify'> {
  /** Attempts, the first included (default 1: no retry). */
  attempts?: number;
  onRetry?: (err: TransientError, attempt: number, delayMs: number, item: I | undefined) => void;
}

export interface RunRecordsOptions<I> {
  /**
   * The item's record, or a bad input. Called when the item's turn to be processed comes: what it throws is that
   * item's failure, in order (a Lambda record of a stream whose resource id is unknown).
   */
  toItem: (item: I) => SourceItem;
  /** Keys, rules, redaction for processRecord (when `process` is not given). */
  deps?: ProcessorDeps;
  /** The correlation state, applied in record order (default: `deps.correlator`). */
  correlator?: CorrelationStep;
  /** Replaces processRecord(record, deps): the ShardReader holds a record whose data key stopped decrypting. */
  process?: (record: SourceRecord, item: I) => Promise<RecordOutcome>;
  stats: PipelineStats;
  /** Where alerts go; without it, an alert is an error (decode evaluates no rules). */
  handoff?: AlertHandoff;
  handoffRetry?: HandoffRetry<I>;
  /** Hand off even a record without alerts (the Lambda: a delivery that failed fails every record). */
  handOffEmpty?: boolean;
  /** Default: nowhere (only counted). */
  quarantine?: QuarantineSink;
  observer?: StreamObserver;
  /** See THE COMMIT HOOK above. `outcome` is undefined for a bad input. */
  commit?: (item: I, outcome: RecordOutcome | undefined) => void | Promise<void>;
  /** Concurrency and the retries of processing (drive's options). */
  drive?: DriveOptions;
}

/** Runs every item through the pipeline; resolves at the end of `items`, rejects with the first failure. */
export async function runRecords<I>(items: AsyncIterable<I>, o: RunRecordsOptions<I>): Promise<void> {
  const stats = o.stats;
  const joiner = new StatementJoiner();
  /**
   * The record whose commit waits for the next record's hand-off (its statement halves wait in the joiner), with its
   * own alerts and base events when they were not handed off yet (see HELD HALVES above).
   */
  let deferred: { item: I; outcome: RecordOutcome; alerts: Alert[]; correlating: BaseEvents[] } | undefined;
  const commitItem = async (item: I, outcome: RecordOutcome | undefined): Promise<void> => {
    stats.counters.records++;
    await o.commit?.(item, outcome);
  };
  /** One correlation turn and one hand-off for what the step evaluated; the alerts are counted once handed off. */
  const handOff = async (at: RecordOutcome | undefined, alerts: Alert[], correlating: BaseEvents[], item: I): Promise<void> => {
    // `at`: the step's last record (a bad item alone has none, and no base events); correlation alerts carry its position.
    const correlator = at !== undefined && correlating.length > 0 ? (o.correlator ?? o.deps?.correlator) : undefined;
    try {
      if (correlator) alerts.push(...(await correlator.apply({ ...at!, correlating }, stats)));
      // `handOffEmpty`: a step with a record (not a bad item alone) is handed off even without alerts.
      if (alerts.length > 0 || (o.handOffEmpty && at !== undefined)) await handOffWithRetry(o.handoff, alerts, o.handoffRetry, item);
    } catch (err) {
      correlator?.rollback();
      throw err;
    }
    correlator?.commit();
    for (const a of alerts) stats.countAlert(a);
  };
  type Done = { source: SourceItem; outcome: RecordOutcome | undefined };
  await drive<I, Done>(
    items,
    async (item) => {
      const source = o.toItem(item);
      if (source.kind === 'bad') return { source, outcome: undefined };
      const outcome = await (o.process ? o.process(source.record, item) : processRecord(source.record, o.deps ?? {}));
      return { source, outcome };
    },
    async ({ source, outcome }, item) => {
      if (source.kind === 'bad') {
        const q = { position: source.position, reason: source.reason, message: source.message };
        stats.countQuarantine(q);
        await o.quarantine?.put(q, source.raw !== undefined ? { raw: source.raw } : {});
      } else if (outcome) {
        stats.countDecoded(outcome);
        for (const q of outcome.quarantined) {
          stats.countQuarantine(q);
          await o.quarantine?.put(q, { record: source.record });
        }
        const summary = outcome.summary ?? (outcome.batch !== undefined ? summarizeBatch(outcome.batch) : undefined);
        if (summary !== undefined && o.observer?.onBatch) {
          const record = source.record;
          const info: { shardId?: string; arrivalTime?: number } = {};
          if (record.position.shardId !== undefined) info.shardId = record.position.shardId;
          if (record.arrivalTime !== undefined) info.arrivalTime = record.arrivalTime;
          o.observer.onBatch(summary, info);
        }
      }
      // The stateful steps, here because this callback runs in record order (processRecord may run ahead): the MySQL
      // statement halves, then the correlation state.
      const position = source.kind === 'bad' ? source.position : source.record.position;
      const step = joiner.next(outcome?.statements ? { statements: outcome.statements, position } : undefined);
      stats.counters.mysqlUnjoined += step.unjoined;
      const alerts = [...(deferred?.alerts ?? []), ...step.alerts, ...(outcome?.alerts ?? [])];
      const correlating = [...(deferred?.correlating ?? []), ...step.correlating, ...(outcome?.correlating ?? [])];
      if (joiner.waiting && deferred === undefined) {
        // Every hand-off is followed by a commit (the Lambda keeps the hand-off's delivery ticket with the record it
        // commits next): this record's alerts go with the next record's.
        deferred = { item, outcome: outcome!, alerts, correlating }; // waiting halves: the record had statements
        return;
      }
      await handOff(outcome ?? deferred?.outcome, alerts, correlating, item);
      if (deferred !== undefined) {
        const d = deferred;
        deferred = undefined;
        await commitItem(d.item, d.outcome);
      }
      if (joiner.waiting) deferred = { item, outcome: outcome!, alerts: [], correlating: [] };
      else await commitItem(item, outcome);
    },
    o.drive,
  );
  // The end of the sequence: the last record's waiting halves are evaluated unjoined, then it is committed.
  if (deferred !== undefined) {
    const d = deferred;
    const step = joiner.end();
    stats.counters.mysqlUnjoined += step.unjoined;
    await handOff(d.outcome, [...d.alerts, ...step.alerts], [...d.correlating, ...step.correlating], d.item);
    deferred = undefined;
    await commitItem(d.item, d.outcome);
  }
}

/**
 * Hands alerts off, retrying a TransientError (the outbox on a full disk: the failed hand-off changed nothing) per
 * `retry`. Also for alerts a driver raises itself (the ShardReader's data-key alarm).
 */
export async function handOffWithRetry<I>(
  handoff: AlertHandoff | undefined,
  alerts: readonly Alert[],
  retry: HandoffRetry<I> | undefined,
  item?: I,
): Promise<void> {
  if (handoff === undefined) {
    if (alerts.length === 0) return;
    throw new Error(`${alerts.length} alerts but no alert handoff`);
  }
  const { onRetry, ...policy } = retry ?? {};
  const opts: RetryOptions = { ...policy, attempts: retry?.attempts ?? 1 };
  if (onRetry) opts.onRetry = (err, attempt, delayMs) => onRetry(err, attempt, delayMs, item);
  await withRetry(() => handoff.handOff(alerts), opts);
}

/** An array as the driver's input. */
export async function* fromArray<T>(items: readonly T[]): AsyncGenerator<T> {
  yield* items;
}
