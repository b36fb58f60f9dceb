import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigError, DataKeyError, PoisonRecordError, TransientError } from '../../src/errors.js';
import { canonicalEncryptionContext, DataKeyCache } from '../../src/keys/DataKeyCache.js';
import { encryptionContextFor, type KeyProvider } from '../../src/keys/KeyProvider.js';
import { KeyGuard } from '../../src/keys/KeyGuard.js';
import { LocalKeyProvider } from '../../src/keys/LocalKeyProvider.js';

const ctxA = encryptionContextFor('cluster-AAAA');
const ctxB = encryptionContextFor('cluster-BBBB');

function key(fill: number): Uint8Array {
  return new Uint8Array(32).fill(fill);
}

function isZero(b: Uint8Array): boolean {
  return b.every((x) => x === 0);
}

describe('LocalKeyProvider', () => {
  const provider = LocalKeyProvider.generate('dasguard-demo');
  const dir = mkdtempSync(join(tmpdir(), 'dasguard-keys-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('unwraps what it wrapped, under the same context', async () => {
    const dataKey = key(7);
    const wrapped = provider.wrapDataKey(dataKey, ctxA);
    assert.equal(Buffer.from(wrapped.subarray(0, 4)).toString('ascii'), 'DGK1');
    assert.equal(wrapped.length, 4 + 1 + 'dasguard-demo'.length + 12 + 32 + 16);
    assert.deepEqual(await provider.getDataKey(wrapped, ctxA), dataKey);
  });

  it('does not care about the order of the context keys (canonical JSON)', async () => {
    const wrapped = provider.wrapDataKey(key(1), { b: '2', a: '1' });
    assert.deepEqual(await provider.getDataKey(wrapped, { a: '1', b: '2' }), key(1));
    assert.equal(canonicalEncryptionContext({ b: '2', a: '1' }), '{"a":"1","b":"2"}');
  });

  it('refuses a key wrapped for another cluster, naming the context tried and the key file key', async () => {
    const wrapped = provider.wrapDataKey(key(7), ctxA);
    await assert.rejects(provider.getDataKey(wrapped, ctxB), (err: unknown) => {
      assert.ok(err instanceof PoisonRecordError);
      assert.equal(err.reason, 'key-decrypt-failed');
      assert.match(
        err.message,
        /data key did not decrypt under encryption context \{"aws:rds:dbc-id":"cluster-BBBB"\} with key file key "dasguard-demo"/,
      );
      return true;
    });
  });

  it('refuses a cluster key asked for as an instance key (aws:rds:db-id)', async () => {
    const wrapped = provider.wrapDataKey(key(7), encryptionContextFor('db-AAAA'));
    assert.deepEqual(encryptionContextFor('db-AAAA'), { 'aws:rds:db-id': 'db-AAAA' });
    assert.deepEqual(await provider.getDataKey(wrapped, { 'aws:rds:db-id': 'db-AAAA' }), key(7));
    await assert.rejects(provider.getDataKey(wrapped, { 'aws:rds:dbc-id': 'db-AAAA' }), /key-decrypt|did not decrypt/);
  });

  it('refuses a key wrapped under another key file, saying so', async () => {
    const other = LocalKeyProvider.generate('other-key');
    const wrapped = other.wrapDataKey(key(7), ctxA);
    await assert.rejects(provider.getDataKey(wrapped, ctxA), (err: unknown) => {
      assert.ok(err instanceof PoisonRecordError);
      assert.equal(err.reason, 'key-decrypt-failed');
      assert.match(err.message, /wrapped under key "other-key"/);
      assert.match(err.message, /cluster-AAAA/);
      return true;
    });
  });

  it('refuses a key file with the same keyId but another master key', async () => {
    const impostor = LocalKeyProvider.generate('dasguard-demo');
    const wrapped = impostor.wrapDataKey(key(7), ctxA);
    await assert.rejects(provider.getDataKey(wrapped, ctxA), PoisonRecordError);
  });

  for (const [name, bytes] of [
    ['empty', new Uint8Array(0)],
    ['a real KMS-looking blob', new Uint8Array(184).fill(1)],
    ['a truncated wrapped key', provider.wrapDataKey(key(3), ctxA).subarray(0, 40)],
  ] as const) {
    it(`refuses garbage: ${name}`, async () => {
      await assert.rejects(
        provider.getDataKey(bytes, ctxA),
        (err: unknown) => err instanceof PoisonRecordError && err.reason === 'key-decrypt-failed',
      );
    });
  }

  it('refuses a tampered wrapped key', async () => {
    const wrapped = provider.wrapDataKey(key(3), ctxA);
    const last = wrapped.length - 20;
    wrapped[last] = (wrapped[last] as number) ^ 1;
    await assert.rejects(provider.getDataKey(wrapped, ctxA), /tampered/);
  });

  it('returns a copy the caller may zero', async () => {
    const wrapped = provider.wrapDataKey(key(9), ctxA);
    const first = await provider.getDataKey(wrapped, ctxA);
    first.fill(0);
    assert.deepEqual(await provider.getDataKey(wrapped, ctxA), key(9));
  });

  it('writes and reads back its key file', async () => {
    const path = join(dir, 'key.json');
    writeFileSync(path, provider.toFileJson());
    const parsed = JSON.parse(provider.toFileJson()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(parsed).sort(), ['description', 'key', 'keyId']);
    assert.match(String(parsed.description), /DEMO/);
    const loaded = LocalKeyProvider.fromFile(path);
    assert.equal(loaded.keyId, 'dasguard-demo');
    assert.deepEqual(await loaded.getDataKey(provider.wrapDataKey(key(5), ctxA), ctxA), key(5));
  });

  const badFiles: [string, string, RegExp][] = [
    ['not JSON', '{"keyId": ', /not valid JSON/],
    ['an array', '[]', /expected a JSON object/],
    ['no keyId', JSON.stringify({ key: Buffer.alloc(32).toString('base64') }), /"keyId" must be a non-empty string/],
    ['no key', JSON.stringify({ keyId: 'k' }), /"key" must be a string/],
    ['key not base64', JSON.stringify({ keyId: 'k', key: 'not base64!' }), /"key" is not valid base64/],
    ['key of 16 bytes', JSON.stringify({ keyId: 'k', key: Buffer.alloc(16).toString('base64') }), /32 bytes.*got 16/],
  ];
  for (const [name, content, expected] of badFiles) {
    it(`reports a bad key file (${name}) as ConfigError naming the file`, () => {
      const path = join(dir, `bad-${name.replace(/\W+/g, '-')}.json`);
      writeFileSync(path, content);
      assert.throws(
        () => LocalKeyProvider.fromFile(path),
        (err: unknown) => err instanceof ConfigError && err.message.includes(path) && expected.test(err.message),
      );
    });
  }

  it('reports a missing key file as ConfigError naming it', () => {
    const path = join(dir, 'missing.json');
    assert.throws(
      () => LocalKeyProvider.fromFile(path),
      (err: unknown) => err instanceof ConfigError && err.message.includes(path),
    );
  });

  it('counts unwraps as backend calls', async () => {
    const p = LocalKeyProvider.generate('count');
    const wrapped = p.wrapDataKey(key(1), ctxA);
    await p.getDataKey(wrapped, ctxA);
    await p.getDataKey(wrapped, ctxA);
    assert.equal(p.stats().backendCalls, 2);
  });
});

