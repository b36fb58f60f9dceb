/**
 * Amazon SNS: `Publish`, or `PublishBatch` (10 entries, 256 KB in all) when alerts queue up; per-entry failures
 * are reported per alert, so only those are retried. Message attributes (severity, ruleId, cluster, tags) serve
 * subscription filter policies; FIFO topics get MessageGroupId = cluster and MessageDeduplicationId = alert id.
 * IAM: sns:Publish on the topic ARN (PublishBatch uses the same action); kms:GenerateDataKey* and kms:Decrypt on
 * the topic's key when it is encrypted with a customer managed key.
 */
import { PublishBatchCommand, PublishCommand, SNSClient, type MessageAttributeValue, type PublishBatchRequestEntry } from '@aws-sdk/client-sns';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { fitAlert } from '../../pipeline/alertSize.js';
import type { SnsSinkConfig } from '../config.js';
import type { DeliveredAlert, SendResult, Sink } from '../types.js';

/** SNS: a message (with its attributes) is at most 256 KiB; so is a whole PublishBatch request's messages. */
const SNS_MAX_BYTES = 262_144;
/** Room kept for the attributes and the request's own overhead. */
const MARGIN = 2048;
const SUBJECT_MAX = 99; // "must be less than 100 characters"

const THROTTLING = new Set(['Throttling', 'ThrottlingException', 'ThrottledException', 'KMSThrottlingException', 'TooManyRequestsException', 'RequestLimitExceeded']);

export interface SnsSinkOptions {
  /** A ready client (tests, shared clients); otherwise one is built from the config. */
  client?: SNSClient;
}

export class SnsSink implements Sink {
  readonly type = 'sns';
  readonly maxBatch: number;
  private readonly client: SNSClient;
  private readonly fifo: boolean;

  constructor(
    readonly name: string,
    private readonly config: SnsSinkConfig,
    opts: SnsSinkOptions = {},
  ) {
    this.maxBatch = config.batch === false ? 1 : 10;
    this.fifo = config.topicArn.endsWith('.fifo');
    const timeout = config.timeoutMs ?? 10_000;
    this.client =
      opts.client ??
      new SNSClient({
        region: config.region ?? config.topicArn.split(':')[3],
        // Retries are the dispatcher's (backoff, dead letters, counted): one SDK attempt per send.
        maxAttempts: 1,
        // throwOnRequestTimeout: without it the handler only logs a warning and waits forever.
        requestHandler: new NodeHttpHandler({ connectionTimeout: timeout, requestTimeout: timeout, throwOnRequestTimeout: true }),
        ...(config.endpoint !== undefined ? { endpoint: config.endpoint } : {}),
      });
  }

  async send(alerts: readonly DeliveredAlert[]): Promise<SendResult[]> {
    if (alerts.length === 1 || this.maxBatch === 1) {
      const out: SendResult[] = [];
      for (const a of alerts) out.push(await this.publishOne(a));
      return out;
    }
    const entries = alerts.map((a, i) => this.entry(a, `m${i}`));
    const results: SendResult[] = new Array<SendResult>(alerts.length);
    // Groups of at most 10 entries whose messages total at most 256 KiB.
    let group: number[] = [];
    let bytes = 0;
    const flush = async () => {
      if (group.length > 0) await this.publishBatch(group, entries, results);
      group = [];
      bytes = 0;
    };
    for (let i = 0; i < entries.length; i++) {
      const size = Buffer.byteLength(entries[i]!.Message ?? '') + attributeBytes(entries[i]!.MessageAttributes);
      if (group.length === 10 || bytes + size > SNS_MAX_BYTES - MARGIN) await flush();
      group.push(i);
      bytes += size;
    }
    await flush();
    return results;
  }

  private async publishOne(a: DeliveredAlert): Promise<SendResult> {
    const e = this.entry(a, 'one');
    try {
      await this.client.send(
        new PublishCommand({
          TopicArn: this.config.topicArn,
          Message: e.Message,
          Subject: e.Subject,
          MessageAttributes: e.MessageAttributes,
          MessageGroupId: e.MessageGroupId,
          MessageDeduplicationId: e.MessageDeduplicationId,
        }),
      );
      return { ok: true };
    } catch (err) {
      return this.failure(err);
    }
  }

