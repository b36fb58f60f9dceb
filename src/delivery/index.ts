/** Alert delivery: config, routing, suppression, redaction, the durable outbox and the sinks. */
export { DeliveryHandoff, DEFAULT_OUTBOX_DIR, type DeliveryHandoffOptions, type HandoffStats } from './DeliveryHandoff.js';
export { builtinDeliveryConfig, consoleHandoff } from './consoleDelivery.js';
export { sendTestAlert, testAlert } from './syntheticAlerts.js';
export {
  DEFAULT_CONFIG_FILE,
  formatConfigProblem,
  loadDeliveryConfig,
  parseDeliveryConfig,
  resolveDeliveryConfig,
  shortcutConfig,
  type DeliveryConfig,
  type RouteConfig,
  type SinkConfig,
} from './config.js';
export { CONFIG_SPEC, toJsonSchema } from './configSchema.js';
export { Router } from './routing.js';
export { globToRegExp } from '../util/glob.js';
export { maskSecrets, maskUrl } from './secrets.js';
export { redactAlert, redactEvent, type RedactionMode } from '../redaction/index.js';
export type { DeliveredAlert, SendResult, Sink } from './types.js';
