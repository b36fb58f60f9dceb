import assert from 'node:assert/strict';
import { deflateRawSync, gzipSync } from 'node:zlib';
import { describe, it } from 'node:test';
import { decodeRecord } from '../../src/codec/decode.js';
import { encodeRecord, plaintextEnvelope, type ActivityRecordInput } from '../../src/codec/encode.js';
import { encryptPayload } from '../../src/codec/payload.js';
import { ConfigError, DataKeyError, PoisonRecordError, TransientError, type PoisonReason } from '../../src/errors.js';
import { encryptionContextFor, type KeyProvider } from '../../src/keys/KeyProvider.js';
import { LocalKeyProvider } from '../../src/keys/LocalKeyProvider.js';
import type { EncryptionContext } from '../../src/types.js';

// ---- The docs' sample records (seed 004: "Examples of database activity streams audit log"), verbatim. ----

const PG_CONNECT_DOC = {
  type: 'DatabaseActivityMonitoringRecords',
  version: '1.1',
  databaseActivityEvents: {
    type: 'DatabaseActivityMonitoringRecord',
    clusterId: 'cluster-4HNY5V4RRNPKKYB7ICFKE5JBQQ',
    instanceId: 'db-FZJTMYKCXQBUUZ6VLU7NW3ITCM',
    databaseActivityEventList: [
      {
        startTime: '2019-10-30 00:39:49.940668+00',
        logTime: '2019-10-30 00:39:49.990579+00',
        statementId: 1,
        substatementId: 1,
        objectType: null,
        command: 'CONNECT',
        objectName: null,
        databaseName: 'postgres',
        dbUserName: 'rdsadmin',
        remoteHost: '172.31.3.195',
        remotePort: '49804',
        sessionId: '5ce5f7f0.474b',
        rowCount: null,
        commandText: null,
        paramList: [],
        pid: 18251,
        clientApplication: 'psql',
        exitCode: null,
        class: 'MISC',
        serverVersion: '2.3.1',
        serverType: 'PostgreSQL',
        serviceName: 'Amazon Aurora PostgreSQL-Compatible edition',
        serverHost: '172.31.3.192',
        netProtocol: 'TCP',
        dbProtocol: 'Postgres 3.0',
        type: 'record',
        errorMessage: null,
      },
    ],
  },
  key: 'decryption-key',
};

const PG_SELECT_EVENT = {
  startTime: '2019-05-24 00:39:49.920564+00',
  logTime: '2019-05-24 00:39:49.940668+00',
  statementId: 6,
  substatementId: 1,
  objectType: 'TABLE',
  command: 'SELECT',
  objectName: 'public.my_table',
  databaseName: 'postgres',
  dbUserName: 'rdsadmin',
  remoteHost: '172.31.3.195',
  remotePort: '34534',
  sessionId: '5ce73c6f.7e64',
  rowCount: 10,
  commandText: 'select * from my_table;',
  paramList: [],
  pid: 32356,
  clientApplication: 'psql',
  exitCode: null,
  class: 'READ',
  serverVersion: '2.3.1',
  serverType: 'PostgreSQL',
  serviceName: 'Amazon Aurora PostgreSQL-Compatible edition',
  serverHost: '172.31.3.192',
  netProtocol: 'TCP',
  dbProtocol: 'Postgres 3.0',
  type: 'record',
  errorMessage: null,
};

const MYSQL_CREATE_MAIN = {
  logTime: '2020-05-22 18:07:12.250221+00',
  type: 'record',
  clientApplication: null,
  pid: 2830,
  dbUserName: 'master',
  databaseName: 'test',
  remoteHost: 'localhost',
  remotePort: '11054',
  command: 'QUERY',
  commandText: 'CREATE TABLE test1 (id INT)',
  paramList: null,
  objectType: 'TABLE',
  objectName: 'test1',
  statementId: 65459278,
  substatementId: 1,
  exitCode: '0',
  sessionId: '725118',
  rowCount: 0,
  serverHost: 'master',
  serverType: 'MySQL',
  serviceName: 'Amazon Aurora MySQL',
  serverVersion: 'MySQL 5.7.12',
  startTime: '2020-05-22 18:07:12.226384+00',
  endTime: '2020-05-22 18:07:12.250222+00',
  transactionId: '0',
  dbProtocol: 'MySQL',
  netProtocol: 'TCP',
  errorMessage: '',
  class: 'MAIN',
};

