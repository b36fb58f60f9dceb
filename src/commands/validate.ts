/**
 * `dasguard validate [PATH...]`: every problem in the rule files at once; exit 0 (clean) or 2. With `--explain
 * RULE-ID`: the effective rule after every file's overrides and appends, and where each property was set or changed.
 * The summary names the enabled rules that only feed correlations (`generate: false`): they give no alert of their own.
 */
import { count } from '../util/plural.js';
import { ExitCode } from '../errors.js';
import { didYouMean } from '../config/didYouMean.js';
import { explainRule, feedOnlyLines, formatProblem, loadRules } from '../rules/index.js';
import { terminalSafe } from '../util/escape.js';
import { defaultRulePaths } from './common.js';
import type { Io } from './io.js';

export async function validateCommand(opts: { paths: string[]; explain?: string | undefined }, io: Io): Promise<number> {
  const paths = opts.paths.length > 0 ? opts.paths : defaultRulePaths();
  const { ruleSet, problems, files } = await loadRules(paths);
  for (const p of problems) io.stderr.write(formatProblem(p) + '\n');
  if (!ruleSet || problems.length > 0) {
    io.stderr.write(`${problems.length} problem${problems.length === 1 ? '' : 's'} in ${files.length} rule file${files.length === 1 ? '' : 's'}\n`);
    return ExitCode.usage;
  }
  if (opts.explain !== undefined) {
    const text = explainRule(ruleSet, opts.explain);
    if (text === undefined) {
      io.stderr.write(terminalSafe(`no rule '${opts.explain}' in ${files.length} rule file${files.length === 1 ? '' : 's'}${didYouMean(opts.explain, ruleSet.rules.map((r) => r.id))}`) + '\n');
      return ExitCode.usage;
    }
    io.stdout.write(text.split('\n').map(terminalSafe).join('\n') + '\n');
    return ExitCode.ok;
  }
  const enabled = ruleSet.rules.filter((r) => r.enabled).length;
  const version = ruleSet.packVersion === undefined ? '' : terminalSafe(`, pack version ${ruleSet.packVersion}`);
  // rulesVersion: what every alert of these rules carries (a digest of the files: the same wherever they are).
  const rules = ruleSet.version === undefined ? '' : `, rules version ${ruleSet.version}`;
  io.stdout.write(`${count(ruleSet.rules.length, 'rule')} (${enabled} enabled) in ${count(files.length, 'file')}${version}${rules}: OK\n`);
  // Sigma's generate: false: say which enabled rules give no alert of their own, so none is a surprise.
  for (const line of feedOnlyLines(ruleSet)) io.stdout.write(terminalSafe(line) + '\n');
  return ExitCode.ok;
}

// ---- The command-line declaration of `validate` (src/cli.ts lists it; src/commands/command.ts).
// (what only the declaration needs is imported here, so this block stays apart from the command's code)
import { defineCommand } from './command.js';
import { RULES_OPTION } from './options.js';

export const validateCli = defineCommand({
  name: 'validate',
  usage: 'Usage: dasguard validate [PATH...] [--rules PATH]... [--explain RULE-ID]',
  description:
    'Loads rule files (default ./rules, else the bundled pack) and prints every problem as file:line rule-id: message.\n' +
    'Exit 0 when clean, 2 otherwise.',
  options: {
    rules: { ...RULES_OPTION, help: 'Rule file or directory, the same as a PATH; repeat it or list several (--rules a,b)' },
    explain: {
      type: 'string',
      label: '--explain RULE-ID',
      help: 'print the effective rule after every file (condition with macros expanded, severity, enabled,\nexceptions) and the file:line that set or changed each property',
    },
  },
  run: (v, positionals, io) => validateCommand({ paths: [...positionals, ...(v.rules ?? [])], explain: v.explain }, io),
});
