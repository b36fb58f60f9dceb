/**
 * `Problem`: one mistake in a config file (rule files, dasguard.yaml, loss-window patterns) at the file and line
 * of the node at fault, or in the Lambda environment (`variable` names it); the rule id where one is concerned; a
 * severity. Every checker collects them in a ProblemList and reports all at once.
 */
import { terminalSafe } from '../util/escape.js';

/** A mistake, with the file and line of the node at fault. */
export interface Problem {
  /** The file; `environment` for an environment variable (named by `variable`). */
  file: string;
  /** The environment variable at fault (then `line` is 0). */
  variable?: string;
  /** 1-based; 0 when the problem is about the whole file (it cannot be read). */
  line: number;
  /** 1-based. */
  column?: number;
  ruleId?: string;
  message: string;
  /** 'error' (default) stops the rules from loading; a 'warning' is printed and the rules load. */
  severity?: 'error' | 'warning';
}

/** `file:line ruleId: message` (`-` when no rule is concerned); warnings say so after the colon. */
export function formatProblem(p: Problem): string {
  const message = p.severity === 'warning' ? `warning: ${p.message}` : p.message;
  return terminalSafe(`${p.file}:${p.line} ${p.ruleId ?? '-'}: ${message}`);
}

/**
 * `file:line: message`: for the files that hold no rules (dasguard.yaml, loss-window patterns); `NAME: message` for
 * an environment variable.
 */
export function formatFileProblem(p: Problem): string {
  const where = p.variable ?? `${p.file}:${p.line}`;
  return terminalSafe(`${where}: ${p.severity === 'warning' ? 'warning: ' : ''}${p.message}`);
}

/** `N problems in FILE:` and each problem on its own line, as `formatFileProblem` writes them. */
export function fileProblemsMessage(file: string, problems: readonly Problem[]): string {
  const errors = problems.filter(isError).length;
  return `${errors} problem${errors === 1 ? '' : 's'} in ${file}:\n${problems.map(formatFileProblem).join('\n')}`;
}

export function isError(p: Problem): boolean {
  return p.severity !== 'warning';
}

/** A 1-based position in a file. */
export interface Pos {
  file: string;
  line: number;
  column: number;
}

/** Collects problems, dropping exact repeats (a macro used by several rules reports its own mistakes once). */
export class ProblemList {
  readonly items: Problem[] = [];
  readonly #seen = new Set<string>();

  add(pos: Pos, message: string, ruleId?: string, severity: 'error' | 'warning' = 'error'): void {
    const key = `${pos.file}\0${pos.line}\0${pos.column}\0${ruleId ?? ''}\0${message}`;
    if (this.#seen.has(key)) return;
    this.#seen.add(key);
    const p: Problem = { file: pos.file, line: pos.line, column: pos.column, message };
    if (ruleId !== undefined) p.ruleId = ruleId;
    if (severity === 'warning') p.severity = 'warning';
    this.items.push(p);
  }

  warn(pos: Pos, message: string, ruleId?: string): void {
    this.add(pos, message, ruleId, 'warning');
  }

  /** A problem with an environment variable. */
  addVariable(variable: string, message: string, severity: 'error' | 'warning' = 'error'): void {
    const key = `\0env\0${variable}\0${message}`;
    if (this.#seen.has(key)) return;
    this.#seen.add(key);
    const p: Problem = { file: 'environment', variable, line: 0, message };
    if (severity === 'warning') p.severity = 'warning';
    this.items.push(p);
  }
}