const MYSQL_CREATE_AUX = {
  ...MYSQL_CREATE_MAIN,
  logTime: '2020-05-22 18:07:12.247182+00',
  command: 'CREATE',
  commandText: 'test1',
  substatementId: 2,
  exitCode: '',
  endTime: '2020-05-22 18:07:12.247182+00',
  class: 'AUX',
};

const MYSQL_BARE_DOC = {
  type: 'DatabaseActivityMonitoringRecord',
  clusterId: 'cluster-some_id',
  instanceId: 'db-some_id',
  databaseActivityEventList: [MYSQL_CREATE_MAIN, MYSQL_CREATE_AUX],
};

// ---- helpers ----

const keys = LocalKeyProvider.generate('dasguard-demo');
const CLUSTER = 'cluster-4HNY5V4RRNPKKYB7ICFKE5JBQQ';

const pgRecord: ActivityRecordInput = {
  clusterId: CLUSTER,
  instanceId: 'db-FZJTMYKCXQBUUZ6VLU7NW3ITCM',
  databaseActivityEventList: [PG_CONNECT_DOC.databaseActivityEvents.databaseActivityEventList[0], PG_SELECT_EVENT],
};

function bytes(v: unknown): Uint8Array {
  return new Uint8Array(Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)));
}

function parse(data: Uint8Array): Record<string, unknown> {
  return JSON.parse(Buffer.from(data).toString('utf8')) as Record<string, unknown>;
}

/** An envelope whose payload is exactly `plaintext` (before encryption), for building broken records. */
async function envelopeWithPayload(plaintext: Uint8Array, resourceId = CLUSTER): Promise<Uint8Array> {
  const dataKey = new Uint8Array(32).fill(3);
  const message = await encryptPayload(plaintext, dataKey);
  const wrapped = keys.wrapDataKey(dataKey, encryptionContextFor(resourceId));
  return bytes({
    type: 'DatabaseActivityMonitoringRecords',
    version: '1.1',
    databaseActivityEvents: Buffer.from(message).toString('base64'),
    key: Buffer.from(wrapped).toString('base64'),
  });
}

async function rejectsWith(
  p: Promise<unknown>,
  reason: PoisonReason,
  message?: RegExp,
): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof PoisonRecordError, `expected PoisonRecordError, got ${String(err)}`);
    assert.equal(err.reason, reason, err.message);
    if (message !== undefined) assert.match(err.message, message);
    return true;
  });
}

/** A KeyProvider that remembers what it was asked and what it handed out. */
function spying(inner: KeyProvider) {
  const contexts: EncryptionContext[] = [];
  const handed: Uint8Array[] = [];
  const provider: KeyProvider = {
    async getDataKey(c, context) {
      contexts.push(context);
      const k = await inner.getDataKey(c, context);
      handed.push(k);
      return k;
    },
    stats: () => inner.stats(),
  };
  return { provider, contexts, handed };
}

// ---- tests ----

