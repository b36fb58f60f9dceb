/** `dasguard test [PATH...]`: runs the `tests:` blocks of the rule files (each rule: events that fire, events that don't). */
import { ExitCode } from '../errors.js';
import { runRuleTests } from '../rules/index.js';
import { loadRulesOrExit } from './common.js';
import type { Io } from './io.js';
import { terminalSafe } from '../util/escape.js';

export async function testRulesCommand(opts: { paths: string[] }, io: Io): Promise<number> {
  const { ruleSet } = await loadRulesOrExit(opts.paths, io);
  const result = runRuleTests(ruleSet);
  for (const f of result.failed) io.stderr.write(terminalSafe(`FAIL ${f.file}:${f.line} ${f.ruleId}: ${f.message}`) + '\n');
  io.stdout.write(`${result.passed} passed, ${result.failed.length} failed\n`);
  return result.failed.length > 0 ? ExitCode.ruleTestsFailed : ExitCode.ok;
}

// ---- The command-line declaration of `test` (src/cli.ts lists it; src/commands/command.ts).
// (what only the declaration needs is imported here, so this block stays apart from the command's code)
import { defineCommand } from './command.js';
import { RULES_OPTION } from './options.js';

export const testCli = defineCommand({
  name: 'test',
  usage: 'Usage: dasguard test [PATH...] [--rules PATH]...',
  description:
    "Runs the tests embedded in the rule files: each 'fires' event must fire its rule, each 'doesNotFire' must not,\n" +
    "and each timed 'sequences' entry of a correlation rule must give the alerts it expects.\n" +
    'Exit 0 when all pass, 1 when any fails, 2 when the rules do not load.',
  options: {
    rules: { ...RULES_OPTION, help: 'Rule file or directory, the same as a PATH; repeat it or list several (--rules a,b)' },
  },
  run: (v, positionals, io) => testRulesCommand({ paths: [...positionals, ...(v.rules ?? [])] }, io),
});
