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
 * - AUX events whose MAIN is not in their record: the first of them (record order) carries the `objects` of all of
 *   them, so a rule on `objects` still sees the statement once, without its SQL (commandText is the object name).
 * - AUX events are still evaluated one by one as before: a rule on `class: AUX` keeps firing, and the pack's rules,
 *   which exclude AUX, are unchanged. Only the view (MAIN, or that first AUX) carries `objects`, so a rule on
 *   `objects` fires once per statement.
 * - Grouping follows record order: a second MAIN of the same key (connection events share statementId 0) starts a
 *   new statement, and AUX events join the latest statement of their key.
 *
 * WHERE AND WHY HERE: within one record, in the stateless part (processRecord's evaluateBatch; a rule test's event in
 * src/rules/ruleTests.ts is joined as a record of its own), so the join is a pure
 * function of the record: replay, run and the Lambda give the same views, the same alerts and the same alert ids
 * (alert.ts alertId reads the MAIN event's own fields, unchanged), and nothing is held across records, so nothing has
 * to survive a restart and no record's commit waits for another. The cost, stated in docs/rules.md: a statement
 * whose MAIN and AUX events fall into different records is evaluated UNJOINED (the MAIN with the objects of its
 * record only, the AUX part as its own view without SQL), and each such half is counted in the pipeline's
 * `mysqlUnjoined` (a MAIN naming objects in `objectName` with no AUX event in its record, or AUX events with no MAIN
 * in their record). A bounded cross-record wait (the driver's in-order step, persisted as a CheckpointedState) is
 * the next step if that count is not small on real streams.
 *
 * The events are changed in place (one added field), once per record; events of other engines are untouched.
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

interface Group {
  main: ActivityEvent | undefined;
  aux: ActivityEvent[];
}

/** What the join did to a record: statement halves it could not join (counted as `mysqlUnjoined`). */
export interface JoinResult {
  unjoined: number;
}

/** Joins the MySQL statements of one record's events (in record order), in place. */
export function joinMysqlStatements(events: readonly ActivityEvent[]): JoinResult {
  let groups: Group[] | undefined;
  let byKey: Map<string, Group> | undefined;
  for (let i = 0; i < events.length; i++) {
    const e = events[i] as ActivityEvent;
    if (e.engine !== 'mysql') continue;
    const cls = typeof e.class === 'string' ? e.class.toUpperCase() : '';
    if (cls !== 'MAIN' && cls !== 'AUX') continue;
    const key = JSON.stringify([e.clusterId, e.instanceId, e.sessionId ?? null, e.statementId ?? null]);
    byKey ??= new Map();
    groups ??= [];
    let g = byKey.get(key);
    if (g === undefined || (cls === 'MAIN' && g.main !== undefined)) {
      g = { main: undefined, aux: [] };
      byKey.set(key, g);
      groups.push(g);
    }
    if (cls === 'MAIN') g.main = e;
    else g.aux.push(e);
  }
  let unjoined = 0;
  if (groups === undefined) return { unjoined };
  for (const g of groups) {
    const objects: StatementObject[] = [];
    for (const a of g.aux) objectsOf(a, objects);
    if (g.main !== undefined) {
      g.main.objects = objects;
      if (g.aux.length === 0 && namesOf(g.main.objectName).length > 0) unjoined++;
    } else {
      (g.aux[0] as ActivityEvent).objects = objects;
      unjoined++;
    }
  }
  return { unjoined };
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
