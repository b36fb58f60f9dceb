/**
 * `dasguard run --metrics-port`: Prometheus scrapes /metrics (parsed as Prometheus parses it) and a probe asks
 * /healthz, against real parts: kinesalite, the loopback KMS, a loopback webhook receiver that fails.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import { runCommand, type RunOptions } from '../../src/commands/run.js';
import { testRunOptions } from '../support/runOptions.js';
import { LocalKeyProvider } from '../../src/keys/LocalKeyProvider.js';
import { capturedIo, jsonLines, plainErrors, runCli } from '../support/cli.js';
import { freePort } from '../support/freePort.js';
import { startKmsServer, type KmsServer } from '../support/kmsServer.js';
import { scrape } from '../support/prometheus.js';
import { startWebhookServer, type WebhookServer } from '../support/webhookServer.js';
import {
  KEY_FILE,
  RESOURCE_ID,
  createStream,
  encryptedRecords,
  everyEventRules,
  kinesisClient,
  loopbackEnv,
  putRecords,
  replayAlertIds,
  startKinesalite,
  tempDir,
  waitFor,
  type Kinesalite,
} from '../support/kinesis.js';

let kinesalite: Kinesalite;
let kms: KmsServer;
let hook: WebhookServer;
let client: KinesisClient;
let rules: string;
const saved = { ...process.env };
let n = 0;

before(async () => {
  kinesalite = await startKinesalite();
  kms = await startKmsServer({ keys: LocalKeyProvider.fromFile(KEY_FILE) });
  hook = await startWebhookServer();
  client = kinesisClient(kinesalite.url);
  rules = everyEventRules();
  Object.assign(process.env, loopbackEnv({ kinesis: kinesalite.url, kms: kms.url }));
});

after(async () => {
  process.env = saved;
  client.destroy();
  await Promise.all([kinesalite.close(), kms.close(), hook.close()]);
});

async function newStream(shards: number): Promise<string> {
  const name = `aws-rds-das-${RESOURCE_ID}-m${++n}`;
  await createStream(client, name, shards);
  return name;
}

async function startRun(stream: string, extra: Partial<RunOptions>) {
  const c = capturedIo();
  const ac = new AbortController();
  const port = await freePort();
  const opts = testRunOptions({ stream, resourceId: RESOURCE_ID, rules: [rules], metricsPort: port, ...extra });
  const code = runCommand(opts, c.io, { signal: ac.signal });
  const base = `http://127.0.0.1:${port}`;
  // The `metrics` log line comes once the server listens.
  await waitFor(() => jsonLines(c.stderr()).some((l) => l.msg === 'metrics'), 'the metrics server');
  return { code, base, stop: () => ac.abort(), alerts: () => jsonLines(c.stdout()), stderr: c.stderr };
}

/** Polls `cond` (async) until it holds. */
async function until(cond: () => Promise<boolean>, what: string): Promise<void> {
  const end = Date.now() + 20_000;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('/metrics counts what was put (records, events, alerts by rule and severity, KMS), /healthz is 200 while reading', async () => {
  const stream = await newStream(2);
  const data = await encryptedRecords(30, 2, 201);
  await putRecords(client, stream, data);
  const expected = await replayAlertIds(data, [rules]);
  const run = await startRun(stream, {});
  const metrics = `${run.base}/metrics`;
  await until(async () => (await scrape(metrics)).value('dasguard_records_total') === data.length, 'every record counted');

  const s = await scrape(metrics);
  assert.match(s.contentType ?? '', /^text\/plain; version=0\.0\.4/);
  assert.equal(s.family('dasguard_records_total')?.type, 'COUNTER');
  assert.equal(s.value('dasguard_events_total'), expected.length, 'every event (the rule fires on each)');
  assert.equal(s.value('dasguard_alerts_total', { rule: 'test-every-event', severity: 'info' }), expected.length);
  assert.equal(s.family('dasguard_alerts_total')?.metrics.length, 1, 'one rule, one severity');
  assert.equal(s.value('dasguard_heartbeats_total'), 0);
  assert.ok(s.value('dasguard_kms_calls_total')! >= 1, 'data keys came from KMS');
  const hits = s.value('dasguard_data_key_cache_hits_total')!;
  const misses = s.value('dasguard_data_key_cache_misses_total')!;
  assert.ok(misses >= 1 && hits + misses >= data.length, `cache hits ${hits} + misses ${misses} cover every encrypted record`);
  assert.equal(s.family('dasguard_quarantined_total')?.metrics.length ?? 0, 0, 'nothing quarantined');
  // Both shards are read: a lag and an idle time each.
  const lag = s.family('dasguard_shard_lag_seconds')!;
  assert.deepEqual(lag.metrics.map((m) => m.labels?.shard).sort(), ['shardId-000000000000', 'shardId-000000000001']);
  const evaluation = s.family('dasguard_rule_evaluation_seconds')!;
  assert.equal(evaluation.type, 'HISTOGRAM');
  assert.equal(Number(evaluation.metrics[0]!.count), data.length, 'one evaluation per record');
  assert.ok(s.value('process_resident_memory_bytes')! > 0, 'process memory (default metrics)');
  // The README's table names every dasguard_ metric a scrape has (the per-sink ones need an outbox: the next test).
  const readme = readFileSync('README.md', 'utf8');
  const section = readme.slice(readme.indexOf('### Operating `run`: metrics and health'), readme.indexOf('### Try it locally'));
  const documented = [...section.matchAll(/^\| `(dasguard_\w+)` \| (\w+) \|/gm)].map((m) => [m[1]!, m[2]!.toUpperCase()]);
  const served = s.families.filter((f) => f.name.startsWith('dasguard_')).map((f) => [f.name, f.type]);
  assert.deepEqual(served.filter(([name]) => !documented.some(([d]) => d === name)), [], 'every metric served is in the README');
  for (const [name, type] of documented) {
    if (name!.includes('outbox') || name!.includes('deliver') || name!.includes('dead_lettered')) continue;
    assert.deepEqual(served.find(([n]) => n === name), [name, type], `README metric ${name} is served with its type`);
  }
  // Checkpoints are written at most every second: one is written by now or soon.
  await until(async () => (await scrape(metrics)).value('dasguard_checkpoint_age_seconds') !== undefined, 'a checkpoint age');

  const health = await fetch(`${run.base}/healthz`);
  assert.equal(health.status, 200);
  assert.deepEqual(((await health.json()) as { status: string; reasons: string[] }).reasons, []);
  assert.equal((await fetch(`${run.base}/other`)).status, 404);

  run.stop();
  assert.equal(await run.code, 0);
  await assert.rejects(fetch(metrics), 'the server is closed once run returns');
});

test('/healthz is 503 naming the sink when delivery is stuck (a webhook that keeps failing), /metrics shows it pending and retried', async () => {
  const stream = await newStream(1);
  await putRecords(client, stream, await encryptedRecords(2, 1, 211));
  const dir = tempDir('dasguard-metrics-cfg-');
  const config = join(dir, 'dasguard.yaml');
  writeFileSync(
    config,
    `sinks:\n  siem: {type: webhook, url: "${hook.url}/siem"}\nroutes:\n  - {name: all, sinks: [siem]}\n` +
      `delivery: {maxAttempts: 1000, initialBackoffMs: 5, maxBackoffMs: 10, drainTimeoutMs: 0}\n`,
  );
  hook.failNext(1_000_000, 503);
  const before = hook.attempts;
  // Stuck after 1 ms: any delivery still pending once the receiver refused it twice.
  const run = await startRun(stream, { delivery: { configPath: config, outboxDir: join(dir, 'outbox') }, healthDeliveryStallMs: 1 });
  try {
    await until(async () => (await scrape(`${run.base}/metrics`)).value('dasguard_outbox_pending', { sink: 'siem' }) === 2, 'both alerts in the outbox');
    await waitFor(() => hook.attempts - before >= 3, 'failed deliveries');
    const health = await fetch(`${run.base}/healthz`);
    assert.equal(health.status, 503);
    const body = (await health.json()) as { status: string; reasons: string[] };
    assert.equal(body.status, 'unhealthy');
    assert.equal(body.reasons.length, 1, body.reasons.join('; '));
    assert.match(body.reasons[0]!, /^delivery to sink 'siem' stuck: oldest pending \d+ s \(2 pending\)$/);
    const s = await scrape(`${run.base}/metrics`);
    assert.equal(s.value('dasguard_outbox_pending', { sink: 'siem' }), 2);
    assert.ok(s.value('dasguard_delivery_retries_total', { sink: 'siem' })! >= 1);
    assert.equal(s.value('dasguard_deliveries_total', { sink: 'siem' }), 0);
    assert.ok(s.value('dasguard_outbox_oldest_pending_seconds', { sink: 'siem' })! >= 0);
  } finally {
    run.stop();
    hook.failNext(0, 200);
  }
  assert.equal(await run.code, 0);
});

test('a --metrics-port in use: exit 2 naming it, before anything is read; a bad port is a usage error', async () => {
  const busy = createServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  const port = (busy.address() as { port: number }).port;
  try {
    const stream = await newStream(1);
    const res = await runCli(['run', '--stream', stream, '--resource-id', RESOURCE_ID, '--key-file', KEY_FILE, '--rules', rules, '--checkpoint-dir', tempDir(), '--state-dir', tempDir(), '--metrics-port', String(port)]);
    assert.equal(res.code, 2, res.stderr);
    assert.match(res.stderr, new RegExp(`--metrics-port ${port} --metrics-host 127\\.0\\.0\\.1: cannot listen \\(the port is in use by another process\\)`));
    assert.doesNotMatch(res.stderr, /consumer started/);
  } finally {
    await new Promise((r) => busy.close(r));
  }
  const bad = await runCli(['run', '--stream', 'x', '--metrics-port', '99999']);
  assert.equal(bad.code, 2);
  assert.match(plainErrors(bad.stderr), /--metrics-port must be a port number from 0 to 65535; got "99999"/);
  const stray = await runCli(['run', '--stream', 'x', '--metrics-host', '0.0.0.0']);
  assert.equal(stray.code, 2);
  assert.match(stray.stderr, /--metrics-host needs --metrics-port/);
});