describe('DataKeyCache', () => {
  const ciphertext = (n: number): Uint8Array => new Uint8Array(64).fill(n);

  /** A backend that hands out a distinct buffer per call and keeps them, so tests can see them zeroed. */
  function backend(fill = 42) {
    const handed: Uint8Array[] = [];
    return {
      handed,
      load: async () => {
        const k = key(fill);
        handed.push(k);
        return k;
      },
    };
  }

  it('answers the second request from the cache and counts hits and misses', async () => {
    const cache = new DataKeyCache();
    const b = backend();
    assert.deepEqual(await cache.get(ciphertext(1), ctxA, b.load), key(42));
    assert.deepEqual(await cache.get(ciphertext(1), ctxA, b.load), key(42));
    assert.equal(b.handed.length, 1);
    assert.deepEqual(cache.stats(), { hits: 1, misses: 1, evictions: 0, size: 1 });
  });

  it('returns fresh copies: a caller zeroing its key does not damage the cache', async () => {
    const cache = new DataKeyCache();
    const b = backend();
    const first = await cache.get(ciphertext(1), ctxA, b.load);
    first.fill(0);
    assert.deepEqual(await cache.get(ciphertext(1), ctxA, b.load), key(42));
  });

  it('keeps the same ciphertext under another context apart', async () => {
    const cache = new DataKeyCache();
    const b = backend();
    await cache.get(ciphertext(1), ctxA, b.load);
    await cache.get(ciphertext(1), ctxB, b.load);
    assert.equal(b.handed.length, 2);
  });

  it('expires keys after the TTL, zeroing them', async () => {
    let now = 1_000_000;
    const cache = new DataKeyCache({ ttlMs: 60_000, now: () => now });
    const b = backend();
    await cache.get(ciphertext(1), ctxA, b.load);
    now += 59_999;
    await cache.get(ciphertext(1), ctxA, b.load);
    assert.equal(b.handed.length, 1);
    now += 1;
    await cache.get(ciphertext(1), ctxA, b.load);
    assert.equal(b.handed.length, 2);
    assert.ok(isZero(b.handed[0] as Uint8Array), 'expired key buffer is zeroed');
    assert.ok(!isZero(b.handed[1] as Uint8Array));
  });

  it('zeroes expired keys on purge even when nobody asks for them again', async () => {
    let now = 0;
    const cache = new DataKeyCache({ ttlMs: 1000, now: () => now });
    const b = backend();
    await cache.get(ciphertext(1), ctxA, b.load);
    now = 5000;
    cache.purgeExpired();
    assert.ok(isZero(b.handed[0] as Uint8Array));
    assert.equal(cache.stats().size, 0);
  });

  it('evicts the least recently used key beyond maxEntries, zeroing it', async () => {
    const cache = new DataKeyCache({ maxEntries: 2 });
    const b = backend();
    await cache.get(ciphertext(1), ctxA, b.load); // handed[0]
    await cache.get(ciphertext(2), ctxA, b.load); // handed[1]
    await cache.get(ciphertext(1), ctxA, b.load); // 1 is now the most recent
    await cache.get(ciphertext(3), ctxA, b.load); // handed[2], evicts 2
    assert.equal(cache.stats().size, 2);
    assert.equal(cache.stats().evictions, 1);
    assert.ok(isZero(b.handed[1] as Uint8Array), 'evicted key buffer is zeroed');
    assert.ok(!isZero(b.handed[0] as Uint8Array));
    await cache.get(ciphertext(1), ctxA, b.load);
    assert.equal(b.handed.length, 3, 'key 1 survived');
    await cache.get(ciphertext(2), ctxA, b.load);
    assert.equal(b.handed.length, 4, 'key 2 was evicted');
  });

  it('clear() zeroes every key', async () => {
    const cache = new DataKeyCache();
    const b = backend();
    await cache.get(ciphertext(1), ctxA, b.load);
    await cache.get(ciphertext(2), ctxA, b.load);
    cache.clear();
    assert.ok(b.handed.every(isZero));
    assert.equal(cache.stats().size, 0);
  });

  it('shares one backend call among concurrent requests for the same key', async () => {
    const cache = new DataKeyCache();
    let calls = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const load = async () => {
      calls++;
      await gate;
      return key(8);
    };
    const pending = Array.from({ length: 25 }, () => cache.get(ciphertext(1), ctxA, load));
    release();
    const keys = await Promise.all(pending);
    assert.equal(calls, 1);
    for (const k of keys) assert.deepEqual(k, key(8));
    assert.equal(new Set(keys).size, 25, 'every caller owns its own copy');
    assert.deepEqual(cache.stats(), { hits: 24, misses: 1, evictions: 0, size: 1 });
  });

  it('does not cache a failure: every waiter sees it, the next request retries', async () => {
    const cache = new DataKeyCache();
    let calls = 0;
    const failing = async (): Promise<Uint8Array> => {
      calls++;
      throw new TransientError('throttled');
    };
    const results = await Promise.allSettled([
      cache.get(ciphertext(1), ctxA, failing),
      cache.get(ciphertext(1), ctxA, failing),
    ]);
    assert.equal(calls, 1);
    assert.ok(results.every((r) => r.status === 'rejected' && r.reason instanceof TransientError));
    assert.equal(cache.stats().size, 0);
    assert.deepEqual(await cache.get(ciphertext(1), ctxA, async () => key(4)), key(4));
  });

  it('caches a key that can never decrypt (poison) for negativeTtlMs: one backend call for many records', async () => {
    let now = 1_000_000;
    const cache = new DataKeyCache({ negativeTtlMs: 30_000, now: () => now });
    let calls = 0;
    const bad = async (): Promise<Uint8Array> => {
      calls++;
      throw new PoisonRecordError('key-decrypt-failed', 'did not decrypt');
    };
    for (let i = 0; i < 200; i++) {
      await assert.rejects(cache.get(ciphertext(9), ctxA, bad), (err: unknown) => err instanceof PoisonRecordError && err.reason === 'key-decrypt-failed');
    }
    assert.equal(calls, 1);
    assert.equal(cache.stats().hits, 199);
    // the same bytes under another context are another question
    await assert.rejects(cache.get(ciphertext(9), ctxB, bad), PoisonRecordError);
    assert.equal(calls, 2);
    now += 30_000;
    await assert.rejects(cache.get(ciphertext(9), ctxA, bad), PoisonRecordError);
    assert.equal(calls, 3, 'asked again once the negative entry expired');
    cache.clear();
    await assert.rejects(cache.get(ciphertext(9), ctxA, bad), PoisonRecordError);
    assert.equal(calls, 4, 'clear() forgets failures too');
  });

  it('does not cache configuration failures (access denied may be fixed at any moment)', async () => {
    const cache = new DataKeyCache();
    let calls = 0;
    const denied = async (): Promise<Uint8Array> => {
      calls++;
      throw new ConfigError('AccessDeniedException');
    };
    await assert.rejects(cache.get(ciphertext(1), ctxA, denied), ConfigError);
    await assert.rejects(cache.get(ciphertext(1), ctxA, denied), ConfigError);
    assert.equal(calls, 2);
  });

  it('refuses a nonsensical size', () => {
    assert.throws(() => new DataKeyCache({ maxEntries: -1 }), ConfigError);
  });
});

