/** `dasguard validate [PATH...]`: every problem in the rule files at once; exit 0 (clean) or 2. */
import { ExitCode } from '../errors.js';
import { formatProblem, loadRules } from '../rules/index.js';
import { defaultRulePaths } from './common.js';
import type { Io } from './io.js';

export async function validateCommand(opts: { paths: string[] }, io: Io): Promise<number> {
  const paths = opts.paths.length > 0 ? opts.paths : defaultRulePaths();
  const { ruleSet, problems, files } = await loadRules(paths);
  for (const p of problems) io.stderr.write(formatProblem(p) + '\n');
  if (!ruleSet || problems.length > 0) {
    io.stderr.write(`${problems.length} problem${problems.length === 1 ? '' : 's'} in ${files.length} rule file${files.length === 1 ? '' : 's'}\n`);
    return ExitCode.usage;
  }
  const enabled = ruleSet.rules.filter((r) => r.enabled).length;
  io.stdout.write(`${ruleSet.rules.length} rules (${enabled} enabled) in ${files.length} file${files.length === 1 ? '' : 's'}: OK\n`);
  return ExitCode.ok;
}

// ---- The command-line declaration of `validate` (src/cli.ts lists it; src/commands/command.ts).
// (what only the declaration needs is imported here, so this block stays apart from the command's code)
import { defineCommand } from './command.js';

export const validateCli = defineCommand({
  name: 'validate',
  usage: 'Usage: dasguard validate [PATH...]',
  description:
    'Loads rule files (default ./rules, else the bundled pack) and prints every problem as file:line rule-id: message.\n' +
    'Exit 0 when clean, 2 otherwise.',
  options: {},
  run: (_v, positionals, io) => validateCommand({ paths: positionals }, io),
});
