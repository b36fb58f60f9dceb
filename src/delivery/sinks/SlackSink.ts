/** Slack incoming webhook: a Block Kit message per alert (slackMessage.ts); honours 429 Retry-After. */
import type { SlackSinkConfig } from '../config.js';
import type { DeliveredAlert, SendResult, Sink } from '../types.js';
import { postJson } from './http.js';
import { slackMessage } from './slackMessage.js';

export class SlackSink implements Sink {
  readonly type = 'slack';
  readonly maxBatch = 1;
  private readonly secrets: string[];

  constructor(
    readonly name: string,
    private readonly config: SlackSinkConfig,
    secrets: readonly string[] = [],
  ) {
    this.secrets = [config.url, ...secrets];
  }

  async send(alerts: readonly DeliveredAlert[]): Promise<SendResult[]> {
    const out: SendResult[] = [];
    for (const a of alerts) {
      out.push(await postJson(this.config.url, slackMessage(a), { timeoutMs: this.config.timeoutMs ?? 10_000, secrets: this.secrets, what: `slack sink '${this.name}'` }));
    }
    return out;
  }

  async close(): Promise<void> {
    // nothing held
  }
}
