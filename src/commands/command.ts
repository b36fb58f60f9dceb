/**
 * What a command declares to the CLI (src/cli.ts, the registry, which holds its synopsis and summary for the top
 * help): its name, its option table (each option with its help line), its help text and the function that turns
 * parsed values and positionals into the command's typed options and runs it. Each command's declaration sits at
 * the end of its own module; the help text is rendered from the declaration, so a new flag is one entry in one table.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { didYouMean } from '../config/didYouMean.js';
import { UsageError, errorMessage } from '../errors.js';
import type { Io } from './io.js';

type ParseArgsOptionConfig = NonNullable<ParseArgsConfig['options']>[string];

/** A flag as parseArgs reads it, plus how the command's help shows it. */
export interface OptionDecl extends ParseArgsOptionConfig {
  /** `--key-file PATH` as the help's option list shows it; without it the flag is not listed there (the usage line names it). */
  label?: string;
  /** The description beside the label; `\n` starts a continuation line. */
  help?: string;
  /** Why a flag is accepted but named nowhere in the help (the help test accepts no other silence). */
  undocumented?: string;
  /** With `multiple`: each value may also be a comma-separated list (`--rules a,b` is `--rules a --rules b`). */
  commaList?: boolean;
}

export type OptionTable = Record<string, OptionDecl>;

type ParseConfig<O extends OptionTable> = { args: string[]; options: O & typeof HELP_OPTION; allowPositionals: true; strict: true };

/** The values parseArgs gives for a table: strings, booleans, string[] for `multiple`, defaults applied. */
export type Values<O extends OptionTable> = ReturnType<typeof parseArgs<ParseConfig<O>>>['values'];

export interface Command<O extends OptionTable = OptionTable> {
  name: string;
  /** `Usage: dasguard …` (more lines for more forms). */
  usage: string;
  /** The paragraphs between the usage and the option list. */
  description: string;
  options: O;
  /** Lines after the option list. */
  footer?: string;
  run(values: Values<O>, positionals: string[], io: Io): Promise<number>;
}

/** Every command takes -h / --help (the registry answers it before parsing); it is not listed in the help. */
const HELP_OPTION = { help: { type: 'boolean', short: 'h' } } as const satisfies OptionTable;

/** Declares a command (keeps the option table's literal types for `run`'s values). */
export function defineCommand<const O extends OptionTable>(command: Command<O>): Command<O> {
  return command;
}

/** A group's flags without their option-list lines (a command whose usage line names them). */
export function unlisted<O extends OptionTable>(options: O): O {
  return Object.fromEntries(Object.entries(options).map(([name, { label: _l, help: _h, ...o }]) => [name, o])) as O;
}

/** The command's `--help` text: usage, description, the listed options, the footer. */
export function renderHelp(command: Command): string {
  const listed = Object.values(command.options).filter((o) => o.label !== undefined && o.help !== undefined);
  const lines = listed.flatMap((o) => {
    const [first, ...more] = o.help!.split('\n');
    const label = o.label!.length <= 21 ? o.label!.padEnd(22) : `${o.label}  `;
    return [`  ${label}${first}`, ...more.map((l) => `${' '.repeat(24)}${l}`)];
  });
  return (
    `${command.usage}\n\n${command.description}\n` +
    (lines.length > 0 ? `\n${lines.join('\n')}\n` : '') +
    (command.footer !== undefined ? `${command.footer}\n` : '')
  );
}

/** parseArgs on the command's table (strict: an unknown flag is a usage error naming the command's help). */
export function parseCommandArgs<O extends OptionTable>(command: Command<O>, args: string[]): { values: Values<O>; positionals: string[] } {
  const options = {} as Record<string, ParseArgsOptionConfig>;
  const table: OptionTable = { ...command.options, ...HELP_OPTION };
  for (const [name, o] of Object.entries(table)) {
    options[name] = {
      type: o.type,
      ...(o.short !== undefined ? { short: o.short } : {}),
      ...(o.multiple !== undefined ? { multiple: o.multiple } : {}),
      ...(o.default !== undefined ? { default: o.default } : {}),
    };
  }
  try {
    const { values, positionals } = parseArgs({ args, options, allowPositionals: true, strict: true });
    for (const [name, o] of Object.entries(table)) {
      const given = (values as Record<string, unknown>)[name];
      if (o.commaList && Array.isArray(given)) {
        (values as Record<string, unknown>)[name] = (given as string[]).flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
      }
    }
    return { values: values as Values<O>, positionals };
  } catch (err) {
    // parseArgs' own text for an unknown flag explains positionals that start with '-': say what the user meant.
    const unknown = (err as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? /'(-[^']*)'/.exec(errorMessage(err))?.[1] : undefined;
    const flags = Object.keys(table).map((n) => `--${n}`);
    const text = unknown !== undefined ? `unknown option ${unknown} for 'dasguard ${command.name}'${didYouMean(unknown.split('=')[0] as string, flags)}` : errorMessage(err);
    throw new UsageError(`${text}\nRun 'dasguard ${command.name} --help' for usage.`);
  }
}
