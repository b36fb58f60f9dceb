/**
 * A bounded cache of decrypted DAS data keys, in front of a key backend (KMS Decrypt).
 *
 * Aurora reuses one data key for many Kinesis records, so caching the plaintext by its ciphertext bytes cuts
 * KMS calls (cost, throttling, latency). The cache key is the ciphertext bytes PLUS the canonical encryption
 * context: the same ciphertext asked for under another context is a different question (and must fail).
 *
 * - at most `maxEntries` keys, least recently used evicted first;
 * - every key expires `ttlMs` after it was fetched (plaintext keys do not linger in memory forever);
 * - every evicted, expired or cleared key buffer is zeroed;
 * - concurrent requests for the same key share ONE backend call;
 * - a ciphertext that can never decrypt under its context (the backend threw PoisonRecordError: deterministic) is
 *   remembered for `negativeTtlMs` (default 30 s), so 200 records sharing one bad key make one backend call, not
 *   200; any other failure (throttling, access denied: either may be over at the next call) is not cached;
 * - callers always receive a fresh copy they own (and may zero).
 */
import { ConfigError, PoisonRecordError } from '../errors.js';
import type { EncryptionContext } from '../types.js';

/** The bounds of a DataKeyCache. */
export interface DataKeyCacheOptions {
  /** Most keys held at once (default 1000). */
  maxEntries?: number;
  /** How long a decrypted key may be reused, in milliseconds (default 10 minutes). */
  ttlMs?: number;
  /** How long a ciphertext that failed as poison is answered with that failure, in ms (default 30 s; 0: never). */
  negativeTtlMs?: number;
  /** Clock, for tests. */
  now?: () => number;
}

export interface DataKeyCacheStats {
  /** Requests answered without a new backend call (cached, a cached failure, or joined an in-flight call). */
  hits: number;
  /** Requests that started a backend call. */
  misses: number;
  /** Keys dropped by the LRU bound or the TTL. */
  evictions: number;
  /** Keys held now. */
  size: number;
}

interface InFlight {
  /** Resolves to a buffer shared by the waiters, zeroed once the last of them has taken its copy. */
  promise: Promise<Uint8Array>;
  waiters: number;
}

interface Entry {
  key: Uint8Array;
  expiresAt: number;
}

interface Failure {
  error: PoisonRecordError;
  expiresAt: number;
}

const DEFAULT_DATA_KEY_CACHE_MAX_ENTRIES = 1000;
const DEFAULT_DATA_KEY_CACHE_TTL_MS = 10 * 60 * 1000;
/** Short: long enough to spare KMS a burst of records sharing a bad key, short enough that a fix shows at once. */
const DEFAULT_DATA_KEY_NEGATIVE_TTL_MS = 30 * 1000;

/** JSON of the context with its keys sorted: the same context always gives the same string. */
export function canonicalEncryptionContext(context: EncryptionContext): string {
  const keys = Object.keys(context).sort();
  const sorted: Record<string, string> = {};
  for (const k of keys) sorted[k] = context[k] as string;
  return JSON.stringify(sorted);
}

export class DataKeyCache {
  readonly maxEntries: number;
  readonly ttlMs: number;
  readonly negativeTtlMs: number;
  readonly #now: () => number;
  /** Map order is recency order: the first entry is the least recently used. */
  readonly #entries = new Map<string, Entry>();
  readonly #inFlight = new Map<string, InFlight>();
  /** Ciphertexts that failed as poison; insertion order is age order. At most maxEntries. */
  readonly #failures = new Map<string, Failure>();
  #hits = 0;
  #misses = 0;
  #evictions = 0;
  /** Bumped by clear(): a backend call that started before a clear() must not refill the cache. */
  #generation = 0;
  #nextSweepAt: number;

  constructor(options: DataKeyCacheOptions = {}) {
    const maxEntries = options.maxEntries ?? DEFAULT_DATA_KEY_CACHE_MAX_ENTRIES;
    const ttlMs = options.ttlMs ?? DEFAULT_DATA_KEY_CACHE_TTL_MS;
    const negativeTtlMs = options.negativeTtlMs ?? DEFAULT_DATA_KEY_NEGATIVE_TTL_MS;
    if (!Number.isInteger(maxEntries) || maxEntries < 0) {
      throw new ConfigError(`data key cache maxEntries must be a non-negative integer, got ${maxEntries}`);
    }
    if (!Number.isFinite(ttlMs) || ttlMs < 0) {
      throw new ConfigError(`data key cache ttlMs must be a non-negative number, got ${ttlMs}`);
    }
    if (!Number.isFinite(negativeTtlMs) || negativeTtlMs < 0) {
      throw new ConfigError(`data key cache negativeTtlMs must be a non-negative number, got ${negativeTtlMs}`);
    }
    this.maxEntries = maxEntries;
    this.ttlMs = ttlMs;
    this.negativeTtlMs = negativeTtlMs;
    this.#now = options.now ?? Date.now;
    this.#nextSweepAt = this.#now() + this.#sweepInterval();
  }

