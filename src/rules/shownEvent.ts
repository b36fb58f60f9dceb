/**
 * What a correlation's state keeps of a contributing event to show it in an alert (its `first` and `last` events,
 * docs/rules.md "Bounded state"), used by windowState.ts and firstSeenEvent.ts: a small projection of the event
 * (`shown`), not the event, so a million groups fit in a few hundred MiB. Its identity fields are kept as they are,
 * so the projection still tells one event from another (`isShownEvent`) and gives the event's key (eventKey).
 */
import { cutText } from '../pipeline/alertSize.js';
import type { CorrelationFiring } from './types.js';

/** The characters a string of a shown event holds (the rest cut, ending `…[truncated]`): a statement's first 512. */
export const MAX_SHOWN_CHARS = 512;
/** An event's identity (eventKey's fields), as the event has them. */
const IDENTITY = ['statementId', 'sessionId', 'logTime', 'substatementId', 'class', 'instanceId', 'clusterId'] as const;

/** Per rule: the fields `shown` keeps besides its own, the rule's groupBy and field fields. */
const ownFields = new WeakMap<object, readonly string[]>();
const SHOWN_OWN: ReadonlySet<string> = new Set([...IDENTITY, 'engine', 'dbUserName', 'remoteHost', 'clientApplication', 'databaseName', 'objectName', 'command', 'sqlCommand', 'commandText']);

/**
 * What is kept of a contributing event to show it in an alert (its `first` and `last`): its identity (cluster,
 * instance, session, statement, substatement, logTime, class: from `event`), then from `stored` (the event as an
 * alert may show it: redacted) the engine, user, client host and application, database, object, command, SQL
 * command and statement text (what the pack's messages name: a message may be rendered on it, Correlator.ts), and
 * the rule's groupBy and field fields; every string but the identity's cut to MAX_SHOWN_CHARS (`…[truncated]`).
 * One object of a fixed shape (a field the event lacks is undefined: `present` drops it when shown).
 */
export function shown(spec: CorrelationFiring['spec'], event: Record<string, unknown>, stored: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {
    clusterId: event.clusterId,
    instanceId: event.instanceId,
    sessionId: event.sessionId,
    statementId: event.statementId,
    substatementId: event.substatementId,
    logTime: event.logTime,
    class: event.class,
    engine: stored.engine,
    dbUserName: cutShown(stored.dbUserName),
    remoteHost: cutShown(stored.remoteHost),
    clientApplication: cutShown(stored.clientApplication),
    databaseName: cutShown(stored.databaseName),
    objectName: cutShown(stored.objectName),
    command: cutShown(stored.command),
    sqlCommand: cutShown(stored.sqlCommand),
    commandText: cutShown(stored.commandText),
  };
  for (const f of ownOf(spec)) if (stored[f] !== undefined) out[f] = cutShown(stored[f]);
  return out;
}

/** The rule's groupBy and field fields that `shown` keeps besides its own. */
function ownOf(spec: CorrelationFiring['spec']): readonly string[] {
  let own = ownFields.get(spec);
  if (own === undefined) {
    const fields = spec.type === 'first_seen' ? spec.fields : spec.type === 'sequence' || spec.field === undefined ? [] : [spec.field];
    own = [...new Set([...spec.groupBy, ...fields])].filter((f) => !SHOWN_OWN.has(f));
    ownFields.set(spec, own);
  }
  return own;
}

/**
 * What `shown` reads of `stored`, besides a rule's own fields (kept in step with its literal above: a field it reads
 * that is missing here fails test/unit/correlation-stored.test.ts); serverVersion too: with engine, the redaction's
 * context.
 */
const STORED_READ = ['engine', 'serverVersion', 'dbUserName', 'remoteHost', 'clientApplication', 'databaseName', 'objectName', 'command', 'sqlCommand', 'commandText'] as const;

const ONLY_STORED_READ: readonly (readonly string[])[] = [STORED_READ];
/** Per correlation, its storedFields (the same lists each time: redactProjection prepares a list of lists once). */
const storedOfOne = new WeakMap<object, readonly (readonly string[])[]>();
/** Per set of correlations' own fields (their JSON), their storedFields; at most STORED_SETS_KEPT sets, then afresh. */
const storedOfMany = new Map<string, readonly (readonly string[])[]>();
const STORED_SETS_KEPT = 256;

/**
 * The fields of an event that `shown` reads as `stored` for these correlations (and the redaction's context), as
 * lists (a field may be in two): an event that only feeds correlations (no alert of its own) is redacted as its
 * projection on them (redactProjection), not whole, since nothing else of its redacted copy is read (the pipeline,
 * processRecord.ts). Redacting a field depends on the field and the context only, so `shown` of the redacted
 * projection is `shown` of the redacted event. The same rules give the same lists (the same arrays).
 */
export function storedFields(rules: readonly { correlation?: CorrelationFiring['spec'] | undefined }[]): readonly (readonly string[])[] {
  if (rules.length === 1 && rules[0]!.correlation !== undefined) {
    const spec = rules[0]!.correlation;
    let lists = storedOfOne.get(spec);
    if (lists === undefined) {
      const own = ownOf(spec);
      lists = own.length === 0 ? ONLY_STORED_READ : [STORED_READ, own];
      storedOfOne.set(spec, lists);
    }
    return lists;
  }
  const lists: (readonly string[])[] = [STORED_READ];
  for (const r of rules) if (r.correlation !== undefined) lists.push(ownOf(r.correlation));
  const key = JSON.stringify(lists.slice(1));
  const known = storedOfMany.get(key);
  if (known !== undefined) return known;
  if (storedOfMany.size >= STORED_SETS_KEPT) storedOfMany.clear();
  storedOfMany.set(key, lists);
  return lists;
}

function cutShown(v: unknown): unknown {
  return typeof v === 'string' ? cutText(v, MAX_SHOWN_CHARS) : v;
}

/** A shown event without its undefined fields (as an alert holds it). */
export function present(ev: Record<string, unknown> | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(ev ?? {})) if (v !== undefined) out[k] = v;
  return out;
}

/** Whether a shown event is `event`: the same identity (eventKey's fields, as `shown` keeps them). */
export function isShownEvent(ev: Record<string, unknown>, event: Record<string, unknown>): boolean {
  for (const f of IDENTITY) if ((ev[f] ?? null) !== (event[f] ?? null)) return false;
  return true;
}

