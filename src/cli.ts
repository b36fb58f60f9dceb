/**
 * The command line: argument parsing happens here and only here; each command is a typed function in
 * src/commands/, loaded lazily; exit codes are decided in one place (`main`).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { createRequire } from 'node:module';
import { ConfigError, ExitCode, ExitError, UsageError, errorMessage } from './errors.js';
import { Severities, type Severity } from './types.js';
import { processIo, type Io } from './commands/common.js';

const require = createRequire(import.meta.url);
const VERSION: string = (require('../package.json') as { version: string }).version;

const HELP = `dasguard ${VERSION}: Aurora/RDS Database Activity Streams -> compliance alerts

Usage: dasguard <command> [options]

Commands:
  replay PATH...       Decode records from files and evaluate them against the rules; print alerts.
  decode PATH...       Decrypt and normalise records; print the activity events as JSON Lines.
  validate [PATH...]   Check rule files; print every problem (file:line rule-id: message).
  test [PATH...]       Run the tests embedded in rule files (tests: fires / doesNotFire).

Inputs (PATH): JSON Lines of Kinesis records, 'aws kinesis get-records' output, a Lambda Kinesis event,
plaintext DAS JSON, any of these gzipped, a directory of such files, or '-' for stdin.

Run 'dasguard <command> --help' for the options of a command.

Exit codes: 0 ok; 1 --strict and records were quarantined (or a rule test failed); 2 usage, configuration or
rule errors; 3 --fail-on SEVERITY and an alert at or above it fired; 4 a service kept failing (nothing skipped).
`;

const INPUT_OPTIONS = {
  'key-file': { type: 'string' },
  'resource-id': { type: 'string' },
  strict: { type: 'boolean', default: false },
  'quarantine-file': { type: 'string' },
  concurrency: { type: 'string', default: '16' },
  quiet: { type: 'boolean', short: 'q', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const satisfies ParseArgsConfig['options'];

const INPUT_HELP = `  --key-file PATH       Local master-key file (samples, tests); default: AWS KMS via the standard SDK configuration
  --resource-id ID      DAS resource id (cluster-… or db-…) for the KMS encryption context; by default taken from
                        the stream name in the input (StreamName, eventSourceARN) or in the file name
  --strict              Exit 1 when any record or event was quarantined
  --quarantine-file P   Append quarantined records (still encrypted when they were) to P as JSON Lines
  --concurrency N       Records decoded at once (default 16); output keeps input order
  -q, --quiet           No summary on stderr`;

const COMMAND_HELP: Record<string, string> = {
  replay: `Usage: dasguard replay PATH... [options]

Decodes every record and evaluates its activity events against the rules. Alerts go to stdout; a summary
(records, events, heartbeats, alerts per rule, quarantined) goes to stderr.

  --rules PATH          Rule file or directory (repeatable); default ./rules, else the bundled baseline pack
  --output text|jsonl   Alerts for people (default) or one JSON alert per line
  --fail-on SEVERITY    Exit 3 when an alert at or above SEVERITY (${Severities.join(', ')}) fired
  --redaction literals|none  Mask SQL literals in alert events (default literals)
${INPUT_HELP}
`,
  decode: `Usage: dasguard decode PATH... [options]

Decrypts and normalises records; prints each activity event as one JSON line, every original field kept, plus
engine, clusterId, instanceId, recordVersion, logTimeMs, startTimeMs, endTimeMs, rows and sqlCommand.
Decrypted audit data goes to stdout only: redirect it to a file only if you mean to keep it.

  --heartbeats          Also print heartbeat events
${INPUT_HELP}
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
          rules: { type: 'string', multiple: true },
          output: { type: 'string', default: 'text' },
          'fail-on': { type: 'string' },
          redaction: { type: 'string', default: 'literals' },
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
          redaction: oneOf('redaction', v.redaction, ['literals', 'none'] as const),
          quarantineFile: v['quarantine-file'],
          concurrency: positiveInt('concurrency', v.concurrency),
          summary: !v.quiet,
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
          strict: v.strict,
          quarantineFile: v['quarantine-file'],
          concurrency: positiveInt('concurrency', v.concurrency),
          summary: !v.quiet,
        },
        io,
      );
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
      if (err.message) io.stderr.write(`dasguard: ${err.message}\n`);
      return err.exitCode;
    }
    if ((err as NodeJS.ErrnoException | undefined)?.code === 'EPIPE') {
      // the reader of our output went away (`| head`): not an error of ours
      return ExitCode.ok;
    }
    if (err instanceof UsageError || err instanceof ConfigError) {
      io.stderr.write(`dasguard: ${err.message}\n`);
      return ExitCode.usage;
    }
    io.stderr.write(`dasguard: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return ExitCode.internal;
  }
}
