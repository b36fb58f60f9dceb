/**
 * A resolving alert follows the alert it resolves: with routes sending high to Slack and info to a file, the
 * "loss window opened" (high) and its "loss window closed" (info) both reach Slack, and the closing one names the
 * opening one (`resolves`). Real outbox, loopback Slack server, real file sink.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { DeliveryHandoff } from '../../src/delivery/DeliveryHandoff.js';
import { parseDeliveryConfig } from '../../src/delivery/config.js';
import { applyLossEvent, emptyLossWindowState } from '../../src/health/lossWindows.js';
import type { RdsEvent } from '../../src/health/rdsEvent.js';
import { startWebhookServer, type WebhookServer } from '../support/webhookServer.js';
import { makeAlert } from '../support/alerts.js';

let hook: WebhookServer;
before(async () => {
  hook = await startWebhookServer();
});
after(async () => {
  await hook.close();
});

const YAML = (hookUrl: string, file: string) => `sinks:
  slack: {type: slack, url: "${hookUrl}/services/T/B/X"}
  file: {type: file, path: ${JSON.stringify(file)}}
routes:
  - {name: urgent, sinks: [slack], severity: high}
  - {name: rest, sinks: [file], default: true}
clusters:
  cluster-ABCDEFGHIJKLMNOP: payments-prod
delivery: {initialBackoffMs: 5, maxBackoffMs: 20}
`;

function rdsEvent(date: string, message: string): RdsEvent {
  return { eventId: 'RDS-EVENT-0000', message, categories: ['notification'], sourceIdentifier: 'payments-prod', sourceType: 'db-cluster', date, sourceArn: 'arn:aws:rds:eu-west-1:111122223333:cluster:payments-prod' };
}

test('high to Slack, the rest (info) to a file: the loss window opened and its resolution both reach Slack; the resolution also the file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dasguard-resolve-'));
  const file = join(dir, 'info.jsonl');
  const { config, problems } = parseDeliveryConfig('d.yaml', YAML(hook.url, file), {});
  assert.deepEqual(problems, []);
  const h = await DeliveryHandoff.open(config!, { outboxDir: join(dir, 'outbox'), stderr: new PassThrough() });
  const state = emptyLossWindowState();
  const [opened] = applyLossEvent(state, rdsEvent('2026-11-20T10:00:00.000Z', 'activity stream lost records'), 'open', 'payments-prod', 'rds payments-prod');
  const [closed] = applyLossEvent(state, rdsEvent('2026-11-20T10:05:00.000Z', 'activity stream recovered'), 'close', 'payments-prod', 'rds payments-prod');
  assert.equal(opened!.severity, 'high');
  assert.equal(closed!.severity, 'info');
  assert.equal(closed!.resolves, opened!.id);
  // an unrelated info alert: still only where its own routes send it
  const other = makeAlert(1, { severity: 'info' });
  const before = hook.received.length;
  await h.handOff([opened!]);
  await h.handOff([other, closed!]);
  await h.close();
  const slack = hook.received.slice(before).map((r) => JSON.stringify(r.body));
  assert.equal(slack.length, 2, slack.join('\n'));
  assert.ok(slack[0]!.includes(opened!.id) && slack[1]!.includes(closed!.id), 'opened, then its resolution, at Slack');
  assert.ok(slack[1]!.includes(`resolves ${opened!.id}`), 'the resolution names what it resolves');
  assert.equal(slack.some((t) => t.includes(other.id)), false, 'an info alert that resolves nothing stays off Slack');
  const inFile = (await readFile(file, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { id: string; resolves?: string; cluster?: unknown });
  assert.deepEqual(inFile.map((a) => a.id), [other.id, closed!.id]);
  assert.equal(inFile[1]!.resolves, opened!.id);
  assert.deepEqual(inFile[1]!.cluster, { name: 'payments-prod', resourceId: 'cluster-ABCDEFGHIJKLMNOP' });
});

test('run (suppression state kept): a restart between the opening alert and its resolution still sends the resolution to Slack', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dasguard-resolve-'));
  const { config } = parseDeliveryConfig('d.yaml', YAML(hook.url, join(dir, 'info.jsonl')), {});
  const opts = { outboxDir: join(dir, 'outbox'), stderr: new PassThrough(), persistSuppression: true };
  const state = emptyLossWindowState();
  const [opened] = applyLossEvent(state, rdsEvent('2026-11-20T10:00:00.000Z', 'activity stream lost records'), 'open', 'payments-prod', 'rds payments-prod');
  const [closed] = applyLossEvent(state, rdsEvent('2026-11-20T10:05:00.000Z', 'activity stream recovered'), 'close', 'payments-prod', 'rds payments-prod');
  const before = hook.received.length;
  const first = await DeliveryHandoff.open(config!, opts);
  await first.handOff([opened!]);
  await first.persist(); // what run does before each checkpoint
  await first.close();
  const second = await DeliveryHandoff.open(config!, opts);
  await second.handOff([closed!]);
  await second.close();
  const slack = hook.received.slice(before).map((r) => JSON.stringify(r.body));
  assert.equal(slack.length, 2, slack.join('\n'));
  assert.ok(slack[1]!.includes(`resolves ${opened!.id}`));
});
