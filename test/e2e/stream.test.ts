/**
 * `dasguard stream start|stop` through the CLI against a loopback RDS (real RDSClient via AWS_ENDPOINT_URL_RDS):
 * the documented rules are checked BEFORE RDS is asked; stopping needs a confirmation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { streamStopCommand } from '../../src/commands/stream.js';
import { exitCodeOf } from '../../src/errors.js';
import { runCli } from '../support/cli.js';
import { clusterModel, startRdsServer, type RdsServer } from '../support/rdsServer.js';

async function withRds(t: { after: (fn: () => Promise<void>) => void }): Promise<RdsServer> {
  const server = await startRdsServer({
    clusters: [
      clusterModel({ identifier: 'pg', engine: 'aurora-postgresql' }),
      clusterModel({ identifier: 'my', engine: 'aurora-mysql' }),
      clusterModel({ identifier: 'live', activityStream: { status: 'started', mode: 'async' } }),
    ],
  });
  const saved = { ...process.env };
  Object.assign(process.env, {
    AWS_ENDPOINT_URL_RDS: server.url,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'AKIDTEST',
    AWS_SECRET_ACCESS_KEY: 'secret',
    AWS_MAX_ATTEMPTS: '1',
  });
  delete process.env.AWS_PROFILE;
  delete process.env.AWS_SESSION_TOKEN;
  t.after(async () => {
    process.env = saved;
    await server.close();
  });
  return server;
}

const mutations = (s: RdsServer) => s.calls.filter((c) => c.action === 'StartActivityStream' || c.action === 'StopActivityStream');
const KEY = 'arn:aws:kms:us-east-1:111122223333:key/abcd';

test('stream start: refused with every reason when the documented rules are broken; RDS is not asked', async (t) => {
  const server = await withRds(t);
  const mysqlSync = await runCli(['stream', 'start', '--cluster', 'my', '--mode', 'sync', '--kms-key', 'alias/aws/rds']);
  assert.equal(mysqlSync.code, 2);
  assert.match(mysqlSync.stderr, /Aurora MySQL supports only --mode async/);
  assert.match(mysqlSync.stderr, /cannot be the default key alias\/aws\/rds/);
  const noKey = await runCli(['stream', 'start', '--cluster', 'pg', '--mode', 'async']);
  assert.equal(noKey.code, 2);
  assert.match(noKey.stderr, /--kms-key is required/);
  const arnAlias = await runCli(['stream', 'start', '--cluster', 'pg', '--mode', 'async', '--kms-key', 'arn:aws:kms:us-east-1:111122223333:alias/aws/rds']);
  assert.match(arnAlias.stderr, /alias\/aws\/rds/);
  const again = await runCli(['stream', 'start', '--cluster', 'live', '--mode', 'async', '--kms-key', KEY]);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /already started/);
  const unknown = await runCli(['stream', 'start', '--cluster', 'nope', '--mode', 'async', '--kms-key', KEY]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /no DB cluster "nope"/);
  assert.deepEqual(mutations(server), []);
});

test('stream start: StartActivityStream with the cluster ARN, mode, key and apply-immediately', async (t) => {
  const server = await withRds(t);
  const r = await runCli(['stream', 'start', '--cluster', 'my', '--mode', 'async', '--kms-key', KEY, '--apply-immediately']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /activity stream of my: starting \(async mode, KMS key arn:aws:kms:us-east-1:111122223333:key\/abcd, Kinesis stream aws-rds-das-cluster-/);
  const [call] = mutations(server);
  assert.deepEqual(
    { action: call?.action, arn: call?.params.ResourceArn, mode: call?.params.Mode, key: call?.params.KmsKeyId, now: call?.params.ApplyImmediately },
    { action: 'StartActivityStream', arn: 'arn:aws:rds:us-east-1:111122223333:cluster:my', mode: 'async', key: KEY, now: 'true' },
  );
  assert.equal(server.clusters.get('my')?.activityStream.status, 'starting');
});

test('stream stop: no terminal and no --yes is refused; --yes stops; a stopped stream cannot be stopped', async (t) => {
  const server = await withRds(t);
  const refused = await runCli(['stream', 'stop', '--cluster', 'live']);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /needs confirmation; no terminal to ask on: pass --yes/);
  assert.deepEqual(mutations(server), []);
  const ok = await runCli(['stream', 'stop', '--cluster', 'live', '--yes', '--apply-immediately']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /activity stream of live: stopping/);
  assert.equal(mutations(server)[0]?.params.ResourceArn, 'arn:aws:rds:us-east-1:111122223333:cluster:live');
  const stopped = await runCli(['stream', 'stop', '--cluster', 'pg', '--yes']);
  assert.equal(stopped.code, 2);
  assert.match(stopped.stderr, /is stopped, not started/);
  const usage = await runCli(['stream', 'pause', '--cluster', 'pg']);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /stream needs 'start' or 'stop'/);
});

test('stream stop at a terminal: the cluster identifier must be typed back', async (t) => {
  const server = await withRds(t);
  const run = async (typed: string) => {
    const stdin = Object.assign(new PassThrough(), { isTTY: true });
    const stdout = new PassThrough();
    const stderr = new PassThrough() as unknown as NodeJS.WriteStream;
    const err: Buffer[] = [];
    (stderr as unknown as PassThrough).on('data', (c: Buffer) => err.push(c));
    stdin.end(`${typed}\n`);
    try {
      const code = await streamStopCommand({ cluster: 'live', applyImmediately: true, yes: false }, { stdin, stdout, stderr, env: {} });
      return { code, stderr: Buffer.concat(err).toString() };
    } catch (e) {
      return { code: exitCodeOf(e), stderr: `${Buffer.concat(err).toString()}${(e as Error).message}` };
    }
  };
  const wrong = await run('prod');
  assert.equal(wrong.code, 2);
  assert.match(wrong.stderr, /Type the cluster identifier to confirm/);
  assert.match(wrong.stderr, /confirmation did not match/);
  assert.deepEqual(mutations(server), []);
  const right = await run('live');
  assert.equal(right.code, 0);
  assert.equal(mutations(server).length, 1);
});