describe('decodeRecord: the docs sample records', () => {
  it('decodes the PostgreSQL envelope keeping every field', async () => {
    const batch = await decodeRecord(PG_CONNECT_DOC, {});
    assert.equal(batch.encrypted, false);
    assert.equal(batch.version, '1.1');
    assert.equal(batch.clusterId, CLUSTER);
    assert.equal(batch.instanceId, 'db-FZJTMYKCXQBUUZ6VLU7NW3ITCM');
    assert.deepEqual(batch.warnings, []);
    assert.equal(batch.events.length, 1);
    const ev = batch.events[0]!;
    const raw = PG_CONNECT_DOC.databaseActivityEvents.databaseActivityEventList[0]!;
    for (const [k, v] of Object.entries(raw)) assert.deepEqual(ev[k], v, `field ${k}`);
    assert.equal(ev.engine, 'postgresql');
    assert.equal(ev.recordVersion, '1.1');
    assert.equal(ev.clusterId, CLUSTER);
    assert.equal(ev.sqlCommand, 'CONNECT');
    assert.equal(ev.logTimeMs, Date.UTC(2019, 9, 30, 0, 39, 49, 990));
    assert.equal(ev.startTimeMs, Date.UTC(2019, 9, 30, 0, 39, 49, 940));
    assert.equal(ev.rows, null);
  });

  it('decodes the same envelope given as bytes', async () => {
    const batch = await decodeRecord(bytes(PG_CONNECT_DOC), {});
    assert.deepEqual(batch, await decodeRecord(PG_CONNECT_DOC, {}));
  });

  it('decodes an envelope whose databaseActivityEvents is a JSON string', async () => {
    const doc = { ...PG_CONNECT_DOC, databaseActivityEvents: JSON.stringify(PG_CONNECT_DOC.databaseActivityEvents) };
    const batch = await decodeRecord(bytes(doc), {});
    assert.deepEqual(batch.events, (await decodeRecord(PG_CONNECT_DOC, {})).events);
  });

  it('leaves a record given as an object as it was: its events are copies (bytes are parsed into events of its own)', async () => {
    for (const doc of [PG_CONNECT_DOC, MYSQL_BARE_DOC] as Record<string, unknown>[]) {
      const before = JSON.stringify(doc);
      const fromObject = await decodeRecord(doc, {});
      assert.equal(JSON.stringify(doc), before);
      assert.deepEqual(fromObject, await decodeRecord(bytes(doc), {}));
      assert.deepEqual(await decodeRecord(doc, {}), fromObject, 'decoded again, the same');
    }
  });

  it('decodes the bare MySQL record (MAIN + AUX) keeping every field', async () => {
    const batch = await decodeRecord(bytes(MYSQL_BARE_DOC), {});
    assert.equal(batch.version, null);
    assert.equal(batch.clusterId, 'cluster-some_id');
    assert.equal(batch.events.length, 2);
    const [main, aux] = batch.events;
    for (const [k, v] of Object.entries(MYSQL_CREATE_MAIN)) assert.deepEqual(main![k], v, `MAIN field ${k}`);
    for (const [k, v] of Object.entries(MYSQL_CREATE_AUX)) assert.deepEqual(aux![k], v, `AUX field ${k}`);
    assert.equal(main!.engine, 'mysql');
    assert.equal(main!.sqlCommand, 'CREATE TABLE');
    assert.equal(aux!.sqlCommand, null);
    assert.equal(main!.rows, 0);
    assert.equal(main!.endTimeMs, Date.UTC(2020, 4, 22, 18, 7, 12, 250));
    assert.equal(main!.recordVersion, null);
  });
});

