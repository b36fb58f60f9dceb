/** Builds a sink from its config. */
import type { Writable } from 'node:stream';
import type { SNSClient } from '@aws-sdk/client-sns';
import type { SinkConfig } from '../config.js';
import type { Sink } from '../types.js';
import { ConsoleSink } from './ConsoleSink.js';
import { FileSink } from './FileSink.js';
import { SlackSink } from './SlackSink.js';
import { SnsSink } from './SnsSink.js';
import { WebhookSink } from './WebhookSink.js';

export interface SinkDeps {
  stdout: Writable;
  stderr: Writable;
  /** Every secret of the config, masked in the sink's errors. */
  secrets: readonly string[];
  snsClient?: SNSClient;
}

export function createSink(name: string, config: SinkConfig, deps: SinkDeps): Sink {
  switch (config.type) {
    case 'sns':
      return new SnsSink(name, config, deps.snsClient ? { client: deps.snsClient } : {});
    case 'slack':
      return new SlackSink(name, config, deps.secrets);
    case 'webhook':
      return new WebhookSink(name, config, deps.secrets);
    case 'console':
      return new ConsoleSink(name, config.stream === 'stderr' ? deps.stderr : deps.stdout, config.format ?? 'text');
    case 'file':
      return new FileSink(name, config);
  }
}

export { ConsoleSink, FileSink, SlackSink, SnsSink, WebhookSink };
