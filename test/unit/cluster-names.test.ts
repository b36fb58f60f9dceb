/**
 * Alerts name their cluster: dasguard.yaml's `clusters:` (resource id -> name) and run --cluster (DescribeDBClusters)
 * give every alert handed off `cluster: {name, resourceId}`, activity alerts (which only know the resource id) and
 * dasguard's own (which know the name) alike.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { builtinDeliveryConfig } from '../../src/delivery/consoleDelivery.js';
import { parseDeliveryConfig } from '../../src/delivery/config.js';
import { DeliveryHandoff } from '../../src/delivery/DeliveryHandoff.js';
import { ConsoleSink } from '../../src/delivery/sinks/index.js';
import { ClusterNames } from '../../src/pipeline/clusterNames.js';
import { MESSAGE_PARTS, withMessageParts } from '../../src/redaction/index.js';
import { makeAlert } from '../support/alerts.js';

async function delivered(clusters: Record<string, string> | undefined, alerts: Parameters<DeliveryHandoff['handOff']>[0], learn?: [string, string]) {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  const config = { ...builtinDeliveryConfig('jsonl'), ...(clusters ? { clusters } : {}) };
  const h = DeliveryHandoff.direct(config, { stdout: out, sinks: new Map([['console', new ConsoleSink('console', out, 'jsonl')]]) });
  if (learn) h.nameCluster(...learn);
  await h.handOff(alerts);
  await h.close();
  return Buffer.concat(chunks).toString('utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
}

test('clusters: in dasguard.yaml: an activity alert carries the name next to its resource id', async () => {
  const [a] = await delivered({ 'cluster-ABCDEFGHIJKLMNOP': 'payments-prod' }, [makeAlert(1)]);
  assert.deepEqual(a!.cluster, { name: 'payments-prod', resourceId: 'cluster-ABCDEFGHIJKLMNOP' });
  assert.equal(a!.clusterId, 'cluster-ABCDEFGHIJKLMNOP');
  // next to clusterId and instanceId in the JSON, where a reader looks
  const keys = Object.keys(a!);
  assert.equal(keys.indexOf('cluster'), keys.indexOf('instanceId') + 1);
});

test('run --cluster: the name DescribeDBClusters gave names activity alerts, and health alerts get the resource id', async () => {
  const health = makeAlert(2, { kind: 'health', ruleId: 'das-stream-silent', clusterId: 'payments-prod', event: { state: 'open' } });
  const [act, h] = await delivered(undefined, [makeAlert(1), health], ['cluster-ABCDEFGHIJKLMNOP', 'payments-prod']);
  assert.deepEqual(act!.cluster, { name: 'payments-prod', resourceId: 'cluster-ABCDEFGHIJKLMNOP' });
  assert.deepEqual(h!.cluster, { name: 'payments-prod', resourceId: 'cluster-ABCDEFGHIJKLMNOP' });
});

test('no name known: no cluster field (the resource id is in clusterId); a health alert still names its cluster', async () => {
  const [a, h] = await delivered(undefined, [makeAlert(1), makeAlert(2, { kind: 'health', clusterId: 'payments-prod' })]);
  assert.equal('cluster' in a!, false);
  assert.deepEqual(h!.cluster, { name: 'payments-prod', resourceId: null });
});

test('naming keeps the message parts a stricter route renders the message from', () => {
  const parts = ['changed by ', { path: 'dbUserName', value: 'alice', mode: 'plain' }] as never;
  const named = new ClusterNames({ 'cluster-ABCDEFGHIJKLMNOP': 'p' }).stamp([withMessageParts(makeAlert(1), parts)]);
  assert.equal(named[0]![MESSAGE_PARTS], parts);
});

test('clusters: problems at their line: a key that is no resource id, a name that is no cluster identifier', () => {
  const text = 'sinks:\n  out: {type: console}\nroutes:\n  - {name: all, sinks: [out], default: true}\nclusters:\n  payments-prod: cluster-ABC\n  cluster-ABC: "1 bad"\n  cluster-DEF: good-name\n';
  const { config, problems } = parseDeliveryConfig('d.yaml', text, {});
  assert.equal(config, undefined);
  assert.deepEqual(
    problems.map((p) => `${p.line}: ${p.message}`),
    [
      "6: bad name 'payments-prod' (expected a DAS resource id, cluster-… or db-… (the DbClusterResourceId or DbiResourceId, not the cluster name))",
      '7: cluster-ABC: expected a DB cluster identifier (a letter, then up to 62 letters, digits and hyphens), got "1 bad"',
    ],
  );
  const ok = parseDeliveryConfig('d.yaml', text.replace(/  payments-prod.*\n  cluster-ABC.*\n/, ''), {});
  assert.deepEqual(ok.config?.clusters, { 'cluster-DEF': 'good-name' });
});
