/**
 * `dasguard watch --cluster ID [--once]`: the RDS events watcher on its own (cron, or beside a Lambda
 * consumer). Alerts on stdout like replay (text or JSON Lines), or through the configured delivery (dasguard.yaml,
 * the shortcuts) like `run`; a summary log line per poll on stderr (the one logger: JSON when stderr is not a
 * terminal). IAM: rds:DescribeEvents.
 */
import type { RDSClient } from '@aws-sdk/client-rds';
import { ExitCode, ExitError, TransientError, errorMessage, stopped } from '../errors.js';
import { createRdsClient } from '../aws/rds.js';
import { loadLossPatterns, openWindows } from '../health/lossWindows.js';
import { RdsEventsWatcher, type PollResult } from '../health/RdsEventsWatcher.js';
import { consoleHandoff } from '../delivery/consoleDelivery.js';
import type { OutputFormat } from '../pipeline/output.js';
import { loadRulesOrExit } from './common.js';
import { formatDeliverySummary, openDelivery, type DeliveryOptions } from './deliveryOptions.js';
import type { AlertHandoff } from '../pipeline/AlertHandoff.js';
import { colorOutput, type Io } from './io.js';
import { sleep } from '../util/backoff.js';
import { agree, count } from '../util/plural.js';
import { openLog, type Log, type LogLevel } from '../log/logger.js';
import { sdkNodeNote } from '../aws/nodeSupport.js';

export interface WatchOptions {
  cluster: string;
  once: boolean;
  output: OutputFormat;
  /** Text alerts with the record's position and the runbook (--verbose). */
  verbose?: boolean;
  rules?: string[];
  stateDir: string;
  /** Milliseconds between polls (without --once). */
  intervalMs: number;
  lossPatterns?: string;
  /** First poll without state: how far back, in hours (at most 336, the 14 days RDS keeps events). */
  lookbackHours: number;
  summary: boolean;
  /** Alert delivery (dasguard.yaml or the shortcuts); without any, alerts go to stdout. */
  delivery?: DeliveryOptions;
  /** --log-level (or DASGUARD_LOG_LEVEL): the least level of the log lines on stderr (default info). */
  logLevel?: LogLevel;
}

export interface WatchDeps {
  rds?: RDSClient;
  /** Ends the loop (tests); SIGINT/SIGTERM do the same for people. */
  signal?: AbortSignal;
}

export async function watchCommand(opts: WatchOptions, io: Io, deps: WatchDeps = {}): Promise<number> {
  const { log } = openLog(io.stderr, opts.logLevel !== undefined ? { level: opts.logLevel } : {});
  const note = sdkNodeNote();
  if (note) log({ level: 'debug', msg: note });
  const { ruleSet } = await loadRulesOrExit(opts.rules, io);
  const patterns = await loadLossPatterns(opts.lossPatterns);
  const delivery = await openDelivery({ ...opts.delivery, stdoutFormat: opts.output }, io, ruleSet.rules.map((r) => r.id));
  const rds = deps.rds ?? createRdsClient();
  const handoff: AlertHandoff = delivery ?? consoleHandoff(io.stdout, opts.output, colorOutput(opts.output, io), opts.verbose);
  const watcher = new RdsEventsWatcher({
    client: rds,
    clusterId: opts.cluster,
    stateDir: opts.stateDir,
    rules: ruleSet,
    patterns,
    lookbackMs: opts.lookbackHours * 3600_000,
  });
  const report = (r: PollResult) => {
    if (!opts.summary) return;
    const open = openWindows(r.state.lossWindows);
    log({
      level: 'info',
      msg:
        `watch ${opts.cluster}: ${count(r.fetched, 'event')} fetched, ${r.newEvents.length} new, ${count(r.alerts.length, 'alert')}; ` +
        (open.length === 0 ? 'no open loss window' : `OPEN ${agree(open.length, 'loss window', 'loss windows')} since ${open.map((w) => w.start).join(', ')}`),
      cluster: opts.cluster,
      fetched: r.fetched,
      new: r.newEvents.length,
      alerts: r.alerts.length,
      openLossWindows: open.map((w) => w.start),
    });
  };
  let failed = false;
  try {
    if (opts.once) report(await watcher.poll(handoff));
    else await pollUntilStopped(watcher, handoff, report, opts, log, deps.signal);
  } catch (err) {
    failed = true;
    throw stopped(err);
  } finally {
    if (!deps.rds) rds.destroy();
    // After a failure, that failure is what the user needs to see; a close that fails too only adds a line.
    await handoff.close().catch((err: unknown) => {
      if (!failed) throw err;
      log({ level: 'error', msg: errorMessage(err) });
    });
  }
  if (delivery) {
    const d = delivery.stats();
    if (opts.summary) log({ level: 'info', msg: formatDeliverySummary(d, delivery.outboxDir).trim(), ...d });
    if (d.pending > 0 || d.deadLettered > 0) {
      throw new ExitError(ExitCode.unavailable, `${d.pending} alert deliveries still pending in ${delivery.outboxDir}, ${d.deadLettered} dead-lettered: run again to resume, see the dead-letter file`);
    }
  }
  return ExitCode.ok;
}

