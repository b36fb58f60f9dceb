/**
 * The commands' delivery options (--config, the shortcuts, --outbox-dir) turned into a config and a
 * DeliveryHandoff, and the delivery line of their summary. Without any option (and no ./dasguard.yaml) there is
 * no config: the command prints its alerts through the built-in delivery (src/delivery/consoleDelivery.ts).
 */
import { resolveDeliveryConfig, shortcutConfig, type DeliveryConfig } from '../delivery/config.js';
import { DeliveryHandoff, type DeliveryHandoffOptions, type HandoffStats } from '../delivery/DeliveryHandoff.js';
import type { Io } from './io.js';
import { builtinDeliveryConfig } from '../delivery/consoleDelivery.js';
import type { OutputFormat } from '../pipeline/output.js';

export interface DeliveryOptions {
  /** --config PATH (default ./dasguard.yaml when present). */
  configPath?: string;
  /** --sns-topic-arn ARN: adds a route sending every alert to this topic. */
  snsTopicArn?: string;
  /** --slack-webhook-url URL: adds a route sending every alert to this webhook. */
  slackWebhookUrl?: string;
  /** --outbox-dir DIR */
  outboxDir?: string;
  /**
   * The command's --output: with shortcuts only (no config file), alerts are ALSO printed on stdout in this format,
   * as the built-in delivery prints them (the shortcuts add a destination, they take none away).
   */
  stdoutFormat?: OutputFormat;
}

/**
 * The config the options mean (the file, plus one route per shortcut); undefined when there is none.
 * `loadedRuleIds`: the ids of the rules the command loaded, which the config's `rules:` patterns must match.
 */
export async function deliveryConfigFor(
  opts: DeliveryOptions | undefined,
  io: Io,
  /** Undefined only for commands that evaluate no rules (`outbox`): then `rules:` patterns are not judged. */
  loadedRuleIds: readonly string[] | undefined,
): Promise<DeliveryConfig | undefined> {
  const base = await resolveDeliveryConfig(opts?.configPath, io.env, loadedRuleIds === undefined ? {} : { loadedRuleIds });
  if (opts?.snsTopicArn === undefined && opts?.slackWebhookUrl === undefined) return base;
  return shortcutConfig({ ...opts, base: base ?? { ...builtinDeliveryConfig(opts.stdoutFormat ?? 'text'), source: 'command line' } });
}

/** A DeliveryHandoff when the options (or ./dasguard.yaml) configure delivery; otherwise undefined. */
export async function openDelivery(
  opts: DeliveryOptions | undefined,
  io: Io,
  loadedRuleIds: readonly string[],
  extra: Pick<DeliveryHandoffOptions, 'persistSuppression'> = {},
): Promise<DeliveryHandoff | undefined> {
  return openConfiguredDelivery(await deliveryConfigFor(opts, io, loadedRuleIds), opts, io, extra);
}

/** `openDelivery` in two steps, for a command that has more to check between the config and the outbox. */
export async function openConfiguredDelivery(
  config: DeliveryConfig | undefined,
  opts: DeliveryOptions | undefined,
  io: Io,
  extra: Pick<DeliveryHandoffOptions, 'persistSuppression' | 'log'> = {},
): Promise<DeliveryHandoff | undefined> {
  if (!config) return undefined;
  return DeliveryHandoff.open(config, {
    ...extra,
    stdout: io.stdout,
    stderr: io.stderr,
    ...(opts?.outboxDir !== undefined ? { outboxDir: opts.outboxDir } : {}),
  });
}

export function formatDeliverySummary(s: HandoffStats, outboxDir: string): string {
  const parts = [`${s.delivered} deliveries done`, `${s.retries} retried`, `${s.deadLettered} dead-lettered`, `${s.suppressed} suppressed`];
  if (s.recovered > 0) parts.push(`${s.recovered} resumed from the outbox`);
  if (s.unrouted > 0) parts.push(`${s.unrouted} matched no route`);
  if (s.pending > 0) parts.push(`${s.pending} still pending in ${outboxDir}`);
  return `  delivery: ${parts.join(', ')}`;
}