  private async publishBatch(group: number[], entries: PublishBatchRequestEntry[], results: SendResult[]): Promise<void> {
    try {
      const out = await this.client.send(new PublishBatchCommand({ TopicArn: this.config.topicArn, PublishBatchRequestEntries: group.map((i) => entries[i]!) }));
      const failed = new Map((out.Failed ?? []).map((f) => [f.Id, f]));
      for (const i of group) {
        const f = failed.get(entries[i]!.Id);
        if (f === undefined) results[i] = { ok: true };
        else {
          const retryable = f.SenderFault === false || THROTTLING.has(f.Code ?? '');
          results[i] = { ok: false, retryable, error: `sns sink '${this.name}': ${f.Code ?? 'failed'}${f.Message ? `: ${f.Message}` : ''}` };
        }
      }
    } catch (err) {
      const r = this.failure(err);
      for (const i of group) results[i] = r;
    }
  }

  private failure(err: unknown): SendResult {
    const e = err as { name?: string; message?: string; code?: string; $metadata?: { httpStatusCode?: number }; $retryable?: unknown };
    const status = e.$metadata?.httpStatusCode;
    const name = e.name ?? 'Error';
    const retryable = THROTTLING.has(name) || status === undefined || status >= 500 || status === 429 || status === 408 || e.$retryable !== undefined || name === 'TimeoutError';
    return { ok: false, retryable, error: `sns sink '${this.name}': ${name}${status !== undefined ? ` (HTTP ${status})` : ''}: ${e.message ?? String(err)}` };
  }

  private entry(a: DeliveredAlert, id: string): PublishBatchRequestEntry {
    const attrs = messageAttributes(a);
    const entry: PublishBatchRequestEntry = {
      Id: id,
      Message: fitAlert(a, SNS_MAX_BYTES - MARGIN - attributeBytes(attrs)).json,
      Subject: snsSubject(a),
      MessageAttributes: attrs,
    };
    if (this.fifo) {
      entry.MessageGroupId = (a.clusterId ?? 'dasguard').slice(0, 128);
      entry.MessageDeduplicationId = a.id.slice(0, 128);
    }
    return entry;
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}

/**
 * SNS Subject rules: ASCII, no line breaks or control characters, starts with a letter, number or punctuation
 * mark, fewer than 100 characters. `[HIGH] rule-id on cluster-…`.
 */
function snsSubject(a: DeliveredAlert): string {
  const raw = `[${a.severity.toUpperCase()}] ${a.ruleId}${a.clusterId ? ` on ${a.clusterId}` : ''}`;
  const ascii = raw.replace(/[^\x20-\x7e]/g, '?').replace(/\s+/g, ' ').trim();
  return ascii.length <= SUBJECT_MAX ? ascii : `${ascii.slice(0, SUBJECT_MAX - 1)}~`;
}

/** severity, ruleId, cluster (String) and tags (String.Array), for subscription filter policies. Empty ones left out. */
function messageAttributes(a: DeliveredAlert): Record<string, MessageAttributeValue> {
  const attrs: Record<string, MessageAttributeValue> = {
    severity: { DataType: 'String', StringValue: a.severity },
    ruleId: { DataType: 'String', StringValue: a.ruleId },
  };
  if (a.clusterId) attrs.cluster = { DataType: 'String', StringValue: a.clusterId };
  if (a.tags.length > 0) attrs.tags = { DataType: 'String.Array', StringValue: JSON.stringify(a.tags) };
  return attrs;
}

function attributeBytes(attrs: Record<string, MessageAttributeValue> | undefined): number {
  let n = 0;
  for (const [k, v] of Object.entries(attrs ?? {})) n += Buffer.byteLength(k) + Buffer.byteLength(v.DataType ?? '') + Buffer.byteLength(v.StringValue ?? '');
  return n;
}
