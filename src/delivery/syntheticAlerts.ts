/**
 * The alerts the delivery module makes itself (their kinds are declared in ownAlerts.ts): the report of a
 * delivery that failed for good (sent to the fallback sink), and `alert-test`'s synthetic alert with
 * `sendTestAlert`, which puts it straight through one route's sinks.
 */
import type { SNSClient } from '@aws-sdk/client-sns';
import type { Writable } from 'node:stream';
import { ConfigError } from '../errors.js';
import type { FactsOf } from '../health/healthAlert.js';
import { redactAlert } from '../redaction/index.js';
import type { DeliveryConfig } from './config.js';
import type { OutboxJob } from './Outbox.js';
import { ALERT_TEST_ALERT, DELIVERY_FAILED_ALERT } from './ownAlerts.js';
import { Router } from './routing.js';
import { buildSinks } from './sinks/index.js';
import type { DeliveredAlert, SendResult } from './types.js';

export function deliveryFailureAlert(job: OutboxJob, error: string, deadLetterPath: string): DeliveredAlert {
  const a = job.alert;
  return {
    id: `${a.id}-undelivered-${job.sink}`.slice(0, 128),
    kind: 'health',
    ruleId: DELIVERY_FAILED_ALERT.ruleId,
    severity: 'high',
    tags: ['dasguard:delivery'],
    description: 'An alert could not be delivered to a sink; it was kept in the dead-letter file.',
    message: `alert ${a.id} (${a.ruleId}, ${a.severity}) could not be delivered to sink '${job.sink}' after ${job.attempts} attempt${job.attempts === 1 ? '' : 's'}: ${error}; kept in ${deadLetterPath}`,
    clusterId: a.clusterId,
    instanceId: a.instanceId,
    time: new Date().toISOString(),
    source: a.source,
    event: { alertId: a.id, ruleId: a.ruleId, sink: job.sink, attempts: job.attempts, error } satisfies FactsOf<typeof DELIVERY_FAILED_ALERT>,
  };
}

/** A synthetic alert for `alert-test`: its statement holds a literal, so the route's redaction shows. */
export function testAlert(route: string): DeliveredAlert {
  const now = new Date();
  return {
    id: `alert-test-${now.getTime()}`,
    kind: 'health',
    ruleId: ALERT_TEST_ALERT.ruleId,
    severity: 'info',
    tags: ['dasguard:test'],
    description: 'A test alert sent by dasguard alert-test.',
    message: `dasguard alert-test: route '${route}' works`,
    clusterId: 'cluster-ALERTTEST',
    instanceId: 'db-ALERTTEST',
    time: now.toISOString(),
    source: 'dasguard alert-test',
    event: {
      engine: 'postgresql',
      clusterId: 'cluster-ALERTTEST',
      instanceId: 'db-ALERTTEST',
      dbUserName: 'alert_test',
      remoteHost: '127.0.0.1',
      databaseName: 'postgres',
      commandText: "SELECT 'alert-test literal' AS check",
      paramList: [],
    } satisfies FactsOf<typeof ALERT_TEST_ALERT>,
  };
}

/**
 * Sends one synthetic alert straight to every sink of `routeName` (no outbox, one attempt): what `alert-test`
 * does. One result per sink.
 */
export async function sendTestAlert(
  config: DeliveryConfig,
  routeName: string,
  deps: { stdout: Writable; stderr: Writable; snsClient?: SNSClient },
): Promise<{ sink: string; result: SendResult }[]> {
  const route = new Router(config.routes).route(routeName);
  if (!route) throw new ConfigError(`no route named '${routeName}' in ${config.source} (routes: ${config.routes.map((r) => r.name).join(', ') || 'none'})`);
  const sinks = buildSinks({ ...config, sinks: Object.fromEntries(route.sinks.map((s) => [s, config.sinks[s]!])) }, deps);
  const alert = redactAlert(testAlert(routeName), route.redaction ?? 'literals');
  const out: { sink: string; result: SendResult }[] = [];
  try {
    for (const [name, sink] of sinks) {
      const [result] = await sink.send([alert]);
      out.push({ sink: name, result: result ?? { ok: false, retryable: false, error: 'no result' } });
    }
  } finally {
    for (const s of sinks.values()) await s.close();
  }
  return out;
}
