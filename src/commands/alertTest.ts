/** `dasguard alert-test --route NAME`: one synthetic alert through every sink of a route, no outbox, one attempt. */
import { ConfigError, ExitCode } from '../errors.js';
import { deliveryConfigFor, type DeliveryOptions } from './deliveryOptions.js';
import { sendTestAlert } from '../delivery/syntheticAlerts.js';
import { loadRulesOrExit } from './common.js';
import type { Io } from './io.js';
import { terminalSafe } from '../util/escape.js';

export interface AlertTestOptions extends DeliveryOptions {
  route: string;
  /** The rules the config's `rules:` patterns are checked against; default ./rules, else the bundled pack. */
  rules?: string[];
}

export async function alertTestCommand(opts: AlertTestOptions, io: Io): Promise<number> {
  const { ruleSet } = await loadRulesOrExit(opts.rules, io);
  const config = await deliveryConfigFor(opts, io, ruleSet.rules.map((r) => r.id));
  if (!config) throw new ConfigError('no delivery config: give --config PATH (or create ./dasguard.yaml), or --sns-topic-arn / --slack-webhook-url');
  const results = await sendTestAlert(config, opts.route, { stdout: io.stdout, stderr: io.stderr });
  let failed = 0;
  for (const { sink, result } of results) {
    if (result.ok) io.stderr.write(`dasguard alert-test: sink '${sink}' accepted the test alert\n`);
    else {
      failed++;
      io.stderr.write(`dasguard alert-test: sink '${sink}' FAILED: ${terminalSafe(result.error)}\n`);
    }
  }
  io.stderr.write(`dasguard alert-test: route '${opts.route}': ${results.length - failed} of ${results.length} sink${results.length === 1 ? '' : 's'} accepted the alert\n`);
  return failed === 0 ? ExitCode.ok : 1; // 1: a sink refused the alert (the README documents it)
}

// ---- The command-line declaration of `alert-test` (src/cli.ts lists it; src/commands/command.ts).
// (what only the declaration needs is imported here, so this block stays apart from the command's code)
import { UsageError } from '../errors.js';
import { defineCommand, unlisted } from './command.js';
import { DELIVERY_OPTIONS, RULES_OPTION, deliveryOptions } from './options.js';

export const alertTestCli = defineCommand({
  name: 'alert-test',
  usage: 'Usage: dasguard alert-test --route NAME [--config PATH] [--rules PATH] [--sns-topic-arn ARN] [--slack-webhook-url URL]',
  description:
    "Sends one synthetic alert (rule dasguard.alert-test, with the route's redaction) straight to every sink of the\n" +
    'route, once, without the outbox. Exit 0 when every sink accepted it; 1 (with each sink\'s error) otherwise; 2 when\n' +
    'the config has problems. The shortcuts make routes named cli-sns and cli-slack.',
  options: {
    route: { type: 'string' },
    // The delivery flags: the usage line names them. --outbox-dir would have no effect (no outbox is used): refused.
    ...unlisted(DELIVERY_OPTIONS),
    'outbox-dir': { type: 'string', undocumented: 'refused with a usage error saying why: the test alert bypasses the outbox' },
    rules: {
      ...RULES_OPTION,
      help: "The rules the config's 'rules:' patterns must match (repeatable, or --rules a,b); default\n./rules, else the bundled baseline pack",
    },
  },
  run(v, positionals, io) {
    if (positionals.length > 0) throw new UsageError(`alert-test takes no PATH arguments; got "${positionals[0]}"`);
    if (v.route === undefined) throw new UsageError('alert-test needs --route NAME');
    if (v['outbox-dir'] !== undefined) {
      throw new UsageError('alert-test takes no --outbox-dir: it sends the test alert straight to each sink of the route, without the outbox');
    }
    return alertTestCommand({ route: v.route, ...deliveryOptions(v), ...(v.rules ? { rules: v.rules } : {}) }, io);
  },
});
