/** What the delivery module's parts agree on: the sink port, send results, and the alert as delivered. */
import type { LogLevel } from '../log/logger.js';
import type { Alert } from '../pipeline/alert.js';

/**
 * A delivery log line: the message and its fields (`sink`, `attempt`, `error`...); `level` defaults to warn. The
 * handoff masks the config's secrets in both before the line reaches the logger (src/log/logger.ts).
 */
export type DeliveryLog = (msg: string, fields?: { level?: LogLevel; [field: string]: unknown }) => void;

/** An alert on its way to a sink: redacted for its route, maybe with a suppression count (and `truncated`, from Alert). */
export interface DeliveredAlert extends Alert {
  /** Alerts like this one that suppression held back (in the window this alert closes, or this digest reports). */
  suppressedCount?: number;
  /**
   * On a suppression digest until it is rendered for a route (Suppressor.renderDigest); never in the outbox: the
   * first alert's id, the window and the key fields the message names.
   */
  suppression?: { firstId: string; windowMs: number; keys: string[] };
}

/** The outcome of sending one alert to one sink. */
export type SendResult =
  | { ok: true }
  | {
      ok: false;
      /** Already masked: never holds a webhook URL or header secret. */
      error: string;
      /** 5xx, timeouts, connection failures and throttling are retryable; other 4xx are not. */
      retryable: boolean;
      /** The server said when to come back (Slack 429 Retry-After). */
      retryAfterMs?: number;
    };

/** A place alerts go (SNS, Slack, webhook, console, file). Adapters in src/delivery/sinks/. */
export interface Sink {
  readonly name: string;
  readonly type: string;
  /** Most alerts one `send` takes (SNS PublishBatch: 10; the others: 1 or more). */
  readonly maxBatch: number;
  /** One result per alert, in order. Never throws for a delivery failure: it returns `ok: false`. */
  send(alerts: readonly DeliveredAlert[]): Promise<SendResult[]>;
  close(): Promise<void>;
}
