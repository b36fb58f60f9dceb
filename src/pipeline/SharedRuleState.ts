/**
 * The port of correlation state SHARED between processes (`run --state-table`, the Lambda's DASGUARD_STATE_TABLE;
 * docs/rules.md "Shared state"): items keyed by rule and item key (src/rules/stateItems.ts: a group, a learning
 * period), each with a version. The Correlator reads the items a record's events touch, applies the record on them,
 * and writes back the ones it changed, each only if its version is still the one read: a record applied on state
 * another process changed meanwhile is applied again on the new state. So every process counts every other's events,
 * a threshold fires once, and one process only records a first_seen combination as new.
 *
 * Two adapters: in memory (one process; unit tests), and DynamoDB (DynamoRuleState.ts).
 */

/** An item's place: the rule (its id and fingerprint: a rule whose meaning changed starts afresh) and the item key. */
export interface ItemKey {
  rule: string;
  key: string;
}

export interface StoredItem {
  /** 1 for the first write, one more for each. */
  version: number;
  value: unknown;
}

export interface ItemWrite {
  at: ItemKey;
  /** The version read (0: absent): the write happens only if it is still the item's. */
  expected: number;
  value: unknown;
  /** Epoch milliseconds after which the item may be deleted (DynamoDB's TTL); undefined: kept. */
  expiresAtMs?: number;
}

export interface SharedRuleState {
  /** What it is, for messages: "the rule state table NAME". */
  readonly name: string;
  /** The items at `keys` (consistent reads), by `itemId`; an absent one is not in the map. */
  read(keys: readonly ItemKey[]): Promise<Map<string, StoredItem>>;
  /**
   * Writes the items in order, each only if its version is still `expected`; true when all were written, false at the
   * first that changed meanwhile (it and the rest not written; the earlier ones are: the record applied again finds
   * its events in them, duplicates counted once, a firing given again the same). A TransientError when the store
   * cannot now (retried).
   */
  write(items: readonly ItemWrite[]): Promise<boolean>;
}

/** The map key of an item. */
export function itemId(k: ItemKey): string {
  return JSON.stringify([k.rule, k.key]);
}

/** In memory: one process's (unit tests; the contract the DynamoDB adapter follows). */
export class MemoryRuleState implements SharedRuleState {
  readonly name = 'the rule state in memory';
  readonly #items = new Map<string, { version: number; json: string; expiresAtMs?: number }>();

  async read(keys: readonly ItemKey[]): Promise<Map<string, StoredItem>> {
    const out = new Map<string, StoredItem>();
    for (const k of keys) {
      const it = this.#items.get(itemId(k));
      if (it !== undefined) out.set(itemId(k), { version: it.version, value: JSON.parse(it.json) as unknown });
    }
    return out;
  }

  async write(items: readonly ItemWrite[]): Promise<boolean> {
    for (const w of items) {
      if ((this.#items.get(itemId(w.at))?.version ?? 0) !== w.expected) return false;
      this.#items.set(itemId(w.at), { version: w.expected + 1, json: JSON.stringify(w.value), ...(w.expiresAtMs !== undefined ? { expiresAtMs: w.expiresAtMs } : {}) });
    }
    return true;
  }

  /** When the item expires (tests). */
  expiresAtMs(k: ItemKey): number | undefined {
    return this.#items.get(itemId(k))?.expiresAtMs;
  }
}
