/**
 * The RDS module against a loopback RDS speaking the real query protocol, driven by the real RDSClient.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  DescribeEventsCommand,
  paginateDescribeEvents,
  StartActivityStreamCommand,
  StopActivityStreamCommand,
  type Event as RdsEvent,
  type RDSClientConfig,
} from '@aws-sdk/client-rds';
import { createRdsClient, describeActivityStream } from '../../src/aws/rds.js';
import { ConfigError, TransientError } from '../../src/errors.js';
import { clusterModel, startRdsServer, type RdsServer } from '../support/rdsServer.js';
import { withEnv } from '../support/env.js';

const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const KMS_KEY = 'arn:aws:kms:us-east-1:111122223333:key/aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee';

let server: RdsServer;

function client(extra: Partial<RDSClientConfig> = {}) {
  return createRdsClient({ endpoint: server.url, region: 'us-east-1', credentials, maxAttempts: 1, ...extra });
}

describe('describeActivityStream over a loopback RDS', () => {
  before(async () => {
    server = await startRdsServer({
      clusters: [
        clusterModel({
          identifier: 'prod-pg',
          resourceId: 'cluster-PRODPG1234567890',
          activityStream: { status: 'started', mode: 'async', kmsKeyId: KMS_KEY },
        }),
        clusterModel({ identifier: 'dev-mysql', resourceId: 'cluster-DEVMYSQL12345678', engine: 'aurora-mysql' }),
      ],
    });
  });
  after(() => server.close());

  it('reports a started stream: name, status, mode, key, resource id, engine, arn', async () => {
    const info = await describeActivityStream(client(), 'prod-pg');
    assert.deepEqual(info, {
      clusterIdentifier: 'prod-pg',
      resourceId: 'cluster-PRODPG1234567890',
      streamName: 'aws-rds-das-cluster-PRODPG1234567890',
      status: 'started',
      mode: 'async',
      kmsKeyId: KMS_KEY,
      engine: 'aurora-postgresql',
      clusterArn: 'arn:aws:rds:us-east-1:111122223333:cluster:prod-pg',
    });
    assert.equal(server.calls.at(-1)!.action, 'DescribeDBClusters');
    assert.equal(server.calls.at(-1)!.params.DBClusterIdentifier, 'prod-pg');
  });

  it('reports a cluster without a stream as stopped, with nulls', async () => {
    const info = await describeActivityStream(client(), 'dev-mysql');
    assert.equal(info.status, 'stopped');
    assert.equal(info.streamName, null);
    assert.equal(info.mode, null);
    assert.equal(info.kmsKeyId, null);
    assert.equal(info.engine, 'aurora-mysql');
    assert.equal(info.resourceId, 'cluster-DEVMYSQL12345678');
  });

  it('a missing cluster -> ConfigError naming it', async () => {
    await assert.rejects(describeActivityStream(client(), 'no-such-cluster'), (err: unknown) => {
      assert.ok(err instanceof ConfigError, String(err));
      assert.match(err.message, /"no-such-cluster"/);
      assert.match(err.message, /DBClusterNotFoundFault/);
      return true;
    });
  });

  it('throttling and 5xx -> TransientError; access denied -> ConfigError', async () => {
    server.failNext(1, 'Throttling', 400);
    await assert.rejects(describeActivityStream(client(), 'prod-pg'), TransientError);
    server.failNext(1, 'InternalFailure', 500);
    await assert.rejects(describeActivityStream(client(), 'prod-pg'), TransientError);
    server.failNext(1, 'AccessDenied', 403);
    await assert.rejects(describeActivityStream(client(), 'prod-pg'), (err: unknown) => {
      assert.ok(err instanceof ConfigError, String(err));
      assert.match(err.message, /AccessDenied/);
      return true;
    });
  });

  it('the SDK retries throttling itself: one fault under maxAttempts 3 succeeds', async () => {
    const before = server.calls.length;
    server.failNext(1, 'Throttling', 400);
    const info = await describeActivityStream(client({ maxAttempts: 3 }), 'prod-pg');
    assert.equal(info.status, 'started');
    assert.equal(server.calls.length - before, 2);
  });

  it('RDS unreachable -> TransientError', async () => {
    const down = await startRdsServer();
    const url = down.url;
    await down.close();
    await assert.rejects(describeActivityStream(client({ endpoint: url }), 'prod-pg'), TransientError);
  });

  it('finds the endpoint in AWS_ENDPOINT_URL_RDS (standard SDK configuration)', async () => {
    const before = server.calls.length;
    await withEnv(
      {
        AWS_ENDPOINT_URL_RDS: server.url,
        AWS_ACCESS_KEY_ID: credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
        AWS_SESSION_TOKEN: undefined,
        AWS_REGION: 'eu-west-1',
        AWS_PROFILE: undefined,
      },
      async () => {
        const info = await describeActivityStream(createRdsClient(), 'prod-pg');
        assert.equal(info.status, 'started');
      },
    );
    assert.equal(server.calls.length - before, 1);
  });

  it('StartActivityStream -> starting, then started; a second start fails; stop -> stopped', async () => {
    const c = client();
    const arn = server.clusters.get('dev-mysql')!.arn;
    const started = await c.send(
      new StartActivityStreamCommand({ ResourceArn: arn, Mode: 'async', KmsKeyId: KMS_KEY, ApplyImmediately: true }),
    );
    assert.equal(started.Status, 'starting');
    assert.equal(started.KinesisStreamName, 'aws-rds-das-cluster-DEVMYSQL12345678');
    assert.equal(started.Mode, 'async');
    assert.equal(started.ApplyImmediately, true);

    const info = await describeActivityStream(c, 'dev-mysql');
    assert.equal(info.status, 'started');
    assert.equal(info.streamName, 'aws-rds-das-cluster-DEVMYSQL12345678');
    assert.equal(info.kmsKeyId, KMS_KEY);

    await assert.rejects(
      c.send(new StartActivityStreamCommand({ ResourceArn: arn, Mode: 'sync', KmsKeyId: KMS_KEY })),
      (err: unknown) => (err as Error).name === 'InvalidDBClusterStateFault',
    );

    const stopped = await c.send(new StopActivityStreamCommand({ ResourceArn: arn, ApplyImmediately: true }));
    assert.equal(stopped.Status, 'stopping');
    assert.equal((await describeActivityStream(c, 'dev-mysql')).status, 'stopped');

    const events = await c.send(
      new DescribeEventsCommand({ SourceType: 'db-cluster', SourceIdentifier: 'dev-mysql', Duration: 60 }),
    );
    assert.deepEqual(
      events.Events?.map((e) => e.Message),
      [
        'Database Activity Streams is started on your database cluster.',
        'Database Activity Streams is stopped on your database cluster.',
      ],
    );
  });
});

describe('DescribeEvents over a loopback RDS', () => {
  let events: RdsServer;
  const t0 = Date.parse('2024-05-01T10:00:00Z');
  before(async () => {
    events = await startRdsServer({ now: () => t0 + 3_600_000, activityStreamEvents: false });
    for (let i = 0; i < 45; i++) {
      events.addEvent({
        sourceIdentifier: i % 3 === 0 ? 'other' : 'prod-pg',
        message: `event ${i}`,
        eventCategories: i % 2 === 0 ? ['configuration change'] : ['notification'],
        date: new Date(t0 + i * 60_000),
      });
    }
    // Late, out-of-order delivery and a duplicate: returned as delivered.
    events.addEvent({ sourceIdentifier: 'prod-pg', message: 'late', date: new Date(t0 + 60_000) });
    events.addEvent({ sourceIdentifier: 'prod-pg', message: 'event 1', date: new Date(t0 + 60_000) });
  });
  after(() => events.close());

  const rds = () =>
    createRdsClient({ endpoint: events.url, region: 'us-east-1', credentials, maxAttempts: 1 });

  it('pages through every matching event with Marker/MaxRecords, with the SDK paginator', async () => {
    const seen: RdsEvent[] = [];
    const pages = paginateDescribeEvents(
      { client: rds(), pageSize: 20 },
      { SourceType: 'db-cluster', SourceIdentifier: 'prod-pg', StartTime: new Date(t0), EndTime: new Date(t0 + 3_600_000) },
    );
    let pageCount = 0;
    for await (const page of pages) {
      pageCount++;
      seen.push(...(page.Events ?? []));
    }
    assert.equal(pageCount, 2);
    assert.equal(seen.length, 32);
    assert.deepEqual(seen.slice(-2).map((e) => e.Message), ['late', 'event 1']);
    const first = seen[0]!;
    assert.equal(first.SourceIdentifier, 'prod-pg');
    assert.equal(first.SourceType, 'db-cluster');
    assert.deepEqual(first.EventCategories, ['notification']);
    assert.ok(first.Date instanceof Date);
    assert.equal(first.Date.toISOString(), '2024-05-01T10:01:00.000Z');
    assert.equal(first.SourceArn, 'arn:aws:rds:us-east-1:111122223333:cluster:prod-pg');
  });

  it('filters by time window, Duration and EventCategories', async () => {
    const c = rds();
    const window = await c.send(
      new DescribeEventsCommand({
        SourceType: 'db-cluster',
        SourceIdentifier: 'prod-pg',
        StartTime: new Date(t0 + 10 * 60_000),
        EndTime: new Date(t0 + 14 * 60_000),
      }),
    );
    assert.deepEqual(window.Events?.map((e) => e.Message), ['event 10', 'event 11', 'event 13', 'event 14']);

    // Duration: the last N minutes before now (t0 + 60 min).
    const recent = await c.send(new DescribeEventsCommand({ SourceType: 'db-cluster', Duration: 16 }));
    assert.deepEqual(recent.Events?.map((e) => e.Message), ['event 44']);

    const categories = await c.send(
      new DescribeEventsCommand({
        SourceType: 'db-cluster',
        SourceIdentifier: 'prod-pg',
        StartTime: new Date(t0),
        EndTime: new Date(t0 + 5 * 60_000),
        EventCategories: ['configuration change'],
      }),
    );
    assert.deepEqual(categories.Events?.map((e) => e.Message), ['event 2', 'event 4']);
    const sent = events.calls.at(-1)!.params;
    assert.equal(sent['EventCategories.EventCategory.1'], 'configuration change');
  });

  it('invalid parameters come back as the SDK error RDS would raise', async () => {
    await assert.rejects(
      rds().send(new DescribeEventsCommand({ SourceIdentifier: 'prod-pg' })),
      (err: unknown) => (err as Error).name === 'InvalidParameterCombination',
    );
  });
});
