/**
 * Where alerts go once a record is processed. `handOff` resolves only when the alerts are durably accepted
 * (written to stdout, or persisted in the delivery outbox): a consumer advances its checkpoint past a record
 * only after the record's alerts were handed off. The adapter: src/delivery/DeliveryHandoff.ts, for a configured
 * delivery and for the built-in one that prints alerts without any config (src/delivery/consoleDelivery.ts).
 */
import type { Alert } from './alert.js';

export interface AlertHandoff {
  handOff(alerts: readonly Alert[]): Promise<void>;
  /** Flushes and releases resources; no handOff after close. */
  close(): Promise<void>;
}
