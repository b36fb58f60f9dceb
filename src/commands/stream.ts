/**
 * `dasguard stream start|stop --cluster ID`: StartActivityStream / StopActivityStream on an Aurora cluster, with
 * the rules of the docs checked first, so a mistake is explained before RDS is asked:
 * - Aurora MySQL supports async mode only;
 * - a KMS key is required, and not the default `alias/aws/rds` key;
 * - start is refused when a stream is already started or starting, stop when none is started;
 * - stop asks for confirmation (the cluster identifier typed back) unless --yes; no terminal and no --yes: refused.
 * IAM: rds:DescribeDBClusters + rds:StartActivityStream / rds:StopActivityStream (keep these away from DBAs).
 */
import { StartActivityStreamCommand, StopActivityStreamCommand, type RDSClient } from '@aws-sdk/client-rds';
import { createInterface } from 'node:readline';
import { classifyRdsError, createRdsClient, describeActivityStream, type ActivityStreamInfo } from '../aws/rds.js';
import { ExitCode, ExitError } from '../errors.js';
import type { Io } from './io.js';

export interface StreamStartOptions {
  cluster: string;
  kmsKey: string | undefined;
  mode: 'sync' | 'async';
  applyImmediately: boolean;
}

export interface StreamStopOptions {
  cluster: string;
  applyImmediately: boolean;
  yes: boolean;
}

export interface StreamDeps {
  rds?: RDSClient;
}

/** The checks made before StartActivityStream: every problem, in words; empty when the call may go ahead. */
function startProblems(info: ActivityStreamInfo, opts: Pick<StreamStartOptions, 'kmsKey' | 'mode'>): string[] {
  const problems: string[] = [];
  if (info.status === 'started' || info.status === 'starting') {
    problems.push(`the activity stream of ${info.clusterIdentifier} is already ${info.status} (${info.mode ?? '?'} mode, Kinesis stream ${info.streamName ?? '?'})`);
  } else if (info.status === 'stopping') {
    problems.push(`the activity stream of ${info.clusterIdentifier} is stopping: wait until it is stopped`);
  }
  if (opts.mode === 'sync' && info.engine !== null && info.engine.includes('mysql')) {
    problems.push(`${info.clusterIdentifier} is ${info.engine}: Aurora MySQL supports only --mode async`);
  }
  if (opts.kmsKey === undefined || opts.kmsKey.trim() === '') {
    problems.push('--kms-key is required: activity streams are always encrypted with a customer managed KMS key');
  } else if (/(^|:)alias\/aws\/rds$/.test(opts.kmsKey.trim())) {
    problems.push('--kms-key cannot be the default key alias/aws/rds: choose a customer managed key (whose key policy you control)');
  }
  if (info.clusterArn === null) problems.push(`RDS returned no ARN for ${info.clusterIdentifier}`);
  return problems;
}

export async function streamStartCommand(opts: StreamStartOptions, io: Io, deps: StreamDeps = {}): Promise<number> {
  const rds = deps.rds ?? createRdsClient();
  try {
    const info = await describeActivityStream(rds, opts.cluster);
    const problems = startProblems(info, opts);
    if (problems.length > 0) throw new ExitError(ExitCode.usage, `not starting the activity stream:\n  - ${problems.join('\n  - ')}`);
    let out;
    try {
      out = await rds.send(
        new StartActivityStreamCommand({
          ResourceArn: info.clusterArn as string,
          Mode: opts.mode,
          KmsKeyId: opts.kmsKey as string,
          ApplyImmediately: opts.applyImmediately,
        }),
      );
    } catch (err) {
      throw classifyRdsError(err, `RDS StartActivityStream on cluster "${opts.cluster}"`, opts.cluster);
    }
    io.stdout.write(
      `activity stream of ${info.clusterIdentifier}: ${out.Status ?? 'starting'} (${out.Mode ?? opts.mode} mode, KMS key ${out.KmsKeyId ?? opts.kmsKey}, ` +
        `Kinesis stream ${out.KinesisStreamName ?? '?'})\n` +
        (opts.applyImmediately
          ? "RDS reports RDS-EVENT-0179 once it is started: check with 'dasguard status'.\n"
          : 'Without --apply-immediately it starts at the next maintenance window (the cluster waits in PENDING REBOOT until then).\n'),
    );
    return ExitCode.ok;
  } finally {
    if (!deps.rds) rds.destroy();
  }
}

