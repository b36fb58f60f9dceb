/**
 * `dasguard outbox status`: what the delivery outbox holds (pending per sink, dead letters, quarantined files,
 * open suppression windows), read without opening it. `dasguard outbox resend`: dead-lettered and quarantined
 * alerts back into the outbox for their sink (or another) and delivered; exit codes as replay's delivery.
 */
import { count } from '../util/plural.js';
import { join } from 'node:path';
import { ConfigError, ExitCode, ExitError } from '../errors.js';
import { deliveryConfigFor, formatDeliverySummary, openConfiguredDelivery, type DeliveryOptions } from './deliveryOptions.js';
import { SUPPRESSION_STATE_FILE, readSuppressionState } from '../delivery/suppressionState.js';
import { outboxDir } from '../config/layers.js';
import { Outbox, type OutboxStatus } from '../delivery/Outbox.js';
import type { Io } from './io.js';

export interface OutboxStatusOptions {
  delivery: DeliveryOptions;
  output: 'text' | 'json';
}

export interface OutboxResendOptions {
  delivery: DeliveryOptions;
  /** Only the dead letters (and quarantined jobs) of this sink. */
  sink?: string;
  /** Deliver them to this sink instead. */
  to?: string;
}

export async function outboxStatusCommand(opts: OutboxStatusOptions, io: Io): Promise<number> {
  // --outbox-dir needs no config (whose secrets may not be in this shell's environment).
  const flag = opts.delivery.outboxDir;
  const dir = outboxDir({ flag, file: flag === undefined ? (await deliveryConfigFor(opts.delivery, io, undefined))?.delivery.outboxDir : undefined });
  const status = await Outbox.inspect(dir);
  const suppressionWindows = await openWindows(join(dir, SUPPRESSION_STATE_FILE));
  if (opts.output === 'json') {
    const { dir: outboxDir, ...rest } = status;
    io.stdout.write(JSON.stringify({ outboxDir, ...rest, suppressionWindows }, null, 2) + '\n');
    return ExitCode.ok;
  }
  io.stdout.write(formatStatus(status, suppressionWindows));
  return ExitCode.ok;
}

export async function outboxResendCommand(opts: OutboxResendOptions, io: Io): Promise<number> {
  // The outbox commands evaluate no rules: the config's `rules:` patterns are not judged here.
  const config = await deliveryConfigFor(opts.delivery, io, undefined);
  if (!config) throw new ConfigError('outbox resend needs the delivery config that names the sinks: give --config PATH (or create ./dasguard.yaml), or --sns-topic-arn / --slack-webhook-url');
  const delivery = (await openConfiguredDelivery(config, opts.delivery, io))!;
  const say = (m: string) => io.stderr.write(`dasguard outbox resend: ${m}\n`);
  try {
    const { moved, unknownSinks } = await delivery.resend({ ...(opts.sink !== undefined ? { sink: opts.sink } : {}), ...(opts.to !== undefined ? { to: opts.to } : {}) });
    if (moved.fromDeadLetters > 0) say(`${count(moved.fromDeadLetters, 'dead-lettered alert')} re-queued`);
    if (moved.fromQuarantine > 0) say(`${count(moved.fromQuarantine, 'quarantined alert')} re-queued`);
    for (const [sink, n] of unknownSinks) {
      say(`${count(n, 'alert')} for sink '${sink}', which ${config.source} does not declare, left where they are (--to SINK sends them to another sink)`);
    }
    if (opts.sink !== undefined && moved.kept > 0) say(`${count(moved.kept, 'alert')} for other sinks left where they are`);
    if (moved.fromDeadLetters + moved.fromQuarantine === 0) say(`nothing to resend in ${delivery.outboxDir}${opts.sink !== undefined ? ` for sink '${opts.sink}'` : ''}`);
  } finally {
    await delivery.close();
  }
  const s = delivery.stats();
  io.stderr.write(formatDeliverySummary(s, delivery.outboxDir) + '\n');
  if (s.pending > 0 || s.deadLettered > 0) {
    throw new ExitError(
      ExitCode.unavailable,
      `${s.pending} alert deliveries still pending in ${delivery.outboxDir}, ${s.deadLettered} dead-lettered again: run 'dasguard outbox resend' again once the sink is back (nothing is sent twice)`,
    );
  }
  return ExitCode.ok;
}