describe('KeyGuard: a wrong configuration is told apart from a damaged record', () => {
  const local = LocalKeyProvider.generate('guard-test');
  const good = (ctx = ctxA) => local.wrapDataKey(key(5), ctx);
  const damaged = (ctx = ctxA) => {
    const w = local.wrapDataKey(key(6), ctx);
    w[w.length - 1]! ^= 1;
    return w;
  };

  it('a key that does not decrypt before any has, under its context: DataKeyError never-decrypted, with the hint', async () => {
    const guard = new KeyGuard(local, { hint: 'pass --resource-id and --key-file' });
    await assert.rejects(guard.getDataKey(damaged(), ctxA), (err: unknown) => {
      assert.ok(err instanceof DataKeyError && err instanceof ConfigError);
      assert.equal(err.problem, 'never-decrypted');
      assert.equal(err.retryAfterInFlight, true);
      assert.match(err.message, /no data key has decrypted under encryption context \{"aws:rds:dbc-id":"cluster-AAAA"\}/);
      assert.match(err.message, /pass --resource-id and --key-file$/);
      return true;
    });
    // A key of the same context decrypts: from now on a failure is the record's (poison, quarantined).
    assert.deepEqual(await guard.getDataKey(good(), ctxA), key(5));
    await assert.rejects(guard.getDataKey(damaged(), ctxA), (err: unknown) => err instanceof PoisonRecordError && err.reason === 'key-decrypt-failed');
    // Each context is proven on its own.
    await assert.rejects(guard.getDataKey(damaged(ctxB), ctxB), (err: unknown) => err instanceof DataKeyError && err.problem === 'never-decrypted');
  });

  it('a configuration failure of the key service: never-decrypted before a success, stopped-decrypting after', async () => {
    let deny = true;
    const service: KeyProvider = {
      async getDataKey(c, ctx) {
        if (deny) throw new ConfigError('KMS Decrypt failed (AccessDeniedException): fix the permissions (kms:Decrypt)');
        return local.getDataKey(c, ctx);
      },
      stats: () => local.stats(),
    };
    const guard = KeyGuard.wrap(service);
    await assert.rejects(guard.getDataKey(good(), ctxA), (err: unknown) => err instanceof DataKeyError && err.problem === 'never-decrypted' && !err.retryAfterInFlight && /kms:Decrypt/.test(err.message));
    deny = false;
    await guard.getDataKey(good(), ctxA);
    deny = true;
    await assert.rejects(guard.getDataKey(good(), ctxA), (err: unknown) => err instanceof DataKeyError && err.problem === 'stopped-decrypting' && /decrypted under encryption context .* before/.test(err.message));
    assert.equal(KeyGuard.wrap(guard), guard, 'wrapping a guard again gives the same guard');
  });

  it('transient failures pass through untouched', async () => {
    const flaky: KeyProvider = {
      getDataKey: async () => {
        throw new TransientError('throttled');
      },
      stats: () => local.stats(),
    };
    await assert.rejects(new KeyGuard(flaky).getDataKey(good(), ctxA), (err: unknown) => err instanceof TransientError && !(err instanceof DataKeyError));
  });

  it('at(position) names the record, keeping the problem', () => {
    const err = new DataKeyError('never-decrypted', 'no data key has decrypted', { retryAfterInFlight: true });
    const placed = err.at('dump.jsonl:3');
    assert.equal(placed.message, 'dump.jsonl:3: no data key has decrypted');
    assert.equal(placed.problem, 'never-decrypted');
    assert.equal(placed.retryAfterInFlight, true);
  });
});