export async function streamStopCommand(opts: StreamStopOptions, io: Io, deps: StreamDeps = {}): Promise<number> {
  const rds = deps.rds ?? createRdsClient();
  try {
    const info = await describeActivityStream(rds, opts.cluster);
    if (info.status !== 'started') {
      throw new ExitError(ExitCode.usage, `not stopping: the activity stream of ${info.clusterIdentifier} is ${info.status}, not started`);
    }
    if (info.clusterArn === null) throw new ExitError(ExitCode.usage, `not stopping: RDS returned no ARN for ${info.clusterIdentifier}`);
    if (!opts.yes) {
      const stdin = io.stdin as NodeJS.ReadableStream & { isTTY?: boolean };
      if (!stdin.isTTY) {
        throw new ExitError(ExitCode.usage, 'not stopping: stopping an activity stream needs confirmation; no terminal to ask on: pass --yes');
      }
      io.stderr.write(
        `Stopping the activity stream of ${info.clusterIdentifier} ends its audit trail, and RDS deletes the Kinesis stream ` +
          `${info.streamName ?? ''} with any records not yet read.\nType the cluster identifier to confirm: `,
      );
      const answer = await readLine(stdin);
      if (answer.trim() !== info.clusterIdentifier) throw new ExitError(ExitCode.usage, 'not stopping: confirmation did not match');
    }
    let out;
    try {
      out = await rds.send(new StopActivityStreamCommand({ ResourceArn: info.clusterArn, ApplyImmediately: opts.applyImmediately }));
    } catch (err) {
      throw classifyRdsError(err, `RDS StopActivityStream on cluster "${opts.cluster}"`, opts.cluster);
    }
    io.stdout.write(
      `activity stream of ${info.clusterIdentifier}: ${out.Status ?? 'stopping'}` +
        (opts.applyImmediately ? '; RDS reports RDS-EVENT-0180 once it is stopped.\n' : '; without --apply-immediately it stops at the next maintenance window.\n'),
    );
    return ExitCode.ok;
  } finally {
    if (!deps.rds) rds.destroy();
  }
}

function readLine(input: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve) => {
    const rl = createInterface({ input, terminal: false });
    let done = false;
    rl.once('line', (line) => {
      done = true;
      rl.close();
      resolve(line);
    });
    rl.once('close', () => {
      if (!done) resolve('');
    });
  });
}

// ---- The command-line declaration of `stream` (src/cli.ts lists it; src/commands/command.ts).
// (what only the declaration needs is imported here, so this block stays apart from the command's code)
import { UsageError } from '../errors.js';
import { defineCommand, renderHelp } from './command.js';
import { oneOf } from './options.js';

export const streamCli = defineCommand({
  name: 'stream',
  usage:
    'Usage: dasguard stream start --cluster ID --kms-key KEY --mode sync|async [--apply-immediately]\n' +
    '       dasguard stream stop --cluster ID [--apply-immediately] [--yes]',
  description:
    'Starts or stops the activity stream of an Aurora cluster. Checked first: Aurora MySQL is async only; the KMS key\n' +
    'is required and cannot be alias/aws/rds; start is refused when a stream is started or starting. Stop asks you to\n' +
    'type the cluster identifier back unless --yes (without a terminal, --yes is required).\n' +
    'Without --apply-immediately the change waits for the next maintenance window.',
  options: {
    cluster: { type: 'string' },
    'kms-key': { type: 'string' },
    mode: { type: 'string' },
    'apply-immediately': { type: 'boolean', default: false },
    yes: { type: 'boolean', short: 'y', default: false },
  },
  run(v, positionals, io) {
    const [action, ...extra] = positionals;
    if (action !== 'start' && action !== 'stop') throw new UsageError(`stream needs 'start' or 'stop'; got ${action === undefined ? 'nothing' : `"${action}"`}\n\n${renderHelp(streamCli)}`);
    if (extra.length > 0) throw new UsageError(`stream ${action}: unexpected argument "${extra[0]}"`);
    if (v.cluster === undefined) throw new UsageError(`stream ${action} needs --cluster ID`);
    if (action === 'start') {
      if (v.mode === undefined) throw new UsageError('stream start needs --mode sync|async (Aurora MySQL: async only)');
      if (v.yes) throw new UsageError('--yes is for stream stop');
      return streamStartCommand(
        { cluster: v.cluster, kmsKey: v['kms-key'], mode: oneOf('mode', v.mode, ['sync', 'async'] as const), applyImmediately: v['apply-immediately'] },
        io,
      );
    }
    if (v['kms-key'] !== undefined || v.mode !== undefined) throw new UsageError('--kms-key and --mode are for stream start');
    return streamStopCommand({ cluster: v.cluster, applyImmediately: v['apply-immediately'], yes: v.yes }, io);
  },
});
