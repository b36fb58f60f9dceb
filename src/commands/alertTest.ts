/** `dasguard alert-test --route NAME`: one synthetic alert through every sink of a route, no outbox, one attempt. */
import { ConfigError, ExitCode } from '../errors.js';
import { deliveryConfigFor, type DeliveryOptions } from './deliveryOptions.js';
import { sendTestAlert } from '../delivery/syntheticAlerts.js';
import { loadRulesOrExit, type Io } from './common.js';
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
  const results = await sendTestAlert(config, opts.route, { stdout: io.stdout as never, stderr: io.stderr });
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
