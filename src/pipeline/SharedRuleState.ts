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
   * Writes the items, each only if its version is still `expected`, in the chains `writeChains` cuts them into: a
   * chain in the order given, up to the first item that changed meanwhile (it and the rest of its chain not written;
   * the earlier ones are: the record applied again finds its events in them, duplicates counted once, a firing given
   * again the same). Chains are independent: an adapter may write them concurrently, and a conflict in one does not
   * stop another. True when all were written. A TransientError when the store cannot now (retried).
   */
  write(items: readonly ItemWrite[]): Promise<boolean>;
}

/**
 * A record's writes cut into independent chains. Each group's item is its own chain: no group's state depends on
 * another's, nor on another rule's. The exception is a first_seen rule with a learning period in the writes (key `l`,
 * src/rules/stateItems.ts): its groups were judged against that period, so its items stay one chain, in order.
 */
export function writeChains<W extends { at: ItemKey }>(items: readonly W[]): W[][] {
  const learning = new Set(items.filter((w) => w.at.key.startsWith('l')).map((w) => w.at.rule));
  const chains = new Map<string, W[]>();
  for (const w of items) {
    const id = learning.has(w.at.rule) ? w.at.rule : itemId(w.at);
    const chain = chains.get(id);
    if (chain) chain.push(w);
    else chains.set(id, [w]);
  }
  return [...chains.values()];
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
    let all = true;
    for (const chain of writeChains(items)) {
      for (const w of chain) {
        if ((this.#items.get(itemId(w.at))?.version ?? 0) !== w.expected) {
          all = false;
          break;
        }
        this.#items.set(itemId(w.at), { version: w.expected + 1, json: JSON.stringify(w.value), ...(w.expiresAtMs !== undefined ? { expiresAtMs: w.expiresAtMs } : {}) });
      }
    }
    return all;
  }

  /** When the item expires (tests). */
  expiresAtMs(k: ItemKey): number | undefined {
    return this.#items.get(itemId(k))?.expiresAtMs;
  }
}
