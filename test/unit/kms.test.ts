/**
 * KmsKeyProvider against a loopback KMS speaking the real wire protocol, driven by the real KMSClient.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { KMSClientConfig } from '@aws-sdk/client-kms';
import { decodeRecord } from '../../src/codec/decode.js';
import { encodeRecord } from '../../src/codec/encode.js';
import { ConfigError, PoisonRecordError, TransientError } from '../../src/errors.js';
import { encryptionContextFor } from '../../src/keys/KeyProvider.js';
import { KmsKeyProvider } from '../../src/keys/KmsKeyProvider.js';
import { LocalKeyProvider } from '../../src/keys/LocalKeyProvider.js';
import { startKmsServer, type KmsServer } from '../support/kmsServer.js';
import { withEnv } from '../support/env.js';

const CLUSTER = 'cluster-ABCDEFGHIJKL';
const ctx = encryptionContextFor(CLUSTER);
const keys = LocalKeyProvider.generate('kms-test');
const dataKey = new Uint8Array(32).map((_, i) => i + 1);
const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };

let server: KmsServer;

function provider(extra: Partial<KMSClientConfig> = {}): KmsKeyProvider {
  return new KmsKeyProvider({
    clientConfig: { endpoint: server.url, region: 'us-east-1', credentials, maxAttempts: 1, ...extra },
  });
}

describe('KmsKeyProvider over a loopback KMS', () => {
  before(async () => {
    server = await startKmsServer({ keys });
  });
  after(() => server.close());
  let callsBefore = 0;
  beforeEach(() => {
    callsBefore = server.calls;
  });
  const callsSince = (): number => server.calls - callsBefore;

  it('decrypts the data key, sending the encryption context', async () => {
    const p = provider();
    const wrapped = keys.wrapDataKey(dataKey, ctx);
    assert.deepEqual(await p.getDataKey(wrapped, ctx), dataKey);
    const sent = server.requests.at(-1)!;
    assert.deepEqual(sent.encryptionContext, { 'aws:rds:dbc-id': CLUSTER });
    assert.equal(sent.ciphertextLength, wrapped.length);
    assert.equal(sent.keyId, undefined);
  });

  it('sends KeyId when configured', async () => {
    const p = new KmsKeyProvider({
      clientConfig: { endpoint: server.url, region: 'us-east-1', credentials, maxAttempts: 1 },
      keyId: 'alias/das',
    });
    await p.getDataKey(keys.wrapDataKey(dataKey, ctx), ctx);
    assert.equal(server.requests.at(-1)!.keyId, 'alias/das');
  });

  it('calls KMS once per data key, not once per record', async () => {
    const p = provider();
    const wrapped = keys.wrapDataKey(dataKey, ctx);
    for (let i = 0; i < 5; i++) assert.deepEqual(await p.getDataKey(wrapped, ctx), dataKey);
    assert.equal(callsSince(), 1);
    assert.deepEqual(p.stats(), { backendCalls: 1, cacheHits: 4, cacheMisses: 1 });
  });

  it('shares one KMS call among concurrent requests for the same ciphertext', async () => {
    const p = provider();
    const wrapped = keys.wrapDataKey(dataKey, ctx);
    const results = await Promise.all(Array.from({ length: 20 }, () => p.getDataKey(wrapped, ctx)));
    assert.equal(callsSince(), 1);
    for (const r of results) assert.deepEqual(r, dataKey);
  });

  it('a wrong context fails as PoisonRecordError naming the context tried; the failure is cached, the right context still works', async () => {
    const p = provider();
    const wrapped = keys.wrapDataKey(dataKey, ctx);
    const other = encryptionContextFor('cluster-OTHER');
    for (let i = 0; i < 2; i++) {
      await assert.rejects(p.getDataKey(wrapped, other), (err: unknown) => {
        assert.ok(err instanceof PoisonRecordError);
        assert.equal(err.reason, 'key-decrypt-failed');
        assert.match(err.message, /\{"aws:rds:dbc-id":"cluster-OTHER"\}/);
        assert.match(err.message, /InvalidCiphertextException/);
        return true;
      });
    }
    assert.equal(callsSince(), 1, 'the second request is answered by the negative cache');
    assert.deepEqual(await p.getDataKey(wrapped, ctx), dataKey);
    assert.equal(callsSince(), 2);
  });

  it('IncorrectKeyException (a pinned key id, the stream under another key) is the configuration, not the record', async () => {
    server.failNext(1, 'IncorrectKeyException');
    await assert.rejects(provider().getDataKey(keys.wrapDataKey(dataKey, ctx), ctx), (err: unknown) => {
      assert.ok(err instanceof ConfigError && !(err instanceof PoisonRecordError), String(err));
      assert.match(err.message, /another KMS key than the pinned one/);
      return true;
    });
  });

  for (const [type, status] of [
    ['ThrottlingException', 400],
    ['KMSInternalException', 500],
    ['LimitExceededException', 400],
    ['DependencyTimeoutException', 503],
    ['InternalFailure', 500],
    ['ServiceUnavailable', 503],
  ] as const) {
    it(`${type} (HTTP ${status}) -> TransientError, not cached`, async () => {
      const p = provider();
      const wrapped = keys.wrapDataKey(dataKey, ctx);
      server.failNext(1, type, status);
      await assert.rejects(p.getDataKey(wrapped, ctx), TransientError);
      assert.deepEqual(await p.getDataKey(wrapped, ctx), dataKey, 'the next attempt reaches KMS again');
      assert.equal(callsSince(), 2);
    });
  }

  it("the SDK's own retries ride out a short throttling burst", async () => {
    const p = provider({ maxAttempts: 3 });
    server.failNext(2, 'ThrottlingException');
    assert.deepEqual(await p.getDataKey(keys.wrapDataKey(dataKey, ctx), ctx), dataKey);
    assert.equal(callsSince(), 3);
    assert.equal(p.stats().backendCalls, 1);
  });

  for (const type of ['AccessDeniedException', 'NotFoundException', 'DisabledException', 'KMSInvalidStateException']) {
    it(`${type} -> ConfigError (stop: every record would fail)`, async () => {
      server.failNext(1, type);
      await assert.rejects(provider().getDataKey(keys.wrapDataKey(dataKey, ctx), ctx), (err: unknown) => {
        assert.ok(err instanceof ConfigError, String(err));
        assert.match(err.message, new RegExp(type));
        return true;
      });
    });
  }

  it('bad credentials (UnrecognizedClientException) -> ConfigError', async () => {
    server.failNext(1, 'UnrecognizedClientException');
    await assert.rejects(provider().getDataKey(keys.wrapDataKey(dataKey, ctx), ctx), ConfigError);
  });

  it('KMS unreachable -> TransientError', async () => {
    const down = await startKmsServer({ keys });
    const url = down.url;
    await down.close();
    const p = new KmsKeyProvider({ clientConfig: { endpoint: url, region: 'us-east-1', credentials, maxAttempts: 1 } });
    await assert.rejects(p.getDataKey(keys.wrapDataKey(dataKey, ctx), ctx), TransientError);
  });

  it('finds the endpoint, credentials and region in the standard environment variables', async () => {
    await withEnv(
      {
        AWS_ENDPOINT_URL_KMS: server.url,
        AWS_ACCESS_KEY_ID: credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
        AWS_SESSION_TOKEN: undefined,
        AWS_REGION: 'eu-west-1',
        AWS_PROFILE: undefined,
      },
      async () => {
        const p = new KmsKeyProvider();
        assert.deepEqual(await p.getDataKey(keys.wrapDataKey(dataKey, ctx), ctx), dataKey);
      },
    );
    assert.equal(callsSince(), 1);
  });

  it('no region anywhere -> ConfigError', async () => {
    await withEnv(
      {
        AWS_REGION: undefined,
        AWS_DEFAULT_REGION: undefined,
        AWS_PROFILE: undefined,
        AWS_CONFIG_FILE: '/nonexistent/dasguard-test-config',
        AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/dasguard-test-credentials',
      },
      async () => {
        const p = new KmsKeyProvider({ clientConfig: { endpoint: server.url, credentials } });
        await assert.rejects(p.getDataKey(keys.wrapDataKey(dataKey, ctx), ctx), (err: unknown) => {
          assert.ok(err instanceof ConfigError, String(err));
          assert.match(err.message, /Region is missing/);
          return true;
        });
      },
    );
  });

  it('200 records sharing one data key that does not decrypt: ONE KMS call, every record poison', async () => {
    const p = provider();
    const record = { clusterId: CLUSTER, instanceId: 'db-X', databaseActivityEventList: [{ type: 'record', serverType: 'PostgreSQL' }] };
    const wrapped = keys.wrapDataKey(dataKey, ctx);
    wrapped[wrapped.length - 1]! ^= 1; // damaged: KMS answers InvalidCiphertextException
    const wrapper = { wrapDataKey: () => wrapped };
    const one = await encodeRecord(record, { resourceId: CLUSTER, version: '1.1', wrapper, dataKey });
    let poison = 0;
    for (let i = 0; i < 200; i += 16) {
      // as replay and run decode them: several at a time
      const results = await Promise.allSettled(Array.from({ length: 16 }, () => decodeRecord(one, { keys: p, resourceId: CLUSTER })));
      for (const r of results) if (r.status === 'rejected' && r.reason instanceof PoisonRecordError && r.reason.reason === 'key-decrypt-failed') poison++;
    }
    assert.equal(poison, 208);
    assert.equal(callsSince(), 1);
  });

  it('decodes a stream of records with one KMS call per data key', async () => {
    const p = provider();
    const record = {
      clusterId: CLUSTER,
      instanceId: 'db-X',
      databaseActivityEventList: [{ type: 'record', serverType: 'PostgreSQL', command: 'SELECT' }],
    };
    // Aurora reuses one data key, and so one `key` ciphertext, across many records.
    const wrappedOnce = keys.wrapDataKey(dataKey, ctx);
    const wrapper = { wrapDataKey: () => wrappedOnce };
    const records = await Promise.all(
      Array.from({ length: 10 }, () => encodeRecord(record, { resourceId: CLUSTER, version: '1.1', wrapper, dataKey })),
    );
    const batches = await Promise.all(records.map((r) => decodeRecord(r, { keys: p, resourceId: CLUSTER })));
    assert.ok(batches.every((b) => b.events[0]!.sqlCommand === 'SELECT'));
    assert.equal(callsSince(), 1);
    await assert.rejects(
      decodeRecord(records[0]!, { keys: p, resourceId: 'cluster-WRONG' }),
      (err: unknown) => err instanceof PoisonRecordError && /cluster-WRONG/.test(err.message),
    );
  });
});
