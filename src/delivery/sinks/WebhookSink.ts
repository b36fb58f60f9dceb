/** Generic webhook: each alert as one JSON POST, with optional headers (secrets from ${ENV}). */
import type { WebhookSinkConfig } from '../config.js';
import type { DeliveredAlert, SendResult, Sink } from '../types.js';
import { postJson } from './http.js';

export class WebhookSink implements Sink {
  readonly type = 'webhook';
  readonly maxBatch = 1;
  private readonly secrets: string[];

  constructor(
    readonly name: string,
    private readonly config: WebhookSinkConfig,
    secrets: readonly string[] = [],
  ) {
    this.secrets = [config.url, ...Object.values(config.headers ?? {}), ...secrets];
  }

  async send(alerts: readonly DeliveredAlert[]): Promise<SendResult[]> {
    const out: SendResult[] = [];
    for (const a of alerts) {
      const opts: Parameters<typeof postJson>[2] = { timeoutMs: this.config.timeoutMs ?? 10_000, secrets: this.secrets, what: `webhook sink '${this.name}'` };
      if (this.config.headers) opts.headers = this.config.headers;
      out.push(await postJson(this.config.url, a, opts));
    }
    return out;
  }

  async close(): Promise<void> {
    // fetch keeps no per-sink state
  }
}
