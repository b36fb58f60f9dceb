/**
 * MySQL statements as one: Aurora MySQL writes one statement as one MAIN event (substatementId 1, commandText = the
 * SQL) and one AUX event per object it touches (substatementId 2, commandText/objectName = the object, command =
 * READ, WRITE, CREATE...), in any order. Before rules run on a record, this joins the MAIN and AUX events of one
 * statement (same cluster, instance, sessionId and statementId) into one STATEMENT VIEW: the MAIN event gets
 * `objects`, one entry per object of its AUX events (docs/rules.md, "MySQL statements"):
 *
 *   objects: [{name: 'cards', command: 'READ', type: 'TABLE', database: 'shop'}, ...]
 *
 * - `name` is each name of the AUX event's `objectName` (a comma-separated list is split; when it is empty, the AUX
 *   event's `commandText`, which DAS fills with the object's name); `command`, `type` and `database` are the AUX
 *   event's command, objectType and databaseName. Object names are not statement text: `objects` carries no
 *   redaction mark (src/rules/fields.ts), and is shown like `objectName` under every mode.
 * - Every MySQL MAIN event gets `objects` (an empty list when its record holds no AUX event of the statement).
 * - AUX events whose MAIN is not joined with them: the first of them (record order) carries the `objects` of all of
 *   them, so a rule on `objects` still sees the statement once, without its SQL (commandText is the object name).
 * - AUX events are still evaluated one by one as before: a rule on `class: AUX` keeps firing, and the pack's rules,
 *   which exclude AUX, are unchanged. Only the view (MAIN, or that first AUX) carries `objects`, so a rule on
 *   `objects` fires once per statement.
 * - Grouping follows record order: a second MAIN of the same key (connection events share statementId 0) starts a
 *   new statement, and AUX events join the latest statement of their key.
 *
 * WITHIN A RECORD (groupStatements), then ACROSS TWO (pairHalves). The join within a record is a pure function of
 * the record, done in processRecord's evaluateBatch (a rule test's event in src/rules/ruleTests.ts is joined as a
 * record of its own: joinMysqlStatements). What it leaves are STATEMENT HALVES: AUX events with no MAIN, and a MAIN
 * naming objects in `objectName` (DAS names the statement's object there) with no AUX event. A record holding halves
 * is evaluated by the driver's in-order step instead (src/pipeline/StatementJoiner.ts), where pairHalves joins the
 * halves of one record with those of the NEXT record of the sequence, in either order: the MAIN waiting, or last of
 * its key, with AUX events first of their key; AUX events waiting with a MAIN first of its key. Halves that meet no
 * other half there are evaluated as they are (the MAIN with `[]`, the AUX part as its own view without SQL) and each
 * counted in the pipeline's `mysqlUnjoined`. Not joined: AUX events split between the MAIN's record and another
 * (the MAIN gets those of its record), and a MAIN naming no object in `objectName` (never a half: a connection,
 * `SELECT 1`). Alert ids are
 * unchanged (alert.ts alertId reads the event's own fields), whichever record held each half.
 *
 * The events are changed in place (`objects` only); events of other engines are untouched.
 */
import type { ActivityEvent } from '../types.js';

/** One object of a MySQL statement, from one of its AUX events (its keys: STATEMENT_OBJECT_KEYS in src/rules/fields.ts). */
export interface StatementObject {
  /** The object's name, as the AUX event's objectName gives it (one name of a comma-separated list). */
  name: string;
  /** The AUX event's `command` (READ, WRITE, CREATE, DROP, GRANT...), or null. */
  command: string | null;
  /** The AUX event's `objectType` (TABLE, USER...), or null. */
  type: string | null;
  /** The AUX event's `databaseName`, or null. */
  database: string | null;
}

/**
 * A statement half: a MySQL statement of one record that may have its other half in the record before or after
 * (`main` without AUX events, or AUX events without `main`). Its events keep the objects the record gave them (a
 * MAIN: `[]`; AUX events: the first carries their objects) until pairHalves joins it with the other half.
 */
export interface StatementHalf {
  /** cluster, instance, sessionId, statementId. */
  readonly key: string;
  readonly main: ActivityEvent | undefined;
  readonly aux: readonly ActivityEvent[];
  /**
   * May take the NEXT record's half: AUX events with no MAIN, or a MAIN naming objects in `objectName` that is the last
   * statement of its key in its record. False: a MAIN naming objects that may only complete the previous record's AUX.
   */
  readonly waits: boolean;
  /** May complete the PREVIOUS record's waiting half: the first statement of its key in its record. */
  readonly first: boolean;
}

/** A record's statements once joined within the record: the halves (record order) and the other unjoined parts. */
export interface RecordStatements {
  /** Halves that can never join (a MAIN naming objects, neither the first nor the last statement of its key). */
  unjoined: number;
  /** Halves that may join the record before or after (each counted as unjoined when it does not). */
  halves: StatementHalf[];
}

