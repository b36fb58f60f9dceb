/**
 * The alerts the delivery module raises itself: a delivery that failed for good, and `alert-test`'s synthetic
 * alert (shaped like an activity alert, so that a route's redaction shows). Built in syntheticAlerts.ts.
 */
import type { AlertKind } from '../health/healthAlert.js';

export const DELIVERY_FAILED_ALERT = {
  ruleId: 'dasguard.delivery-failed',
  facts: ['alertId', 'ruleId', 'sink', 'attempts', 'error'],
} as const satisfies AlertKind;

export const ALERT_TEST_ALERT = {
  ruleId: 'dasguard.alert-test',
  facts: ['engine', 'clusterId', 'instanceId', 'dbUserName', 'remoteHost', 'databaseName', 'commandText', 'paramList'],
} as const satisfies AlertKind;
