/** Checks `run` makes once at startup, before it reads a record. */
import type { ActivityStreamInfo } from '../aws/rds.js';
import type { Alert } from '../pipeline/alert.js';
import { healthAlert, type AlertKind } from './healthAlert.js';

export const STREAM_NOT_STARTED_ALERT = {
  ruleId: 'das-stream-not-started',
  facts: ['status', 'mode', 'streamName', 'resourceId'],
} as const satisfies AlertKind;

/**
 * A health alert when the cluster's activity stream is not `started` (stopped, starting, stopping): nothing,
 * or not everything, is being audited. Null when it is started. `now` makes the alert id differ per startup.
 */
export function streamNotStartedAlert(info: ActivityStreamInfo, now: number): Alert | null {
  if (info.status === 'started') return null;
  const severity = info.status === 'starting' ? 'medium' : 'critical';
  const what =
    info.status === 'starting'
      ? 'is still starting: activity before it is started is not audited'
      : info.status === 'stopping'
        ? 'is stopping: database activity is about to go unaudited'
        : 'is stopped: database activity is not being audited';
  return healthAlert(STREAM_NOT_STARTED_ALERT, {
    severity,
    description: 'dasguard started while the activity stream of the cluster was not started.',
    message: `the activity stream of cluster ${info.clusterIdentifier} ${what} (status ${info.status})`,
    clusterId: info.clusterIdentifier,
    time: new Date(now),
    source: `rds ${info.clusterIdentifier}`,
    facts: { status: info.status, mode: info.mode, streamName: info.streamName, resourceId: info.resourceId },
    key: [info.status, now],
  });
}
