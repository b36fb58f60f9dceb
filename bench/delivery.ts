/**
 * Alert delivery throughput: alerts/s through the whole delivery handoff (outbox fsync per handed-off chunk,
 * dispatcher, real SNSClient) to the loopback SNS, with PublishBatch (10 per call) vs one Publish per alert,
 * in the same run. The loopback SNS answers at once: real SNS adds network latency, which batching saves 10x.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { DeliveryHandoff } from '../src/delivery/DeliveryHandoff.js';
import type { DeliveryConfig } from '../src/delivery/config.js';
import { makeAlert } from '../test/support/alerts.js';
import { startSnsServer } from '../test/support/snsServer.js';

export interface DeliveryBenchRow {
  mode: 'PublishBatch' | 'Publish';
  alerts: number;
  alertsPerSec: number;
  snsCalls: number;
}

export async function benchDelivery(alerts = Number(process.env.BENCH_ALERTS ?? 2000), chunk = 100): Promise<DeliveryBenchRow[]> {
  process.env.AWS_ACCESS_KEY_ID ??= 'AKIDBENCH';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'bench-secret';
  const sns = await startSnsServer();
  const rows: DeliveryBenchRow[] = [];
  try {
    for (const batch of [true, false]) {
      const dir = await mkdtemp(join(tmpdir(), 'dasguard-bench-outbox-'));
      const config: DeliveryConfig = {
        source: 'bench',
        sinks: { sns: { type: 'sns', topicArn: 'arn:aws:sns:us-east-1:111122223333:bench', endpoint: sns.url, batch } },
        routes: [{ name: 'all', sinks: ['sns'] }],
        suppression: [],
        delivery: { concurrency: 4 },
        secrets: [],
      };
      const all = Array.from({ length: alerts }, (_, i) => makeAlert(i));
      const calls0 = sns.calls.Publish + sns.calls.PublishBatch;
      const received0 = sns.messages.length;
      const t0 = process.hrtime.bigint();
      const h = await DeliveryHandoff.open(config, { outboxDir: dir, stderr: new PassThrough() });
      for (let i = 0; i < all.length; i += chunk) await h.handOff(all.slice(i, i + chunk));
      await h.close(120_000);
      const secs = Number(process.hrtime.bigint() - t0) / 1e9;
      if (sns.messages.length - received0 !== alerts) throw new Error(`SNS received ${sns.messages.length - received0} of ${alerts} alerts`);
      rows.push({ mode: batch ? 'PublishBatch' : 'Publish', alerts, alertsPerSec: alerts / secs, snsCalls: sns.calls.Publish + sns.calls.PublishBatch - calls0 });
      await rm(dir, { recursive: true, force: true });
    }
  } finally {
    await sns.close();
  }
  return rows;
}
