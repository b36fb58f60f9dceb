/** `dasguard test [PATH...]`: runs the `tests:` blocks of the rule files (each rule: events that fire, events that don't). */
import { ExitCode } from '../errors.js';
import { runRuleTests } from '../rules/index.js';
import { loadRulesOrExit, type Io } from './common.js';
import { terminalSafe } from '../util/escape.js';

export async function testRulesCommand(opts: { paths: string[] }, io: Io): Promise<number> {
  const { ruleSet } = await loadRulesOrExit(opts.paths, io);
  const result = runRuleTests(ruleSet);
  for (const f of result.failed) io.stderr.write(terminalSafe(`FAIL ${f.file}:${f.line} ${f.ruleId}: ${f.message}`) + '\n');
  io.stdout.write(`${result.passed} passed, ${result.failed.length} failed\n`);
  return result.failed.length > 0 ? ExitCode.ruleTestsFailed : ExitCode.ok;
}