describe('encodeRecord -> decodeRecord', () => {
  it('round-trips through the local key provider, like Aurora records', async () => {
    const data = await encodeRecord(pgRecord, { resourceId: CLUSTER, version: '1.1', wrapper: keys });
    const envelope = parse(data);
    assert.deepEqual(Object.keys(envelope), ['type', 'version', 'databaseActivityEvents', 'key']);
    assert.equal(envelope.type, 'DatabaseActivityMonitoringRecords');
    assert.match(String(envelope.databaseActivityEvents), /^[A-Za-z0-9+/]+={0,2}$/);
    assert.match(String(envelope.key), /^[A-Za-z0-9+/]+={0,2}$/);
    assert.ok(!Buffer.from(data).toString().includes('rdsadmin'), 'payload is not in clear');

    const batch = await decodeRecord(data, { keys, resourceId: CLUSTER });
    assert.equal(batch.encrypted, true);
    assert.equal(batch.events.length, 2);
    assert.equal(batch.events[1]!.sqlCommand, 'SELECT');
    assert.equal(batch.events[1]!.rows, 10);
  });

  it('decodes the plaintext twin to the same events', async () => {
    const data = await encodeRecord(pgRecord, { resourceId: CLUSTER, version: '1.1', wrapper: keys });
    const encrypted = await decodeRecord(data, { keys, resourceId: CLUSTER });
    const twin = plaintextEnvelope(pgRecord, '1.1');
    assert.equal(twin.key, 'decryption-key');
    const plain = await decodeRecord(twin, {});
    assert.equal(plain.encrypted, false);
    assert.deepEqual(plain.events, encrypted.events);
    assert.deepEqual({ ...plain, encrypted: true }, encrypted);
  });

  it('keeps an unknown field through encryption', async () => {
    const record = { ...pgRecord, databaseActivityEventList: [{ ...PG_SELECT_EVENT, brandNewField: { a: [1] } }] };
    const data = await encodeRecord(record, { resourceId: CLUSTER, version: '1.1', wrapper: keys });
    const batch = await decodeRecord(data, { keys, resourceId: CLUSTER });
    assert.deepEqual(batch.events[0]!.brandNewField, { a: [1] });
  });

  it('uses a given data key without modifying it', async () => {
    const dataKey = new Uint8Array(32).fill(9);
    const data = await encodeRecord(pgRecord, { resourceId: CLUSTER, version: '1.1', wrapper: keys, dataKey });
    assert.deepEqual(dataKey, new Uint8Array(32).fill(9));
    const spy = spying(keys);
    await decodeRecord(data, { keys: spy.provider, resourceId: CLUSTER });
    assert.equal(spy.handed.length, 1);
  });

  it('refuses the record of cluster A decoded with the resource id of cluster B, naming the context', async () => {
    const data = await encodeRecord(pgRecord, { resourceId: 'cluster-AAAA', version: '1.1', wrapper: keys });
    await rejectsWith(
      decodeRecord(data, { keys, resourceId: 'cluster-BBBB' }),
      'key-decrypt-failed',
      /\{"aws:rds:dbc-id":"cluster-BBBB"\}/,
    );
  });

  it('asks for an instance stream key under aws:rds:db-id', async () => {
    const data = await encodeRecord(pgRecord, { resourceId: 'db-INST', version: '1.1', wrapper: keys });
    const spy = spying(keys);
    const batch = await decodeRecord(data, { keys: spy.provider, resourceId: 'db-INST' });
    assert.equal(batch.events.length, 2);
    assert.deepEqual(spy.contexts, [{ 'aws:rds:db-id': 'db-INST' }]);
    await rejectsWith(decodeRecord(data, { keys, resourceId: 'cluster-INST' }), 'key-decrypt-failed', /dbc-id/);
  });

  it('zeroes the data key after use, even when the payload fails', async () => {
    const good = await encodeRecord(pgRecord, { resourceId: CLUSTER, version: '1.1', wrapper: keys });
    const bad = parse(good);
    const payload = Buffer.from(String(bad.databaseActivityEvents), 'base64');
    payload[payload.length - 10]! ^= 1;
    bad.databaseActivityEvents = payload.toString('base64');
    const spy = spying(keys);
    await decodeRecord(good, { keys: spy.provider, resourceId: CLUSTER });
    await rejectsWith(decodeRecord(bytes(bad), { keys: spy.provider, resourceId: CLUSTER }), 'payload-decrypt-failed');
    assert.equal(spy.handed.length, 2);
    for (const k of spy.handed) assert.ok(k.every((b) => b === 0), 'data key zeroed');
  });
});