  /**
   * The data key for `keyCiphertext` under `context`: from the cache, or from `load()` (called at most once
   * for concurrent identical requests). `load` hands over a buffer the cache keeps and zeroes when the key
   * is evicted, expires or is cleared. Errors from `load` reach every waiting caller; a PoisonRecordError is
   * thrown again, without calling `load`, to requests for the same key in the next `negativeTtlMs`.
   */
  async get(
    keyCiphertext: Uint8Array,
    context: EncryptionContext,
    load: () => Promise<Uint8Array>,
  ): Promise<Uint8Array> {
    const id = cacheId(keyCiphertext, context);
    const now = this.#now();
    if (now >= this.#nextSweepAt) this.purgeExpired();

    const entry = this.#entries.get(id);
    if (entry !== undefined) {
      if (now < entry.expiresAt) {
        this.#hits++;
        // Move to the most recently used end.
        this.#entries.delete(id);
        this.#entries.set(id, entry);
        return entry.key.slice();
      }
      this.#drop(id, entry);
    }
    const failure = this.#failures.get(id);
    if (failure !== undefined) {
      if (now < failure.expiresAt) {
        this.#hits++;
        throw failure.error;
      }
      this.#failures.delete(id);
    }

    let flight = this.#inFlight.get(id);
    if (flight !== undefined) {
      this.#hits++;
    } else {
      this.#misses++;
      flight = { promise: this.#load(id, load, this.#generation), waiters: 0 };
      this.#inFlight.set(id, flight);
    }
    flight.waiters++;
    try {
      return (await flight.promise).slice();
    } finally {
      // The last waiter out zeroes the shared buffer (the cache holds its own copy) and ends the flight.
      if (--flight.waiters === 0) {
        if (this.#inFlight.get(id) === flight) this.#inFlight.delete(id);
        flight.promise.then(
          (key) => key.fill(0),
          () => undefined,
        );
      }
    }
  }

  async #load(id: string, load: () => Promise<Uint8Array>, generation: number): Promise<Uint8Array> {
    let key: Uint8Array;
    try {
      key = await load();
    } catch (err) {
      if (err instanceof PoisonRecordError && generation === this.#generation) this.#remember(id, err);
      throw err;
    }
    // The cache keeps the loaded buffer itself (zeroed on eviction); waiters share a copy of it.
    const shared = key.slice();
    if (generation === this.#generation && this.maxEntries > 0 && this.ttlMs > 0) {
      this.#insert(id, key);
    } else {
      key.fill(0);
    }
    return shared;
  }

  #remember(id: string, error: PoisonRecordError): void {
    if (this.negativeTtlMs === 0 || this.maxEntries === 0) return;
    this.#failures.delete(id);
    while (this.#failures.size >= this.maxEntries) {
      const oldest = this.#failures.keys().next().value;
      if (oldest === undefined) break;
      this.#failures.delete(oldest);
    }
    this.#failures.set(id, { error, expiresAt: this.#now() + this.negativeTtlMs });
  }

  #insert(id: string, key: Uint8Array): void {
    const old = this.#entries.get(id);
    if (old !== undefined) this.#drop(id, old, false);
    while (this.#entries.size >= this.maxEntries) {
      const oldest = this.#entries.entries().next().value;
      if (oldest === undefined) break;
      this.#drop(oldest[0], oldest[1]);
    }
    this.#entries.set(id, { key, expiresAt: this.#now() + this.ttlMs });
  }

  #drop(id: string, entry: Entry, countEviction = true): void {
    entry.key.fill(0);
    this.#entries.delete(id);
    if (countEviction) this.#evictions++;
  }

  #sweepInterval(): number {
    return Math.max(1000, Math.floor(this.ttlMs / 10));
  }

  /** Drops (and zeroes) every expired key. Called now and then by get(); call it yourself when idle. */
  purgeExpired(): void {
    const now = this.#now();
    for (const [id, entry] of this.#entries) {
      if (now >= entry.expiresAt) this.#drop(id, entry);
    }
    for (const [id, failure] of this.#failures) {
      if (now >= failure.expiresAt) this.#failures.delete(id);
    }
    this.#nextSweepAt = now + this.#sweepInterval();
  }

  /** Drops and zeroes every cached key, forgets cached failures. In-flight calls complete but are not cached. */
  clear(): void {
    this.#generation++;
    this.#failures.clear();
    for (const entry of this.#entries.values()) entry.key.fill(0);
    this.#entries.clear();
  }

  stats(): DataKeyCacheStats {
    return { hits: this.#hits, misses: this.#misses, evictions: this.#evictions, size: this.#entries.size };
  }
}

function cacheId(keyCiphertext: Uint8Array, context: EncryptionContext): string {
  const bytes = Buffer.from(keyCiphertext.buffer, keyCiphertext.byteOffset, keyCiphertext.byteLength);
  return `${canonicalEncryptionContext(context)}\n${bytes.toString('base64')}`;
}
