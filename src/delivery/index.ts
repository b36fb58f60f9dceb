/** Alert delivery as the public API gives it (src/index.ts re-exports these names): config, routing, redaction, the durable outbox and the sinks' port. */
export { DeliveryHandoff, DEFAULT_OUTBOX_DIR, type DeliveryHandoffOptions, type HandoffStats } from './DeliveryHandoff.js';
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
export { Router } from './routing.js';
export { maskSecrets, maskUrl } from './secrets.js';
export { redactAlert, redactEvent, type RedactionMode } from '../redaction/index.js';
export type { DeliveredAlert, SendResult, Sink } from './types.js';
