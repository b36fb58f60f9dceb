/**
 * The command line, a registry (the changesets pattern): the top help, built from each command's summary; the
 * command's module imported lazily; its declaration (src/commands/command.ts: options, help, the function that
 * turns parsed values into its typed options) parsed and run; and exit codes decided in one place (`main`).
 * A command's flags are declared at the end of its own module, shared ones in src/commands/options.ts.
 */
import { createRequire } from 'node:module';
import { ConfigError, ExitCode, ExitError, TransientError, UsageError } from './errors.js';
import { terminalLines } from './util/escape.js';
import { processIo, type Io } from './commands/common.js';
import { parseCommandArgs, renderHelp, summaryLine, type Command } from './commands/command.js';

const require = createRequire(import.meta.url);
const VERSION: string = (require('../package.json') as { version: string }).version;

/** Every command, in the order of the top help; each module is imported only when its command is used. */
const COMMANDS: Record<string, () => Promise<Command>> = {
  replay: async () => (await import('./commands/replay.js')).replayCli,
  decode: async () => (await import('./commands/replay.js')).decodeCli,
  run: async () => (await import('./commands/run.js')).runCli,
  validate: async () => (await import('./commands/validate.js')).validateCli,
  test: async () => (await import('./commands/testRules.js')).testCli,
  'alert-test': async () => (await import('./commands/alertTest.js')).alertTestCli,
  outbox: async () => (await import('./commands/outbox.js')).outboxCli,
  watch: async () => (await import('./commands/watch.js')).watchCli,
  status: async () => (await import('./commands/status.js')).statusCli,
  stream: async () => (await import('./commands/stream.js')).streamCli,
};

/** The registered command names, in help order. */
export const COMMAND_NAMES: readonly string[] = Object.keys(COMMANDS);

/** A registered command's declaration (undefined for an unknown name). */
export async function loadCommand(name: string): Promise<Command | undefined> {
  return Object.hasOwn(COMMANDS, name) ? COMMANDS[name]!() : undefined;
}

/** `dasguard --help`: built from every command's synopsis and summary (the only place all modules are loaded). */
export async function topHelp(): Promise<string> {
  const commands = await Promise.all(COMMAND_NAMES.map((name) => COMMANDS[name]!()));
  return `dasguard ${VERSION}: Aurora/RDS Database Activity Streams -> compliance alerts

Usage: dasguard <command> [options]

Commands:
${commands.map(summaryLine).join('\n')}

Inputs (PATH): JSON Lines of Kinesis records, 'aws kinesis get-records' output, a Lambda Kinesis event,
plaintext DAS JSON, any of these gzipped, a directory of such files, or '-' for stdin.

Run 'dasguard <command> --help' for the options of a command.

Exit codes: 0 ok; 1 --strict and records were quarantined (or a rule test failed); 2 usage, configuration or
rule errors; 3 --fail-on SEVERITY and an alert at or above it fired; 4 a service kept failing or the outbox could
not be written (nothing skipped).
`;
}

async function dispatch(argv: string[], io: Io): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    const topic = rest[0] !== undefined ? await loadCommand(rest[0]) : undefined;
    io.stdout.write(topic ? renderHelp(topic) : await topHelp());
    return ExitCode.ok;
  }
  if (name === '--version' || name === 'version') {
    io.stdout.write(`${VERSION}\n`);
    return ExitCode.ok;
  }
  const command = await loadCommand(name);
  if (!command) throw new UsageError(`unknown command "${name}"\n\n${await topHelp()}`);
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout.write(renderHelp(command));
    return ExitCode.ok;
  }
  const { values, positionals } = parseCommandArgs(command, rest);
  return command.run(values, positionals, io);
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