/** Polls every `intervalMs` until SIGINT, SIGTERM or `signal`; a transient failure is reported and retried. */
async function pollUntilStopped(
  watcher: RdsEventsWatcher,
  handoff: AlertHandoff,
  report: (r: PollResult) => void,
  opts: WatchOptions,
  log: Log,
  signal: AbortSignal | undefined,
): Promise<void> {
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  signal?.addEventListener('abort', onSignal, { once: true });
  try {
    while (!stop.signal.aborted) {
      try {
        report(await watcher.poll(handoff, stop.signal));
      } catch (err) {
        if (stop.signal.aborted) break;
        // nothing is lost: the state did not move; the next poll asks again
        if (!(err instanceof TransientError)) throw err;
        log({ level: 'warn', msg: `watch: ${errorMessage(err)}; retrying in ${opts.intervalMs / 1000} s`, error: errorMessage(err), retryInMs: opts.intervalMs });
      }
      await sleep(opts.intervalMs, stop.signal);
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    signal?.removeEventListener('abort', onSignal);
  }
}

// ---- The command-line declaration of `watch` (src/cli.ts lists it; src/commands/command.ts).
// (what only the declaration needs is imported here, so this block stays apart from the command's code)
import { UsageError } from '../errors.js';
import { defineCommand } from './command.js';
import { DEFAULT_STATE_DIR } from '../health/stateFile.js';
import { ALERT_OUTPUT_OPTION, LOG_LEVEL_OPTION, VERBOSE_OPTION, DELIVERY_OPTIONS, LOSS_PATTERNS_OPTION, RULES_OPTION, alertOutputOption, deliveryOptions, durationOption, logLevelOption, positiveInt } from './options.js';

export const watchCli = defineCommand({
  name: 'watch',
  usage: 'Usage: dasguard watch --cluster ID [options]',
  description:
    "Polls the cluster's RDS events (DescribeEvents) and alerts on windows in which activity records may have been\n" +
    "lost (open, then closed with start, end and duration) and on the 'target: rds-event' rules (stream stopped,\n" +
    'failover...). A cursor in --state-dir makes restarts miss nothing and repeat nothing.',
  options: {
    cluster: { type: 'string', label: '--cluster ID', help: 'Aurora DB cluster identifier (required)' },
    once: { type: 'boolean', default: false, label: '--once', help: 'Poll once and exit (cron, CI); default: poll every --interval until Ctrl-C' },
    interval: { type: 'string', default: '60s', label: '--interval D', help: 'Between polls: a duration such as 30s, 10m or 1h (default 60s)' },
    rules: RULES_OPTION,
    output: ALERT_OUTPUT_OPTION,
    verbose: VERBOSE_OPTION,
    'state-dir': { type: 'string', default: DEFAULT_STATE_DIR, label: '--state-dir DIR', help: `Where the cursor and loss windows are kept (default ${DEFAULT_STATE_DIR})` },
    'loss-patterns': LOSS_PATTERNS_OPTION,
    'lookback-hours': { type: 'string', default: '24', label: '--lookback-hours N', help: 'First poll without state: how far back (default 24, at most 336)' },
    quiet: { type: 'boolean', short: 'q', default: false, label: '-q, --quiet', help: 'No summary on stderr' },
    'log-level': LOG_LEVEL_OPTION,
    ...DELIVERY_OPTIONS,
  },
  run(v, positionals, io) {
    if (positionals.length > 0) throw new UsageError(`watch takes no positional arguments; got "${positionals[0]}"`);
    if (v.cluster === undefined) throw new UsageError('watch needs --cluster ID');
    const lookback = positiveInt('lookback-hours', v['lookback-hours']);
    if (lookback > 336) throw new UsageError(`--lookback-hours must be at most 336 (RDS keeps events 14 days); got ${lookback}`);
    return watchCommand(
      {
        cluster: v.cluster,
        once: v.once,
        output: alertOutputOption(v.output),
        verbose: v.verbose,
        rules: v.rules,
        stateDir: v['state-dir'],
        intervalMs: durationOption('interval', v.interval),
        ...(v['loss-patterns'] !== undefined ? { lossPatterns: v['loss-patterns'] } : {}),
        lookbackHours: lookback,
        summary: !v.quiet,
        delivery: deliveryOptions(v),
        logLevel: logLevelOption(v['log-level'], io.env),
      },
      io,
    );
  },
});
