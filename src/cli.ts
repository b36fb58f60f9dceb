/**
 * The command line: argument parsing happens here and only here; each command is a typed function in
 * src/commands/, loaded lazily; exit codes are decided in one place (`main`).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { createRequire } from 'node:module';
import { ConfigError, ExitCode, ExitError, TransientError, UsageError, errorMessage } from './errors.js';
import { Severities, type Severity } from './types.js';
import { REDACTION_MODES } from './redaction/index.js';
import { terminalLines } from './util/escape.js';
import { processIo, type Io } from './commands/common.js';

const require = createRequire(import.meta.url);
const VERSION: string = (require('../package.json') as { version: string }).version;

const HELP = `dasguard ${VERSION}: Aurora/RDS Database Activity Streams -> compliance alerts

Usage: dasguard <command> [options]

Commands:
  replay PATH...       Decode records from files and evaluate them against the rules; print alerts.
  decode PATH...       Decrypt and normalise records; print the activity events as JSON Lines.
  run --cluster ID     Watch a cluster's activity stream (Kinesis) continuously; print alerts.
  validate [PATH...]   Check rule files; print every problem (file:line rule-id: message).
  test [PATH...]       Run the tests embedded in rule files (tests: fires / doesNotFire).
  alert-test --route NAME  Send a synthetic alert through a delivery route (dasguard.yaml) to check the wiring.
  outbox status|resend  What the delivery outbox holds; send dead-lettered and quarantined alerts again.
  watch --cluster ID   Poll the cluster's RDS events: loss windows, stream stopped... (--once for cron).
  status --cluster ID  Activity stream, Kinesis stream, checkpoint age, last heartbeat, open loss windows.
  stream start|stop    Start or stop a cluster's activity stream (checks the documented rules first).

Inputs (PATH): JSON Lines of Kinesis records, 'aws kinesis get-records' output, a Lambda Kinesis event,
plaintext DAS JSON, any of these gzipped, a directory of such files, or '-' for stdin.

Run 'dasguard <command> --help' for the options of a command.

Exit codes: 0 ok; 1 --strict and records were quarantined (or a rule test failed); 2 usage, configuration or
rule errors; 3 --fail-on SEVERITY and an alert at or above it fired; 4 a service kept failing or the outbox could
not be written (nothing skipped).
`;

const INPUT_OPTIONS = {
  'key-file': { type: 'string' },
  'resource-id': { type: 'string' },
  strict: { type: 'boolean', default: false },
  'quarantine-file': { type: 'string' },
  concurrency: { type: 'string', default: '16' },
  workers: { type: 'string', default: '0' },
  redaction: { type: 'string', default: 'literals' },
  quiet: { type: 'boolean', short: 'q', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const satisfies ParseArgsConfig['options'];

const INPUT_HELP = `  --key-file PATH       Local master-key file (samples, tests); default: AWS KMS via the standard SDK configuration
  --resource-id ID      DAS resource id (cluster-… or db-…) for the KMS encryption context; by default taken from
                        the stream name in the input (StreamName, eventSourceARN) or in the file name
  --strict              Exit 1 when any record or event was quarantined
  --quarantine-file P   Append quarantined records (still encrypted when they were) to P as JSON Lines
  --concurrency N       Records decoded at once (default 16); output keeps input order
  --workers N           Decrypt payloads in N worker threads (default 0: on the main thread); with 2 on 2 cores,
                        up to ~1.6x the records/s (small records). Output order is unchanged
  --redaction MODE      What statement text, bind values and server messages look like in every output:
                        literals (default: literals, comment text, binds and quoted values masked), full (none of
                        them at all) or none (as the database wrote them)
  -q, --quiet           No summary on stderr`;

/** Alert delivery options (src/delivery): `replay` and `run` share them. */
const DELIVERY_OPTIONS = {
  config: { type: 'string' },
  'sns-topic-arn': { type: 'string' },
  'slack-webhook-url': { type: 'string' },
  'outbox-dir': { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

const DELIVERY_HELP = `  --config PATH         Alert delivery config (sinks, routes, suppression); default ./dasguard.yaml when present.
                        With delivery configured, alerts go to its sinks through the outbox instead of stdout
  --sns-topic-arn ARN   Also send every alert to this SNS topic
  --slack-webhook-url U Also send every alert to this Slack incoming webhook
  --outbox-dir DIR      Durable outbox for alert delivery (default .dasguard/outbox)`;

function deliveryOptions(v: { config?: string; 'sns-topic-arn'?: string; 'slack-webhook-url'?: string; 'outbox-dir'?: string }) {
  const o: { configPath?: string; snsTopicArn?: string; slackWebhookUrl?: string; outboxDir?: string } = {};
  if (v.config !== undefined) o.configPath = v.config;
  if (v['sns-topic-arn'] !== undefined) o.snsTopicArn = v['sns-topic-arn'];
  if (v['slack-webhook-url'] !== undefined) o.slackWebhookUrl = v['slack-webhook-url'];
  if (v['outbox-dir'] !== undefined) o.outboxDir = v['outbox-dir'];
  return o;
}

const COMMAND_HELP: Record<string, string> = {
  outbox: `Usage: dasguard outbox status [--config PATH] [--outbox-dir DIR] [--output text|json]
       dasguard outbox resend [--config PATH] [--outbox-dir DIR] [--sink NAME] [--to NAME]

status: alert deliveries pending per sink, dead letters per sink, damaged batch files in quarantine/ (how many of
their deliveries are readable and not yet re-queued), open suppression windows. Reads the directory only.

resend: moves the dead-lettered alerts (dead-letter.jsonl), and the readable quarantined ones not yet re-queued,
back into the outbox for their sink, redacted again with the strictest redaction of the routes using that sink,
and delivers them (with what was still pending). Running it again never sends twice what it already re-queued.
Exit 0 when everything was delivered, 4 when some are still pending or were dead-lettered again, 2 for a config
problem. Needs the delivery config that names the sinks (an outbox is used by one process at a time).

  --config PATH         Delivery config (default ./dasguard.yaml); its delivery.outboxDir is the outbox
  --outbox-dir DIR      The outbox (default .dasguard/outbox)
  --sns-topic-arn ARN, --slack-webhook-url URL  The shortcut sinks (cli-sns, cli-slack) a replay or run used
  --sink NAME           resend: only the alerts that were meant for sink NAME
  --to NAME             resend: deliver them to sink NAME instead of their own
  --output text|json    status: for people (default) or one JSON document
`,
  'alert-test': `Usage: dasguard alert-test --route NAME [--config PATH] [--rules PATH] [--sns-topic-arn ARN] [--slack-webhook-url URL]

Sends one synthetic alert (rule dasguard.alert-test, with the route's redaction) straight to every sink of the
route, once, without the outbox. Exit 0 when every sink accepted it; 1 (with each sink's error) otherwise; 2 when
the config has problems. The shortcuts make routes named cli-sns and cli-slack.

  --rules PATH          The rules the config's 'rules:' patterns must match (repeatable); default ./rules, else
                        the bundled baseline pack
`,
  replay: `Usage: dasguard replay PATH... [options]

Decodes every record and evaluates its activity events against the rules. Alerts go to stdout; a summary
(records, events, heartbeats, alerts per rule, quarantined) goes to stderr.

  --rules PATH          Rule file or directory (repeatable); default ./rules, else the bundled baseline pack
  --output text|jsonl   Alerts for people (default) or one JSON alert per line
  --fail-on SEVERITY    Exit 3 when an alert at or above SEVERITY (${Severities.join(', ')}) fired
${DELIVERY_HELP}
${INPUT_HELP}
`,
  decode: `Usage: dasguard decode PATH... [options]

Decrypts and normalises records; prints each activity event as one JSON line, every original field kept, plus
engine, clusterId, instanceId, recordVersion, logTimeMs, startTimeMs, endTimeMs, rows, sqlCommand, sqlHasWhere
and sqlComments. Statement text, bind values and server messages follow --redaction (default literals: masked);
with --redaction none, decrypted audit data goes to stdout as written: redirect it only if you mean to keep it.

  --heartbeats          Also print heartbeat events
${INPUT_HELP}
`,
  run: `Usage: dasguard run (--cluster ID | --stream NAME) [options]

Watches a Database Activity Stream continuously: every shard in order, resharding followed, checkpoints kept, so
a restart resumes where the last run stopped (at-least-once). Alerts go to stdout; status and problems to stderr
(JSON lines, or a status line on a terminal). SIGINT/SIGTERM: finish records in flight, write checkpoints, exit 0.

  --cluster ID          DBClusterIdentifier: the stream and resource id come from DescribeDBClusters
  --stream NAME         The stream name (aws-rds-das-cluster-…) instead of --cluster
  --from P              Where shards without a checkpoint start: latest (default), trim-horizon or an ISO 8601 time
  --checkpoint-dir DIR  Checkpoint files, one per stream (default .dasguard/checkpoints)
  --rules PATH          Rule file or directory (repeatable); default ./rules, else the bundled baseline pack
  --output text|jsonl   Alerts for people (default) or one JSON alert per line
  --redaction MODE      What statement text, bind values and server messages look like in every output:
                        literals (default: literals, comment text, binds and quoted values masked), full (none of
                        them at all) or none (as the database wrote them)
  --poll-interval D     Wait between GetRecords calls once a shard is caught up (default 1s)
  --status-interval D   Status report on stderr every D (default 10s)
  --discovery-interval D  Look for new shards every D (default 30s)
  --concurrency N       Records of one shard decoded at once (default 8); alerts keep shard order
  --workers N           Decrypt payloads in N worker threads (default 0: on the main thread); with 2 on 2 cores,
                        up to ~1.6x the records/s (small records). Alert order is unchanged
  --key-file PATH       Local master-key file (tests, the local stack); default: AWS KMS
  --resource-id ID      DAS resource id for the KMS encryption context (default: from the cluster or stream name)
  --silence D           Alert when an instance sends no record and no heartbeat for D (default 60s; 0: off)
  --rds-events-interval D  With --cluster: poll RDS events (loss windows, stream stopped...) every D (default 60s)
  --state-dir DIR       Health state: RDS events cursor, loss windows, liveness (default .dasguard/state)
${DELIVERY_HELP}
  Durations: 500ms, 2s, 1m (a bare number is seconds).
`,
  watch: `Usage: dasguard watch --cluster ID [options]

Polls the cluster's RDS events (DescribeEvents) and alerts on windows in which activity records may have been
lost (open, then closed with start, end and duration) and on the 'target: rds-event' rules (stream stopped,
failover...). A cursor in --state-dir makes restarts miss nothing and repeat nothing.

  --cluster ID          Aurora DB cluster identifier (required)
  --once                Poll once and exit (cron, CI); default: poll every --interval until Ctrl-C
  --interval SECONDS    Between polls (default 60)
  --rules PATH          Rule file or directory (repeatable); default ./rules, else the bundled pack
  --output text|jsonl   Alerts for people (default) or one JSON alert per line
  --state-dir DIR       Where the cursor and loss windows are kept (default .dasguard/state)
  --loss-patterns FILE  YAML patterns for loss-window events (see docs/health.md)
  --lookback-hours N    First poll without state: how far back (default 24, at most 336)
  -q, --quiet           No summary on stderr
`,
  status: `Usage: dasguard status --cluster ID [options]

Shows the activity stream (status, mode, KMS key), its Kinesis stream (status, open shards, retention), the
consumer's checkpoints and their age, the last heartbeat per instance and the loss windows still open.

  --cluster ID          Aurora DB cluster identifier (required)
  --output text|json    For people (default) or one JSON document
  --state-dir DIR       Health state of 'run' / 'watch' (default .dasguard/state)
  --checkpoint-dir DIR  Checkpoints of 'run' (default .dasguard/checkpoints)
`,
  stream: `Usage: dasguard stream start --cluster ID --kms-key KEY --mode sync|async [--apply-immediately]
       dasguard stream stop --cluster ID [--apply-immediately] [--yes]

Starts or stops the activity stream of an Aurora cluster. Checked first: Aurora MySQL is async only; the KMS key
is required and cannot be alias/aws/rds; start is refused when a stream is started or starting. Stop asks you to
type the cluster identifier back unless --yes (without a terminal, --yes is required).
Without --apply-immediately the change waits for the next maintenance window.
`,
  validate: `Usage: dasguard validate [PATH...]

Loads rule files (default ./rules, else the bundled pack) and prints every problem as file:line rule-id: message.
Exit 0 when clean, 2 otherwise.
`,
  test: `Usage: dasguard test [PATH...]

Runs the tests embedded in the rule files: each 'fires' event must fire its rule, each 'doesNotFire' must not.
Exit 0 when all pass, 1 when any fails, 2 when the rules do not load.
`,
};

function parse<O extends ParseArgsConfig['options']>(args: string[], options: O, command: string) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(`${errorMessage(err)}\nRun 'dasguard ${command} --help' for usage.`);
  }
}

