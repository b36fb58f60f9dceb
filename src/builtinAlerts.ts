/**
 * Every kind of alert dasguard raises itself rather than from a rule file (stream health, delivery), collected
 * from where each is declared. `dasguard.yaml` is checked against them: a route or suppression `rules:` pattern
 * may name these rule ids as well as the loaded rules, and suppression `keys` may name their facts.
 * A new kind of built-in alert is added here, or its rule id is "unknown" to every config.
 */
import { ALERT_TEST_ALERT, DELIVERY_FAILED_ALERT } from './delivery/ownAlerts.js';
import { DATA_KEY_FAILURE_ALERT } from './health/dataKeyFailure.js';
import type { AlertKind } from './health/healthAlert.js';
import { LOSS_WINDOW_ALERT } from './health/lossWindows.js';
import { SILENCE_ALERT } from './health/SilenceDetector.js';
import { STREAM_NOT_STARTED_ALERT } from './health/startupChecks.js';
import { TRIMMED_ALERT } from './health/trimmed.js';

export const BUILTIN_ALERTS: readonly AlertKind[] = [
  LOSS_WINDOW_ALERT,
  SILENCE_ALERT,
  TRIMMED_ALERT,
  STREAM_NOT_STARTED_ALERT,
  DATA_KEY_FAILURE_ALERT,
  DELIVERY_FAILED_ALERT,
  ALERT_TEST_ALERT,
];

export const BUILTIN_RULE_IDS: readonly string[] = BUILTIN_ALERTS.map((k) => k.ruleId);

/** Every key the `event` of a built-in alert may carry. */
export const BUILTIN_FACT_KEYS: readonly string[] = [...new Set(BUILTIN_ALERTS.flatMap((k) => k.facts))];
