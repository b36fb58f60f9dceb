/**
 * `dasguard watch --cluster ID [--once]`: the RDS events watcher on its own (cron, or beside a Lambda
 * consumer). Alerts on stdout like replay (text or JSON Lines); a summary on stderr. IAM: rds:DescribeEvents.
 */
import type { RDSClient } from '@aws-sdk/client-rds';
import { ConfigError, ExitCode, ExitError, TransientError, errorMessage } from '../errors.js';
import { createRdsClient } from '../aws/rds.js';
import { loadLossPatterns, openWindows } from '../health/lossWindows.js';
import { RdsEventsWatcher, type PollResult } from '../health/RdsEventsWatcher.js';
import { consoleHandoff } from '../delivery/consoleDelivery.js';
import type { OutputFormat } from '../pipeline/output.js';
import { loadRulesOrExit, type Io } from './common.js';
import { sleep } from '../util/backoff.js';

export interface WatchOptions {
  cluster: string;
  once: boolean;
  output: OutputFormat;
  rules?: string[];
  stateDir: string;
  /** Seconds between polls (without --once). */
  intervalSeconds: number;
  lossPatterns?: string;
  /** First poll without state: how far back, in hours (at most 336, the 14 days RDS keeps events). */
  lookbackHours: number;
  summary: boolean;
}

export interface WatchDeps {
  rds?: RDSClient;
  /** Ends the loop (tests); SIGINT/SIGTERM do the same for people. */
  signal?: AbortSignal;
}

export async function watchCommand(opts: WatchOptions, io: Io, deps: WatchDeps = {}): Promise<number> {
  const { ruleSet } = await loadRulesOrExit(opts.rules, io);
  const patterns = await loadLossPatterns(opts.lossPatterns);
  const rds = deps.rds ?? createRdsClient();
  const color = opts.output === 'text' && Boolean(io.stdout.isTTY) && !io.env.NO_COLOR;
  const handoff = consoleHandoff(io.stdout as never, opts.output, color);
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
    io.stderr.write(
      `watch ${opts.cluster}: ${r.fetched} event${r.fetched === 1 ? '' : 's'} fetched, ${r.newEvents.length} new, ` +
        `${r.alerts.length} alert${r.alerts.length === 1 ? '' : 's'}; ` +
        (open.length === 0 ? 'no open loss window' : `OPEN loss window${open.length === 1 ? '' : 's'} since ${open.map((w) => w.start).join(', ')}`) +
        '\n',
    );
  };
  try {
    if (opts.once) {
      report(await watcher.poll(handoff));
      return ExitCode.ok;
    }
    const stop = new AbortController();
    const onSignal = () => stop.abort();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    deps.signal?.addEventListener('abort', onSignal, { once: true });
    try {
      while (!stop.signal.aborted) {
        try {
          report(await watcher.poll(handoff, stop.signal));
        } catch (err) {
          if (stop.signal.aborted) break;
          // nothing is lost: the state did not move; the next poll asks again
          if (!(err instanceof TransientError)) throw err;
          io.stderr.write(`dasguard: watch: ${errorMessage(err)}; retrying in ${opts.intervalSeconds} s\n`);
        }
        await sleep(opts.intervalSeconds * 1000, stop.signal);
      }
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    return ExitCode.ok;
  } catch (err) {
    if (err instanceof ConfigError) throw new ExitError(ExitCode.usage, err.message);
    if (err instanceof TransientError) throw new ExitError(ExitCode.unavailable, `${err.message} (nothing was skipped: run again)`);
    throw err;
  } finally {
    if (!deps.rds) rds.destroy();
  }
}
