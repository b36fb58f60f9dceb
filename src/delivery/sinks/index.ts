/** Builds sinks from their config: one (`createSink`), or every sink a delivery config declares (`buildSinks`). */
import type { Writable } from 'node:stream';
import type { SNSClient } from '@aws-sdk/client-sns';
import type { DeliveryConfig, SinkConfig } from '../config.js';
import type { Sink } from '../types.js';
import { ConsoleSink } from './ConsoleSink.js';
import { FileSink } from './FileSink.js';
import { SlackSink } from './SlackSink.js';
import { SnsSink } from './SnsSink.js';
import { WebhookSink } from './WebhookSink.js';

/** What sinks are built with, beside their config. */
export interface SinkStreams {
  stdout: Writable;
  stderr: Writable;
  snsClient?: SNSClient;
}

export interface SinkDeps extends SinkStreams {
  /** Every secret of the config, masked in the sink's errors. */
  secrets: readonly string[];
}

function createSink(name: string, config: SinkConfig, deps: SinkDeps): Sink {
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

/** Every sink of `config`, by name; their errors mask the config's secrets. */
export function buildSinks(config: DeliveryConfig, deps: SinkStreams): Map<string, Sink> {
  const sinks = new Map<string, Sink>();
  for (const [name, sc] of Object.entries(config.sinks)) sinks.set(name, createSink(name, sc, { ...deps, secrets: config.secrets }));
  return sinks;
}

export { ConsoleSink, FileSink, SlackSink, SnsSink, WebhookSink };
