/** `dasguard validate [PATH...]`: every problem in the rule files at once; exit 0 (clean) or 2. */
import { ExitCode } from '../errors.js';
import { formatProblem, loadRules } from '../rules/index.js';
import { defaultRulePaths, type Io } from './common.js';

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
