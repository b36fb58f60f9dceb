/**
 * The command line, a registry (the changesets pattern): each command's name, synopsis and one-line summary are
 * declared here, and the top help is built from them alone (it imports no command module, so it needs none of
 * their dependencies, the AWS SDK among them); the command's module is imported only when the command is used;
 * its declaration (src/commands/command.ts: options, help, the function that turns parsed values into its typed
 * options) parsed and run; and exit codes decided in one place (`main`). A command's flags are declared at the
 * end of its own module, shared ones in src/commands/options.ts.
 */
import { createRequire } from 'node:module';
import { ExitCode, UsageError, exitCodeOf } from './errors.js';
import { terminalLines } from './util/escape.js';
import { processIo, type Io } from './commands/io.js';
import { parseCommandArgs, renderHelp, type Command } from './commands/command.js';
import { quietSdkNodeWarning } from './aws/nodeSupport.js';

const require = createRequire(import.meta.url);
const VERSION: string = (require('../package.json') as { version: string }).version;

/** A command as the registry knows it before its module is loaded. */
export interface RegisteredCommand {
  /** The command's left column in the top help: `replay PATH...`. */
  synopsis: string;
  /** Its one line in the top help. */
  summary: string;
  /** Imports the command's module and gives its declaration. */
  load(): Promise<Command>;
  /**
   * Its stderr is a log (src/log/logger.ts: JSON lines when stderr is not a terminal): a service's (`run`, `watch`).
   * Its final error is then a log line too, so a log collector reading a container's stderr gets no stray text line.
   */
  logs?: true;
}

/** Every command, in the order of the top help. */
export const COMMANDS: Readonly<Record<string, RegisteredCommand>> = {
  replay: {
    synopsis: 'replay PATH...',
    summary: 'Decode records from files and evaluate them against the rules; print alerts.',
    load: async () => (await import('./commands/replay.js')).replayCli,
  },
  decode: {
    synopsis: 'decode PATH...',
    summary: 'Decrypt and normalise records; print the activity events as JSON Lines.',
    load: async () => (await import('./commands/replay.js')).decodeCli,
  },
  run: {
    synopsis: 'run --cluster ID',
    summary: "Watch a cluster's activity stream (Kinesis) continuously; print alerts.",
    load: async () => (await import('./commands/run.js')).runCli,
    logs: true,
  },
  validate: {
    synopsis: 'validate [PATH...]',
    summary: 'Check rule files; print every problem (file:line rule-id: message); --explain RULE-ID.',
    load: async () => (await import('./commands/validate.js')).validateCli,
  },
  test: {
    synopsis: 'test [PATH...]',
    summary: 'Run the tests embedded in rule files (fires, doesNotFire, timed sequences).',
    load: async () => (await import('./commands/testRules.js')).testCli,
  },
  'alert-test': {
    synopsis: 'alert-test --route NAME',
    summary: 'Send a synthetic alert through a delivery route (dasguard.yaml) to check the wiring.',
    load: async () => (await import('./commands/alertTest.js')).alertTestCli,
  },
  outbox: {
    synopsis: 'outbox status|resend',
    summary: 'What the delivery outbox holds; send dead-lettered and quarantined alerts again.',
    load: async () => (await import('./commands/outbox.js')).outboxCli,
  },
  watch: {
    synopsis: 'watch --cluster ID',
    summary: "Poll the cluster's RDS events: loss windows, stream stopped... (--once for cron).",
    load: async () => (await import('./commands/watch.js')).watchCli,
    logs: true,
  },
  status: {
    synopsis: 'status --cluster ID',
    summary: 'Health check (exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN): stream, consumer, loss windows.',
    load: async () => (await import('./commands/status.js')).statusCli,
  },
  import: {
    synopsis: 'import pgaudit FILE...',
    summary: "Turn a database's audit log (PostgreSQL pgaudit csvlog/jsonlog) into DAS records to replay.",
    load: async () => (await import('./commands/import.js')).importCli,
  },
  stream: {
    synopsis: 'stream start|stop',
    summary: "Start or stop a cluster's activity stream (checks the documented rules first).",
    load: async () => (await import('./commands/stream.js')).streamCli,
  },
};

