import { terminalSafe } from '../util/escape.js';

/** A mistake found in a rule file, with the file and line of the node at fault. */
export interface RuleProblem {
  file: string;
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
export function formatProblem(p: RuleProblem): string {
  const message = p.severity === 'warning' ? `warning: ${p.message}` : p.message;
  return terminalSafe(`${p.file}:${p.line} ${p.ruleId ?? '-'}: ${message}`);
}

/** `file:line: message`: for the files that hold no rules (dasguard.yaml, loss-window patterns). */
export function formatFileProblem(p: RuleProblem): string {
  return terminalSafe(`${p.file}:${p.line}: ${p.severity === 'warning' ? 'warning: ' : ''}${p.message}`);
}

/** `N problems in FILE:` and each problem on its own line, as `formatFileProblem` writes them. */
export function fileProblemsMessage(file: string, problems: readonly RuleProblem[]): string {
  const errors = problems.filter(isError).length;
  return `${errors} problem${errors === 1 ? '' : 's'} in ${file}:\n${problems.map(formatFileProblem).join('\n')}`;
}

export function isError(p: RuleProblem): boolean {
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
  readonly items: RuleProblem[] = [];
  readonly #seen = new Set<string>();

  add(pos: Pos, message: string, ruleId?: string, severity: 'error' | 'warning' = 'error'): void {
    const key = `${pos.file}\0${pos.line}\0${pos.column}\0${ruleId ?? ''}\0${message}`;
    if (this.#seen.has(key)) return;
    this.#seen.add(key);
    const p: RuleProblem = { file: pos.file, line: pos.line, column: pos.column, message };
    if (ruleId !== undefined) p.ruleId = ruleId;
    if (severity === 'warning') p.severity = 'warning';
    this.items.push(p);
  }

  warn(pos: Pos, message: string, ruleId?: string): void {
    this.add(pos, message, ruleId, 'warning');
  }
}