interface Group {
  key: string;
  main: ActivityEvent | undefined;
  aux: ActivityEvent[];
}

/** What the join did to a record: statement halves it could not join (counted as `mysqlUnjoined`). */
export interface JoinResult {
  unjoined: number;
}

/**
 * Joins the MySQL statements of one record's events (in record order), in place, and counts the halves it could not
 * join: a record on its own (a rule test's event). The record driver joins across records with groupStatements and
 * pairHalves instead.
 */
export function joinMysqlStatements(events: readonly ActivityEvent[]): JoinResult {
  const r = groupStatements(events);
  return { unjoined: r.unjoined + r.halves.length };
}

/** Joins the MySQL statements of one record's events (in record order), in place; gives the halves left. */
export function groupStatements(events: readonly ActivityEvent[]): RecordStatements {
  let groups: Group[] | undefined;
  let byKey: Map<string, Group> | undefined;
  /** The first statement of each key in the record. */
  let firsts: Map<string, Group> | undefined;
  for (let i = 0; i < events.length; i++) {
    const e = events[i] as ActivityEvent;
    if (e.engine !== 'mysql') continue;
    const cls = typeof e.class === 'string' ? e.class.toUpperCase() : '';
    if (cls !== 'MAIN' && cls !== 'AUX') continue;
    const key = JSON.stringify([e.clusterId, e.instanceId, e.sessionId ?? null, e.statementId ?? null]);
    byKey ??= new Map();
    firsts ??= new Map();
    groups ??= [];
    let g = byKey.get(key);
    if (g === undefined || (cls === 'MAIN' && g.main !== undefined)) {
      g = { key, main: undefined, aux: [] };
      byKey.set(key, g);
      if (!firsts.has(key)) firsts.set(key, g);
      groups.push(g);
    }
    if (cls === 'MAIN') g.main = e;
    else g.aux.push(e);
  }
  const out: RecordStatements = { unjoined: 0, halves: [] };
  if (groups === undefined) return out;
  for (const g of groups) {
    const objects: StatementObject[] = [];
    for (const a of g.aux) objectsOf(a, objects);
    const first = firsts!.get(g.key) === g;
    const last = byKey!.get(g.key) === g;
    if (g.main !== undefined) {
      g.main.objects = objects;
      if (g.aux.length > 0 || namesOf(g.main.objectName).length === 0) continue;
      if (first || last) out.halves.push({ key: g.key, main: g.main, aux: g.aux, waits: last, first });
      else out.unjoined++;
    } else {
      // AUX events with no MAIN: no MAIN of their key in the record, so this is its only statement.
      (g.aux[0] as ActivityEvent).objects = objects;
      out.halves.push({ key: g.key, main: undefined, aux: g.aux, waits: true, first: true });
    }
  }
  return out;
}

/**
 * Joins the previous record's waiting halves with the next record's halves: one MAIN and the AUX events of the same
 * key (the MAIN, waiting or first of its key; the AUX events, of the first statement of their key in their record,
 * or waiting) become one statement, the MAIN's `objects` those of the AUX events, which no longer carry any. Gives
 * every half that was joined (of both records).
 */
export function pairHalves(waiting: readonly StatementHalf[], next: readonly StatementHalf[]): Set<StatementHalf> {
  const paired = new Set<StatementHalf>();
  if (waiting.length === 0 || next.length === 0) return paired;
  const firsts = new Map<string, StatementHalf>();
  for (const h of next) if (h.first) firsts.set(h.key, h);
  for (const w of waiting) {
    if (!w.waits) continue;
    const h = firsts.get(w.key);
    if (h === undefined || (w.main === undefined) === (h.main === undefined)) continue;
    const main = (w.main ?? h.main) as ActivityEvent;
    const aux = w.main === undefined ? w.aux : h.aux;
    delete (aux[0] as ActivityEvent).objects;
    const objects: StatementObject[] = [];
    for (const a of aux) objectsOf(a, objects);
    main.objects = objects;
    paired.add(w).add(h);
  }
  return paired;
}

function objectsOf(aux: ActivityEvent, out: StatementObject[]): void {
  let names = namesOf(aux.objectName);
  if (names.length === 0) names = namesOf(aux.commandText);
  const command = textOrNull(aux.command);
  const type = textOrNull(aux.objectType);
  const database = textOrNull(aux.databaseName);
  for (const name of names) out.push({ name, command, type, database });
}

/** The names of a (possibly comma-separated) object name field: trimmed, empty ones dropped. */
function namesOf(v: unknown): string[] {
  if (typeof v !== 'string' || v === '') return [];
  if (!v.includes(',')) {
    const t = v.trim();
    return t === '' ? [] : [t];
  }
  return v.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

function textOrNull(v: unknown): string | null {
  return typeof v === 'string' && v !== '' ? v : null;
}