describe('decodeRecord: bad records are poison, with a reason', () => {
  const ctx = { keys, resourceId: CLUSTER };
  let good: Record<string, unknown>;
  const goodEnvelope = async (): Promise<Record<string, unknown>> =>
    (good ??= parse(await encodeRecord(pgRecord, { resourceId: CLUSTER, version: '1.1', wrapper: keys })));

  it('not JSON, without quoting the record (it can be plaintext audit data)', async () => {
    await rejectsWith(decodeRecord(bytes('hello secret'), ctx), 'not-json', /^record is not JSON \(Unexpected token \(not valid JSON\); 12 bytes\)$/);
    await rejectsWith(decodeRecord(bytes('{"commandText": "pw hunter2" x}'), ctx), 'not-json', /not JSON/);
    await assert.rejects(decodeRecord(bytes('{"commandText": "pw hunter2" x}'), ctx), (err: Error) => {
      assert.ok(!err.message.includes('hunter2'), err.message);
      return true;
    });
  });
  it('empty record', () => rejectsWith(decodeRecord(new Uint8Array(0), ctx), 'not-json', /empty/));
  it('a JSON array', () => rejectsWith(decodeRecord(bytes([1]), ctx), 'bad-envelope', /array/));
  it('a JSON string', () => rejectsWith(decodeRecord(bytes('"x"'), ctx), 'bad-envelope'));
  it('another JSON document', () =>
    rejectsWith(decodeRecord(bytes({ type: 'Other' }), ctx), 'bad-envelope', /"Other"/));
  it('no type', () => rejectsWith(decodeRecord(bytes({ version: '1.1' }), ctx), 'bad-envelope', /no "type"/));

  for (const field of ['version', 'databaseActivityEvents', 'key']) {
    it(`missing ${field}`, async () => {
      const env = { ...(await goodEnvelope()) };
      delete env[field];
      await rejectsWith(decodeRecord(bytes(env), ctx), 'bad-envelope', new RegExp(field === 'key' ? '"key"' : field));
    });
  }

  it('databaseActivityEvents of the wrong type', async () =>
    rejectsWith(decodeRecord(bytes({ ...(await goodEnvelope()), databaseActivityEvents: 12 }), ctx), 'bad-envelope'));

  const notBase64: [string, string][] = [
    ['illegal characters', 'abc$def='],
    ['url-safe alphabet', 'ab-_'],
    ['bad length', 'abcde'],
    ['embedded newline', 'abcd\nabcd'],
    ['misplaced padding', 'ab=c'],
  ];
  for (const [name, value] of notBase64) {
    it(`databaseActivityEvents not base64 (${name})`, async () =>
      rejectsWith(
        decodeRecord(bytes({ ...(await goodEnvelope()), databaseActivityEvents: value }), ctx),
        'bad-base64',
        /databaseActivityEvents.*not valid base64/,
      ));
  }
  it('key not base64', async () =>
    rejectsWith(decodeRecord(bytes({ ...(await goodEnvelope()), key: 'k*y' }), ctx), 'bad-base64', /"key"/));

  it('tampered payload', async () => {
    const env = { ...(await goodEnvelope()) };
    const payload = Buffer.from(String(env.databaseActivityEvents), 'base64');
    payload[Math.floor(payload.length / 2)]! ^= 0x40;
    env.databaseActivityEvents = payload.toString('base64');
    await rejectsWith(decodeRecord(bytes(env), ctx), 'payload-decrypt-failed');
  });

  it('payload not an Encryption SDK message', async () => {
    const env = { ...(await goodEnvelope()), databaseActivityEvents: Buffer.from('plain text').toString('base64') };
    await rejectsWith(decodeRecord(bytes(env), ctx), 'payload-decrypt-failed');
  });

  it('payload compressed with raw deflate, not gzip', async () => {
    const data = await envelopeWithPayload(deflateRawSync(JSON.stringify(MYSQL_BARE_DOC)));
    await rejectsWith(decodeRecord(data, ctx), 'not-gzip', /not gzip/);
  });

  it('payload not compressed at all', async () => {
    const data = await envelopeWithPayload(bytes(MYSQL_BARE_DOC));
    await rejectsWith(decodeRecord(data, ctx), 'not-gzip', /0x7b22/);
  });

  it('payload truncated gzip', async () => {
    const gz = gzipSync(JSON.stringify(MYSQL_BARE_DOC));
    const data = await envelopeWithPayload(gz.subarray(0, gz.length - 12));
    await rejectsWith(decodeRecord(data, ctx), 'not-gzip', /corrupt gzip/);
  });

  it('payload not JSON', async () => {
    const data = await envelopeWithPayload(gzipSync('this is not json'));
    await rejectsWith(decodeRecord(data, ctx), 'payload-not-json');
  });

  it('payload not JSON: the error never quotes the decrypted text (it reaches logs and quarantine files)', async () => {
    for (const text of ['{"commandText": "ALTER USER x PASSWORD SECRET-PAYLOAD-1234"', 'SECRET-PAYLOAD-1234 {}', '{"a": SECRET-PAYLOAD-1234}']) {
      const data = await envelopeWithPayload(gzipSync(text));
      await assert.rejects(decodeRecord(data, ctx), (err: unknown) => {
        assert.ok(err instanceof PoisonRecordError);
        assert.equal(err.reason, 'payload-not-json');
        assert.doesNotMatch(err.message, /SECRET|PASSWORD|commandText/);
        assert.equal(err.cause, undefined, 'no cause carrying the parser message');
        assert.match(err.message, /decrypted payload is not JSON \((invalid JSON at byte \d+|truncated JSON|invalid JSON) of \d+\)/);
        return true;
      });
    }
  });

  it('payload JSON without an event list', async () => {
    const data = await envelopeWithPayload(gzipSync(JSON.stringify({ type: 'DatabaseActivityMonitoringRecord' })));
    await rejectsWith(decodeRecord(data, ctx), 'bad-payload', /databaseActivityEventList/);
  });

  it('payload a JSON array', async () => {
    const data = await envelopeWithPayload(gzipSync('[1,2]'));
    await rejectsWith(decodeRecord(data, ctx), 'bad-payload', /array/);
  });

});