function severityOption(v: string | undefined): Severity | undefined {
  if (v === undefined) return undefined;
  if (!(Severities as readonly string[]).includes(v)) throw new UsageError(`--fail-on must be one of ${Severities.join(', ')}; got "${v}"`);
  return v as Severity;
}

function positiveInt(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} must be a positive whole number; got "${v}"`);
  return n;
}

/** --workers: 0 (decrypt on the main thread) up to 64 worker threads. */
function workersOption(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 64) throw new UsageError(`--workers must be a whole number from 0 to 64; got "${v}"`);
  return n;
}

function oneOf<T extends string>(name: string, v: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(v)) throw new UsageError(`--${name} must be one of ${allowed.join(', ')}; got "${v}"`);
  return v as T;
}

async function dispatch(argv: string[], io: Io): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    const topic = rest[0];
    io.stdout.write(topic && COMMAND_HELP[topic] ? COMMAND_HELP[topic] : HELP);
    return ExitCode.ok;
  }
  if (command === '--version' || command === 'version') {
    io.stdout.write(`${VERSION}\n`);
    return ExitCode.ok;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    const h = COMMAND_HELP[command];
    if (h) {
      io.stdout.write(h);
      return ExitCode.ok;
    }
  }
  switch (command) {
    case 'replay': {
      const { values: v, positionals } = parse(
        rest,
        {
          ...INPUT_OPTIONS,
          ...DELIVERY_OPTIONS,
          rules: { type: 'string', multiple: true },
          output: { type: 'string', default: 'text' },
          'fail-on': { type: 'string' },
        },
        command,
      );
      if (positionals.length === 0) throw new UsageError("replay needs at least one input PATH ('-' for stdin)");
      const { replayCommand } = await import('./commands/replay.js');
      return replayCommand(
        {
          inputs: positionals,
          rules: v.rules,
          keyFile: v['key-file'],
          resourceId: v['resource-id'],
          output: oneOf('output', v.output, ['text', 'jsonl'] as const),
          strict: v.strict,
          failOn: severityOption(v['fail-on']),
          redaction: oneOf('redaction', v.redaction, REDACTION_MODES),
          quarantineFile: v['quarantine-file'],
          concurrency: positiveInt('concurrency', v.concurrency),
          workers: workersOption(v.workers),
          summary: !v.quiet,
          delivery: deliveryOptions(v),
        },
        io,
      );
    }
    case 'decode': {
      const { values: v, positionals } = parse(rest, { ...INPUT_OPTIONS, heartbeats: { type: 'boolean', default: false } }, command);
      if (positionals.length === 0) throw new UsageError("decode needs at least one input PATH ('-' for stdin)");
      const { decodeCommand } = await import('./commands/replay.js');
      return decodeCommand(
        {
          inputs: positionals,
          keyFile: v['key-file'],
          resourceId: v['resource-id'],
          heartbeats: v.heartbeats,
          redaction: oneOf('redaction', v.redaction, REDACTION_MODES),
          strict: v.strict,
          quarantineFile: v['quarantine-file'],
          concurrency: positiveInt('concurrency', v.concurrency),
          workers: workersOption(v.workers),
          summary: !v.quiet,
        },
        io,
      );
    }
    case 'run': {
      const { values: v, positionals } = parse(
        rest,
        {
          cluster: { type: 'string' },
          stream: { type: 'string' },
          'resource-id': { type: 'string' },
          from: { type: 'string', default: 'latest' },
          'checkpoint-dir': { type: 'string', default: '.dasguard/checkpoints' },
          rules: { type: 'string', multiple: true },
          output: { type: 'string', default: 'text' },
          redaction: { type: 'string', default: 'literals' },
          'key-file': { type: 'string' },
          'poll-interval': { type: 'string', default: '1s' },
          'status-interval': { type: 'string', default: '10s' },
          'discovery-interval': { type: 'string', default: '30s' },
          concurrency: { type: 'string', default: '8' },
          workers: { type: 'string', default: '0' },
          'state-dir': { type: 'string' },
          silence: { type: 'string', default: '60s' },
          'rds-events-interval': { type: 'string', default: '60s' },
          ...DELIVERY_OPTIONS,
          help: { type: 'boolean', short: 'h', default: false },
        },
        command,
      );
      if (positionals.length > 0) throw new UsageError(`run takes no PATH arguments; got "${positionals[0]}"`);
      const { runCommand, parseDuration } = await import('./commands/run.js');
      return runCommand(
        {
          cluster: v.cluster,
          stream: v.stream,
          resourceId: v['resource-id'],
          from: v.from,
          checkpointDir: v['checkpoint-dir'],
          rules: v.rules,
          output: oneOf('output', v.output, ['text', 'jsonl'] as const),
          redaction: oneOf('redaction', v.redaction, REDACTION_MODES),
          keyFile: v['key-file'],
          pollIntervalMs: parseDuration('poll-interval', v['poll-interval']),
          statusIntervalMs: parseDuration('status-interval', v['status-interval']),
          discoveryIntervalMs: parseDuration('discovery-interval', v['discovery-interval']),
          concurrency: positiveInt('concurrency', v.concurrency),
          workers: workersOption(v.workers),
          ...(v['state-dir'] !== undefined ? { stateDir: v['state-dir'] } : {}),
          silenceMs: v.silence === '0' ? 0 : parseDuration('silence', v.silence),
          rdsEventsIntervalMs: parseDuration('rds-events-interval', v['rds-events-interval']),
          delivery: deliveryOptions(v),
        },
        io,
      );
    }
    case 'watch': {
      const { values: v, positionals } = parse(
        rest,
        {
          cluster: { type: 'string' },
          once: { type: 'boolean', default: false },
          interval: { type: 'string', default: '60' },
          rules: { type: 'string', multiple: true },
          output: { type: 'string', default: 'text' },
          'state-dir': { type: 'string', default: '.dasguard/state' },
          'loss-patterns': { type: 'string' },
          'lookback-hours': { type: 'string', default: '24' },
          quiet: { type: 'boolean', short: 'q', default: false },
          help: { type: 'boolean', short: 'h', default: false },
        },
        command,
      );
      if (positionals.length > 0) throw new UsageError(`watch takes no positional arguments; got "${positionals[0]}"`);
      if (v.cluster === undefined) throw new UsageError('watch needs --cluster ID');
      const lookback = positiveInt('lookback-hours', v['lookback-hours']);
      if (lookback > 336) throw new UsageError(`--lookback-hours must be at most 336 (RDS keeps events 14 days); got ${lookback}`);
      const { watchCommand } = await import('./commands/watch.js');
      return watchCommand(
        {
          cluster: v.cluster,
          once: v.once,
          output: oneOf('output', v.output, ['text', 'jsonl'] as const),
          rules: v.rules,
          stateDir: v['state-dir'],
          intervalSeconds: positiveInt('interval', v.interval),
          ...(v['loss-patterns'] !== undefined ? { lossPatterns: v['loss-patterns'] } : {}),
          lookbackHours: lookback,
          summary: !v.quiet,
        },
        io,
      );
    }
    case 'status': {
      const { values: v, positionals } = parse(
        rest,
        {
          cluster: { type: 'string' },
          output: { type: 'string', default: 'text' },
          'state-dir': { type: 'string', default: '.dasguard/state' },
          'checkpoint-dir': { type: 'string', default: '.dasguard/checkpoints' },
          help: { type: 'boolean', short: 'h', default: false },
        },
        command,
      );
      if (positionals.length > 0) throw new UsageError(`status takes no positional arguments; got "${positionals[0]}"`);
      if (v.cluster === undefined) throw new UsageError('status needs --cluster ID');
      const { statusCommand } = await import('./commands/status.js');
      return statusCommand(
        { cluster: v.cluster, output: oneOf('output', v.output, ['text', 'json'] as const), stateDir: v['state-dir'], checkpointDir: v['checkpoint-dir'] },
        io,
      );
    }
    case 'stream': {
      const { values: v, positionals } = parse(
        rest,
        {
          cluster: { type: 'string' },
          'kms-key': { type: 'string' },
          mode: { type: 'string' },
          'apply-immediately': { type: 'boolean', default: false },
          yes: { type: 'boolean', short: 'y', default: false },
          help: { type: 'boolean', short: 'h', default: false },
        },
        command,
      );
      const [action, ...extra] = positionals;
      if (action !== 'start' && action !== 'stop') throw new UsageError(`stream needs 'start' or 'stop'; got ${action === undefined ? 'nothing' : `"${action}"`}\n\n${COMMAND_HELP.stream}`);
      if (extra.length > 0) throw new UsageError(`stream ${action}: unexpected argument "${extra[0]}"`);
      if (v.cluster === undefined) throw new UsageError(`stream ${action} needs --cluster ID`);
      const { streamStartCommand, streamStopCommand } = await import('./commands/stream.js');
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
    }
    case 'alert-test': {
      const { values: v, positionals } = parse(rest, { ...DELIVERY_OPTIONS, route: { type: 'string' }, rules: { type: 'string', multiple: true }, help: { type: 'boolean', short: 'h' } }, command);
      if (positionals.length > 0) throw new UsageError(`alert-test takes no PATH arguments; got "${positionals[0]}"`);
      if (v.route === undefined) throw new UsageError('alert-test needs --route NAME');
      const { alertTestCommand } = await import('./commands/alertTest.js');
      return alertTestCommand({ route: v.route, ...deliveryOptions(v), ...(v.rules ? { rules: v.rules } : {}) }, io);
    }
    case 'outbox': {
      const { values: v, positionals } = parse(
        rest,
        { ...DELIVERY_OPTIONS, sink: { type: 'string' }, to: { type: 'string' }, output: { type: 'string', default: 'text' }, help: { type: 'boolean', short: 'h' } },
        command,
      );
      const [action, ...extra] = positionals;
      if (action !== 'status' && action !== 'resend') throw new UsageError(`outbox needs 'status' or 'resend'; got ${action === undefined ? 'nothing' : `"${action}"`}\n\n${COMMAND_HELP.outbox}`);
      if (extra.length > 0) throw new UsageError(`outbox ${action}: unexpected argument "${extra[0]}"`);
      const { outboxStatusCommand, outboxResendCommand } = await import('./commands/outbox.js');
      if (action === 'status') {
        if (v.sink !== undefined || v.to !== undefined) throw new UsageError('--sink and --to are for outbox resend');
        return outboxStatusCommand({ delivery: deliveryOptions(v), output: oneOf('output', v.output, ['text', 'json'] as const) }, io);
      }
      return outboxResendCommand({ delivery: deliveryOptions(v), ...(v.sink !== undefined ? { sink: v.sink } : {}), ...(v.to !== undefined ? { to: v.to } : {}) }, io);
    }
    case 'validate': {
      const { positionals } = parse(rest, { help: { type: 'boolean', short: 'h' } }, command);
      const { validateCommand } = await import('./commands/validate.js');
      return validateCommand({ paths: positionals }, io);
    }
    case 'test': {
      const { positionals } = parse(rest, { help: { type: 'boolean', short: 'h' } }, command);
      const { testRulesCommand } = await import('./commands/testRules.js');
      return testRulesCommand({ paths: positionals }, io);
    }
    default:
      throw new UsageError(`unknown command "${command}"\n\n${HELP}`);
  }
}

/** Runs the CLI and returns the exit code; never calls process.exit (callers and tests decide). */
export async function main(argv: string[], io: Io = processIo()): Promise<number> {
  try {
    return await dispatch(argv, io);
  } catch (err) {
    if (err instanceof ExitError) {
      if (err.message) io.stderr.write(`dasguard: ${terminalLines(err.message)}\n`);
      return err.exitCode;
    }
    if ((err as NodeJS.ErrnoException | undefined)?.code === 'EPIPE') {
      // the reader of our output went away (`| head`): not an error of ours
      return ExitCode.ok;
    }
    if (err instanceof UsageError || err instanceof ConfigError) {
      io.stderr.write(`dasguard: ${terminalLines(err.message)}\n`);
      return ExitCode.usage;
    }
    if (err instanceof TransientError) {
      // Commands map the failures they retry; one that reaches here (the outbox full at start) is still not a bug.
      io.stderr.write(`dasguard: ${terminalLines(err.message)}\n`);
      return ExitCode.unavailable;
    }
    io.stderr.write(`dasguard: internal error: ${terminalLines(err instanceof Error ? (err.stack ?? err.message) : String(err))}\n`);
    return ExitCode.internal;
  }
}