/** The registered command names, in help order. */
export const COMMAND_NAMES: readonly string[] = Object.keys(COMMANDS);

/** A registered command's declaration (undefined for an unknown name); imports that command's module only. */
export async function loadCommand(name: string): Promise<Command | undefined> {
  return Object.hasOwn(COMMANDS, name) ? COMMANDS[name]!.load() : undefined;
}

/** A command's line in the top help. */
function summaryLine({ synopsis, summary }: RegisteredCommand): string {
  return `  ${`${synopsis}  `.padEnd(21)}${summary}`;
}

/** `dasguard --help`: built from the registry alone (synchronous: it loads no command module). */
function topHelp(): string {
  return `dasguard ${VERSION}: Aurora/RDS Database Activity Streams -> compliance alerts

Usage: dasguard <command> [options]

Commands:
${Object.values(COMMANDS).map(summaryLine).join('\n')}

Inputs (PATH): JSON Lines of Kinesis records, 'aws kinesis get-records' output, a Lambda Kinesis event,
plaintext DAS JSON, any of these gzipped, a directory of such files, or '-' for stdin.

Run 'dasguard <command> --help' for the options of a command.

Exit codes: 0 ok; 1 --strict and records were quarantined (or a rule test failed); 2 usage, configuration or
rule errors; 3 --fail-on SEVERITY and an alert at or above it fired; 4 a service kept failing or the outbox could
not be written (nothing skipped). 'status' is a health check: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
`;
}

async function dispatch(argv: string[], io: Io): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    // no command is a usage error (as git, kubectl): the help goes to stderr, so a script's `dasguard $CMD` with an
    // empty CMD fails instead of passing
    io.stderr.write(topHelp());
    return ExitCode.usage;
  }
  if (name === 'help' || name === '--help' || name === '-h') {
    const topic = rest[0] !== undefined ? await loadCommand(rest[0]) : undefined;
    io.stdout.write(topic ? renderHelp(topic) : topHelp());
    return ExitCode.ok;
  }
  if (name === '--version' || name === 'version') {
    io.stdout.write(`${VERSION}\n`);
    return ExitCode.ok;
  }
  const command = await loadCommand(name);
  if (!command) throw new UsageError(`unknown command "${name}"\n\n${topHelp()}`);
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout.write(renderHelp(command));
    return ExitCode.ok;
  }
  const { values, positionals } = parseCommandArgs(command, rest);
  return command.run(values, positionals, io);
}

/** Runs the CLI and returns the exit code; never calls process.exit (callers and tests decide). */
export async function main(argv: string[], io: Io = processIo()): Promise<number> {
  // Before any AWS client is made: the SDK's 8-line Node 20 notice is one debug log line instead (nodeSupport.ts).
  quietSdkNodeWarning();
  try {
    return await dispatch(argv, io);
  } catch (err) {
    if ((err as NodeJS.ErrnoException | undefined)?.code === 'EPIPE') {
      // the reader of our output went away (`| head`): not an error of ours
      return ExitCode.ok;
    }
    // The one mapping of errors to exit codes (src/errors.ts): commands throw, and add context with `stopped`.
    const code = exitCodeOf(err);
    const logs = COMMANDS[argv[0] ?? '']?.logs === true && !io.stderr.isTTY;
    if (code !== undefined) {
      const message = (err as Error).message;
      if (message) await finalError(io, logs, message, code);
      return code;
    }
    await finalError(io, logs, `internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`, ExitCode.internal);
    return ExitCode.internal;
  }
}

/** The last line of a failed command: `dasguard: MESSAGE`, or, for a service whose stderr is a JSON log, a log line. */
async function finalError(io: Io, logs: boolean, message: string, exitCode: number): Promise<void> {
  if (!logs) {
    io.stderr.write(`dasguard: ${terminalLines(message)}\n`);
    return;
  }
  // Loaded only here: a command that never fails this way (or `--help`) does not load the logger.
  const { openLog } = await import('./log/logger.js');
  openLog(io.stderr, { terminal: false }).log({ level: 'error', msg: 'dasguard stopped', error: message, exitCode });
}
