/**
 * The RDS events watcher against a loopback RDS (real RDSClient, real query protocol): duplicates, events out of
 * order, restarts (a new watcher on the same state dir), pagination, loss windows that close, never close, or
 * whose end arrives before their start, and failures that must lose nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RDSClient } from '@aws-sdk/client-rds';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { TransientError } from '../../src/errors.js';
import { RdsEventsWatcher } from '../../src/health/RdsEventsWatcher.js';
import { openWindows, parseLossPatterns } from '../../src/health/lossWindows.js';
import type { Alert } from '../../src/pipeline/alert.js';
import type { AlertHandoff } from '../../src/pipeline/AlertHandoff.js';
import { loadRules, type RuleSet } from '../../src/rules/index.js';
import { clusterModel, startRdsServer } from '../support/rdsServer.js';

const T0 = Date.parse('2024-05-01T12:00:00.000Z');
const min = 60_000;

class CollectingHandoff implements AlertHandoff {
  readonly alerts: Alert[] = [];
  failures = 0;
  async handOff(alerts: readonly Alert[]): Promise<void> {
    if (this.failures > 0) {
      this.failures--;
      throw new Error('sink down');
    }
    this.alerts.push(...alerts);
  }
  async close(): Promise<void> {}
}

async function setup(t: { after: (fn: () => Promise<void>) => void }) {
  let now = T0;
  const clock = { now: () => now };
  const server = await startRdsServer({ clusters: [clusterModel({ identifier: 'prod', activityStream: { status: 'started' } })], now: clock.now });
  const client = new RDSClient({
    endpoint: server.url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' },
    requestHandler: new NodeHttpHandler(),
    maxAttempts: 1,
  });
  const stateDir = await mkdtemp(join(tmpdir(), 'dasguard-health-'));
  const { ruleSet } = await loadRules(['rules']);
  assert.ok(ruleSet);
  t.after(async () => {
    client.destroy();
    await server.close();
    await rm(stateDir, { recursive: true, force: true });
  });
  const watcher = (extra: Partial<ConstructorParameters<typeof RdsEventsWatcher>[0]> = {}) =>
    new RdsEventsWatcher({ client, clusterId: 'prod', stateDir, rules: ruleSet as RuleSet, clock, pageSize: 20, ...extra });
  return { server, client, stateDir, clock, setNow: (t: number) => (now = t), watcher, ruleSet };
}

const at = (ms: number) => new Date(ms);
const ruleIds = (alerts: readonly Alert[]) => alerts.map((a) => `${a.ruleId}${a.event.state ? `:${String(a.event.state)}` : ''}`);

test('duplicates and out-of-order events across restarts: every alert once, none missed', async (t) => {
  const { server, watcher, setNow, ruleSet } = await setup(t);
  const sink = new CollectingHandoff();
  server.addEvent({ sourceIdentifier: 'prod', date: at(T0 - 50 * min), eventCategories: ['configuration change'], message: 'Database Activity Streams is started on your database cluster.' });
  server.addEvent({ sourceIdentifier: 'prod', date: at(T0 - 40 * min), eventCategories: ['failover'], message: 'Completed failover to DB instance: prod-2.' });
  // another cluster's event: not ours
  server.addEvent({ sourceIdentifier: 'other', date: at(T0 - 40 * min), message: 'Database Activity Streams is stopped on your database cluster.' });
  // 45 events no rule cares about: the poll needs 3 pages of 20
  for (let i = 0; i < 45; i++) server.addEvent({ sourceIdentifier: 'prod', date: at(T0 - 30 * min + i * 1000), eventCategories: ['backup'], message: `Backing up DB cluster (${i}).` });

  const first = await watcher().poll(sink);
  assert.equal(first.newEvents.length, 47);
  assert.deepEqual(ruleIds(sink.alerts), ['das-stream-started', 'cluster-failover']);
  const pages = server.calls.filter((c) => c.action === 'DescribeEvents');
  assert.equal(pages.length, 3, 'paginated with Marker');
  assert.ok(pages.every((c) => c.params.SourceType === 'db-cluster' && c.params.SourceIdentifier === 'prod'));
  const stopped = sink.alerts.find((a) => a.ruleId === 'das-stream-started');
  assert.equal(stopped?.kind, 'rds-event');
  assert.equal(stopped?.event.eventId, 'RDS-EVENT-0179');
  // Raised by a rule: it carries the rule set's version (the loss-window alerts, raised by dasguard itself, do not).
  assert.equal(stopped?.rulesVersion, ruleSet!.version);
  assert.match(String(stopped?.rulesVersion), /^sha256:[0-9a-f]{12}$/);

  // Restart (a new watcher, same state dir). Meanwhile: the failover delivered again, an OLDER event delivered
  // late, and a loss window opens.
  setNow(T0 + 10 * min);
  server.addEvent({ sourceIdentifier: 'prod', date: at(T0 - 40 * min), eventCategories: ['failover'], message: 'Completed failover to DB instance: prod-2.' });
  server.addEvent({ sourceIdentifier: 'prod', date: at(T0 + 5 * min), message: 'Activity stream records might be lost: the stream cannot keep up.' });
  server.addEvent({ sourceIdentifier: 'prod', date: at(T0 - 45 * min), message: 'DB cluster is being rebooted.' });
  const second = await watcher().poll(sink);
  assert.equal(second.newEvents.length, 2);
  assert.deepEqual(ruleIds(sink.alerts).slice(2), ['cluster-reboot', 'das-loss-window:open']);
  const open = sink.alerts.at(-1) as Alert;
  assert.equal(open.kind, 'health');
  assert.equal(open.severity, 'high');
  assert.equal(open.time, new Date(T0 + 5 * min).toISOString());

  // Restart again: the window closes
  setNow(T0 + 40 * min);
  server.addEvent({ sourceIdentifier: 'prod', date: at(T0 + 35 * min), message: 'The activity stream is healthy again.' });
  const third = await watcher().poll(sink);
  assert.deepEqual(ruleIds(third.alerts), ['das-loss-window:resolved']);
  const resolved = third.alerts[0] as Alert;
  assert.deepEqual(
    { start: resolved.event.start, end: resolved.event.end, durationMs: resolved.event.durationMs },
    { start: new Date(T0 + 5 * min).toISOString(), end: new Date(T0 + 35 * min).toISOString(), durationMs: 30 * min },
  );
  assert.match(resolved.message, /30m/);
  assert.deepEqual(openWindows(third.state.lossWindows), []);

  // Nothing new: nothing alerted; and no id was ever handed off twice
  const fourth = await watcher().poll(sink);
  assert.deepEqual(fourth.alerts, []);
  const ids = sink.alerts.map((a) => a.id);
  assert.equal(new Set(ids).size, ids.length);
  // the seen-set stays bounded: entries below the cursor are pruned
  assert.ok(Object.values(fourth.state.seen).every((d) => d >= (fourth.state.cursor as string)));
});

test('a window that never closes stays open across polls and restarts, alerted once', async (t) => {
  const { server, watcher, setNow } = await setup(t);
  const sink = new CollectingHandoff();
  server.addEvent({ sourceIdentifier: 'prod', date: at(T0 - 5 * min), message: 'Activity stream event records may have been lost.' });
  await watcher().poll(sink);
  // a second "might be lost" inside the same window is not a new window
  server.addEvent({ sourceIdentifier: 'prod', date: at(T0 - 2 * min), message: 'Activity stream event records may have been lost.' });
  for (const h of [1, 5, 30]) {
    setNow(T0 + h * 3600_000);
    const r = await watcher().poll(sink);
    assert.equal(openWindows(r.state.lossWindows).length, 1);
  }
  assert.deepEqual(ruleIds(sink.alerts), ['das-loss-window:open']);
});

test('the end of a window delivered before its start still pairs up; an end whose start never comes is reported', async (t) => {
  const { server, watcher, setNow } = await setup(t);
  const sink = new CollectingHandoff();
  server.addEvent({ sourceIdentifier: 'prod', date: at(T0 - 10 * min), message: 'Activity stream is back to a healthy state.' });
  const first = await watcher().poll(sink);
  assert.deepEqual(first.alerts, [], 'the start may still arrive');
  setNow(T0 + 5 * min);
  server.addEvent({ sourceIdentifier: 'prod', date: at(T0 - 25 * min), message: 'Activity stream records might be lost.' });
  const second = await watcher().poll(sink);
  assert.deepEqual(ruleIds(second.alerts), ['das-loss-window:open', 'das-loss-window:resolved']);
  assert.equal(second.alerts[1]?.event.durationMs, 15 * min);

  // an end alone: once the cursor passes it (no start can be asked for any more), it is reported
  server.addEvent({ sourceIdentifier: 'prod', date: at(T0 + 10 * min), message: 'The activity stream is healthy again.' });
  setNow(T0 + 15 * min);
  assert.deepEqual((await watcher().poll(sink)).alerts, []);
  server.addEvent({ sourceIdentifier: 'prod', date: at(T0 + 3 * 3600_000), message: 'Backing up DB cluster.' });
  setNow(T0 + 3 * 3600_000 + min);
  const later = await watcher().poll(sink);
  assert.deepEqual(ruleIds(later.alerts), ['das-loss-window:resolved']);
  assert.match(later.alerts[0]?.message ?? '', /start was not seen/);
});

test('a failed poll or a failed handoff loses nothing: the next poll delivers the same alerts, same ids', async (t) => {
  const { server, watcher } = await setup(t);
  const sink = new CollectingHandoff();
  server.addEvent({ sourceIdentifier: 'prod', date: at(T0 - min), message: 'Database Activity Streams is stopped on your database cluster.' });
  server.failNext(1, 'Throttling', 400, 'DescribeEvents');
  await assert.rejects(watcher().poll(sink), TransientError);
  sink.failures = 1;
  await assert.rejects(watcher().poll(sink), /sink down/);
  const r = await watcher().poll(sink);
  assert.deepEqual(ruleIds(r.alerts), ['das-stream-stopped']);
  assert.equal(r.alerts[0]?.severity, 'critical');
  assert.deepEqual(ruleIds(sink.alerts), ['das-stream-stopped']);
  // an access problem is a ConfigError naming the call
  server.failNext(1, 'AccessDenied', 403, 'DescribeEvents');
  await assert.rejects(watcher().poll(sink), (err: Error) => err.name === 'ConfigError' && /DescribeEvents/.test(err.message));
});

test('loss-window patterns: configurable ids and regexes, every mistake reported at once at its file:line', async (t) => {
  const { server, watcher } = await setup(t);
  const patterns = parseLossPatterns(
    ['lossWindow:', '  defaults: false', '  open:', "    - message: 'audit pipeline degraded'", '  close:', "    - message: 'audit pipeline recovered'"].join('\n'),
    'p.yaml',
  );
  const sink = new CollectingHandoff();
  server.addEvent({ sourceIdentifier: 'prod', date: at(T0 - 9 * min), message: 'Activity stream records might be lost.' });
  server.addEvent({ sourceIdentifier: 'prod', date: at(T0 - 8 * min), message: 'Audit pipeline DEGRADED.' });
  server.addEvent({ sourceIdentifier: 'prod', date: at(T0 - 2 * min), message: 'Audit pipeline recovered.' });
  const r = await watcher({ patterns }).poll(sink);
  assert.deepEqual(ruleIds(r.alerts), ['das-loss-window:open', 'das-loss-window:resolved']);
  assert.equal(r.alerts[1]?.event.durationMs, 6 * min);

  assert.throws(
    () => parseLossPatterns(['lossWindow:', '  open:', "    - message: '(unclosed'", '    - eventId: 42', '  close: nope', '  colse: []'].join('\n'), 'bad.yaml'),
    (err: Error) => {
      assert.equal(err.name, 'ConfigError');
      const [head, ...lines] = err.message.split('\n');
      assert.equal(head, '4 problems in bad.yaml:');
      assert.equal(lines.length, 4, err.message);
      assert.match(lines[0]!, /^bad\.yaml:3: lossWindow\.open\[0\]\.message: bad regular expression/);
      assert.equal(lines[1], 'bad.yaml:4: lossWindow.open[1].eventId: expected RDS-EVENT-NNNN, got "42"');
      assert.equal(lines[2], 'bad.yaml:5: lossWindow.close: expected a list, got text "nope"');
      assert.equal(lines[3], "bad.yaml:6: lossWindow: unknown key 'colse' (did you mean 'close'?) (expected defaults, open, close)");
      return true;
    },
  );
});