describe('decodeRecord: configuration and outside failures', () => {
  it('encrypted record but no resource id -> DataKeyError telling the user to pass --resource-id', async () => {
    await assert.rejects(
      decodeRecord(await encodeRecord(pgRecord, { resourceId: CLUSTER, version: '1.1', wrapper: keys }), { keys }),
      (err: unknown) => err instanceof DataKeyError && err.problem === 'no-resource-id' && /pass --resource-id/.test(err.message),
    );
  });

  it('encrypted record but no key source -> ConfigError', async () => {
    const data = await encodeRecord(pgRecord, { resourceId: CLUSTER, version: '1.1', wrapper: keys });
    await assert.rejects(
      decodeRecord(data, { resourceId: CLUSTER }),
      (err: unknown) => err instanceof ConfigError && /pass --key-file or configure AWS credentials/.test(err.message),
    );
  });

  it('a resource id that is neither cluster- nor db- -> ConfigError', async () => {
    const data = await encodeRecord(pgRecord, { resourceId: CLUSTER, version: '1.1', wrapper: keys });
    await assert.rejects(decodeRecord(data, { keys, resourceId: 'my-cluster-name' }), ConfigError);
  });

  it('passes TransientError and ConfigError from the key provider through untouched', async () => {
    const data = await encodeRecord(pgRecord, { resourceId: CLUSTER, version: '1.1', wrapper: keys });
    for (const thrown of [new TransientError('throttled'), new ConfigError('access denied')]) {
      const failing: KeyProvider = {
        getDataKey: async () => {
          throw thrown;
        },
        stats: () => ({ backendCalls: 0, cacheHits: 0, cacheMisses: 0 }),
      };
      await assert.rejects(decodeRecord(data, { keys: failing, resourceId: CLUSTER }), (err) => err === thrown);
    }
  });
});

describe('decodeRecord: odd but usable records', () => {
  it('decodes an unknown version best-effort, with a warning', async () => {
    const data = await encodeRecord(pgRecord, { resourceId: CLUSTER, version: '2.0', wrapper: keys });
    const batch = await decodeRecord(data, { keys, resourceId: CLUSTER });
    assert.equal(batch.events.length, 2);
    assert.equal(batch.version, '2.0');
    assert.equal(batch.warnings.length, 1);
    assert.match(batch.warnings[0]!, /unknown DAS record version "2\.0"/);
    assert.equal(batch.events[0]!.engine, 'postgresql', 'engine still from serverType');
  });

  it('rejects events of unexpected types one by one, keeps the rest, sets heartbeats apart', async () => {
    const record: ActivityRecordInput = {
      ...pgRecord,
      databaseActivityEventList: [
        PG_SELECT_EVENT,
        42,
        null,
        { type: 'heartbeat', logTime: '2019-05-24 00:40:00.000000+00' },
        { ...PG_SELECT_EVENT, type: 'weird' },
        'record',
        { ...PG_SELECT_EVENT, statementId: 7 },
      ],
    };
    const data = await encodeRecord(record, { resourceId: CLUSTER, version: '1.1', wrapper: keys });
    const batch = await decodeRecord(data, { keys, resourceId: CLUSTER });
    assert.deepEqual(
      batch.events.map((e) => e.statementId),
      [6, 7],
    );
    assert.equal(batch.heartbeats.length, 1);
    assert.equal(batch.heartbeats[0]!.logTimeMs, Date.UTC(2019, 4, 24, 0, 40));
    assert.deepEqual(
      batch.rejected.map((r) => r.index),
      [1, 2, 4, 5],
    );
    assert.match(batch.rejected[2]!.reason, /unknown type "weird"/);
  });

  it('decodes a batch of heartbeats only', async () => {
    const batch = await decodeRecord(
      { ...MYSQL_BARE_DOC, databaseActivityEventList: [{ type: 'heartbeat' }, { type: 'heartbeat' }] },
      {},
    );
    assert.equal(batch.events.length, 0);
    assert.equal(batch.heartbeats.length, 2);
    assert.equal(batch.heartbeats[0]!.logTimeMs, null);
  });
});