function formatStatus(s: OutboxStatus, windows: number | string): string {
  const perSink = (m: Record<string, number>) => {
    const entries = Object.entries(m).sort(([a], [b]) => (a < b ? -1 : 1));
    const total = entries.reduce((n, [, v]) => n + v, 0);
    return entries.length === 0 ? '0' : `${total} (${entries.map(([k, v]) => `${k}: ${v}`).join(', ')})`;
  };
  const lines = [`outbox ${s.dir}`, `  pending: ${perSink(s.pending)}`];
  lines.push(`  dead-lettered: ${perSink(s.deadLettered)}${s.unreadableDeadLetters > 0 ? `; ${s.unreadableDeadLetters} unreadable line(s) kept as they are` : ''}`);
  lines.push(`  quarantined: ${s.quarantined.length} file${s.quarantined.length === 1 ? '' : 's'}`);
  for (const q of s.quarantined) {
    lines.push(`    ${q.file}: ${q.readable}${q.expected !== null ? ` of ${q.expected}` : ''} deliveries readable, ${q.resendable} not yet re-queued (${q.damage})`);
  }
  lines.push(`  suppression windows open: ${windows}`);
  const resendable = Object.values(s.deadLettered).reduce((a, b) => a + b, 0) + s.quarantined.reduce((n, q) => n + q.resendable, 0);
  if (resendable > 0) lines.push(`dasguard outbox resend [--sink NAME] [--to NAME] re-queues ${resendable} of them`);
  return lines.join('\n') + '\n';
}

/** Open windows in the suppression state file (0 when there is none), or why it cannot be read. */
async function openWindows(path: string): Promise<number | string> {
  try {
    return (await readSuppressionState(path))?.windows.length ?? 0;
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
}

// ---- The command-line declaration of `outbox` (src/cli.ts lists it; src/commands/command.ts).
// (what only the declaration needs is imported here, so this block stays apart from the command's code)
import { UsageError } from '../errors.js';
import { DEFAULT_OUTBOX_DIR } from '../config/layers.js';
import { defineCommand, renderHelp } from './command.js';
import { DELIVERY_OPTIONS, DOCUMENT_OUTPUT_OPTION, deliveryOptions, documentOutputOption } from './options.js';

export const outboxCli = defineCommand({
  name: 'outbox',
  usage:
    'Usage: dasguard outbox status [--config PATH] [--outbox-dir DIR] [--output text|json]\n' +
    '       dasguard outbox resend [--config PATH] [--outbox-dir DIR] [--sink NAME] [--to NAME]',
  description:
    'status: alert deliveries pending per sink, dead letters per sink, damaged batch files in quarantine/ (how many of\n' +
    'their deliveries are readable and not yet re-queued), open suppression windows. Reads the directory only.\n' +
    '\n' +
    'resend: moves the dead-lettered alerts (dead-letter.jsonl), and the readable quarantined ones not yet re-queued,\n' +
    'back into the outbox for their sink, redacted again with the strictest redaction of the routes using that sink,\n' +
    'and delivers them (with what was still pending). Running it again never sends twice what it already re-queued.\n' +
    'Exit 0 when everything was delivered, 4 when some are still pending or were dead-lettered again, 2 for a config\n' +
    'problem. Needs the delivery config that names the sinks (an outbox is used by one process at a time).',
  options: {
    // the help lists --outbox-dir right after --config
    ...{ config: DELIVERY_OPTIONS.config, 'outbox-dir': DELIVERY_OPTIONS['outbox-dir'] },
    ...DELIVERY_OPTIONS,
    config: { ...DELIVERY_OPTIONS.config, help: "Delivery config (default ./dasguard.yaml); its delivery.outboxDir is the outbox" },
    'outbox-dir': { ...DELIVERY_OPTIONS['outbox-dir'], help: `The outbox (default ${DEFAULT_OUTBOX_DIR})` },
    'sns-topic-arn': {
      ...DELIVERY_OPTIONS['sns-topic-arn'],
      label: '--sns-topic-arn ARN, --slack-webhook-url URL',
      help: 'The shortcut sinks (cli-sns, cli-slack) a replay or run used',
    },
    'slack-webhook-url': { type: 'string' },
    sink: { type: 'string', label: '--sink NAME', help: 'resend: only the alerts that were meant for sink NAME' },
    to: { type: 'string', label: '--to NAME', help: 'resend: deliver them to sink NAME instead of their own' },
    output: { ...DOCUMENT_OUTPUT_OPTION, help: 'status: for people (default) or one JSON document (jsonl: the same)' },
  },
  run(v, positionals, io) {
    const [action, ...extra] = positionals;
    if (action !== 'status' && action !== 'resend') throw new UsageError(`outbox needs 'status' or 'resend'; got ${action === undefined ? 'nothing' : `"${action}"`}\n\n${renderHelp(outboxCli)}`);
    if (extra.length > 0) throw new UsageError(`outbox ${action}: unexpected argument "${extra[0]}"`);
    if (action === 'status') {
      if (v.sink !== undefined || v.to !== undefined) throw new UsageError('--sink and --to are for outbox resend');
      return outboxStatusCommand({ delivery: deliveryOptions(v), output: documentOutputOption(v.output) }, io);
    }
    return outboxResendCommand({ delivery: deliveryOptions(v), ...(v.sink !== undefined ? { sink: v.sink } : {}), ...(v.to !== undefined ? { to: v.to } : {}) }, io);
  },
});
