/**
 * MySQL statements across two records: the record driver's in-order step (runRecords.ts) gives each record, in source
 * order, to `next`; a record holding statement halves (processRecord left its events unevaluated: `statements`) is
 * evaluated here, and its halves that may take the next record's (AUX events without their MAIN, a MAIN naming objects
 * without its AUX events: src/codec/mysqlStatements.ts) WAIT for the next record of the sequence, and for it only:
 *
 *   record N:   [... MAIN 7 (objectName cards)]          -> MAIN 7 waits (N's other events are evaluated now)
 *   record N+1: [AUX 7 cards READ, ...]                   -> MAIN 7 + AUX 7 joined: MAIN 7 evaluated with objects
 *                                                            [cards READ], then AUX 7 and N+1's other events
 *
 * A waiting half that the next record does not complete, or that meets the end of the sequence (`end`), is evaluated
 * as it is (unjoined, as within one record) and counted in `unjoined`. A half that could still complete a waiting
 * one but did not (the first statement of its key, a MAIN naming objects) is counted too.
 *
 * ORDER. Events are evaluated in source order, except that a record's waiting halves come right after the record's
 * last event (with the next record's step, before its events): so the correlation state sees the joined statement's
 * events where its MAIN or first AUX event completes it, the same for every driver. Each alert is built at the position
 * of the record its event came from (alertId reads the event's own fields: the same ids whether the halves were joined
 * or not, and wherever they were).
 *
 * The joiner holds at most one record's waiting halves, in memory only: the driver does not commit that record until
 * the next step's alerts are handed off, so a crash re-reads it (nothing to persist). One joiner per driver call: a
 * sequence is what one runRecords call is given (replay's whole input, one GetRecords batch of `run`, one Lambda
 * invocation's batch).
 */
import type { StatementHalf } from '../codec/mysqlStatements.js';
import { pairHalves } from '../codec/mysqlStatements.js';
import type { ActivityEvent, RecordPosition } from '../types.js';
import type { Alert } from './alert.js';
import type { BaseEvents, EventEvaluator, PendingStatements } from './processRecord.js';

/** What one step evaluated: alerts and base events in order, and the halves evaluated without their other half. */
export interface JoinStep {
  alerts: Alert[];
  correlating: BaseEvents[];
  unjoined: number;
}

interface Waiting {
  halves: readonly StatementHalf[];
  /** The halves' events, in their record's order. */
  events: readonly ActivityEvent[];
  position: RecordPosition;
  evaluate: EventEvaluator;
}

export class StatementJoiner {
  #waiting: Waiting | undefined;

  /** Whether halves of the last record wait for the next one (that record must not be committed yet). */
  get waiting(): boolean {
    return this.#waiting !== undefined;
  }

  /**
   * The next record of the sequence (`record`: its pending events and position; undefined for a record evaluated
   * already, a bad item or a quarantined record): the previous record's waiting halves, joined with this record's or
   * not, then this record's pending events, are evaluated; this record's halves that may take the next record's wait.
   */
  next(record?: { statements: PendingStatements; position: RecordPosition }): JoinStep {
    const step: JoinStep = { alerts: [], correlating: [], unjoined: 0 };
    const waiting = this.#waiting;
    this.#waiting = undefined;
    const paired = pairHalves(waiting?.halves ?? [], record?.statements.halves ?? []);
    if (waiting !== undefined) {
      for (const h of waiting.halves) if (!paired.has(h)) step.unjoined++;
      for (const e of waiting.events) waiting.evaluate(e, waiting.position, step);
    }
    if (record !== undefined) {
      const { statements, position } = record;
      const waits: StatementHalf[] = [];
      for (const h of statements.halves) {
        if (paired.has(h)) continue;
        if (h.waits) waits.push(h);
        else step.unjoined++;
      }
      const later = new Set<ActivityEvent>();
      for (const h of waits) {
        if (h.main !== undefined) later.add(h.main);
        for (const a of h.aux) later.add(a);
      }
      for (const e of statements.events) if (!later.has(e)) statements.evaluate(e, position, step);
      if (waits.length > 0) {
        this.#waiting = { halves: waits, events: statements.events.filter((e) => later.has(e)), position, evaluate: statements.evaluate };
      }
    }
    return step;
  }

  /** The end of the sequence: the waiting halves are evaluated as they are (unjoined). */
  end(): JoinStep {
    return this.next();
  }
}
