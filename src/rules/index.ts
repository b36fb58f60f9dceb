/** Rules: YAML files -> checked, compiled RuleSet (json-rules-engine semantics, compiled for speed). What other stages use of them. */
export { formatProblem, type Problem } from '../config/problems.js';
export { loadRules, loadRuleTexts, rulesFailedMessage } from './load.js';
export type { RuleMatch, RuleSet } from './types.js';
export { runRuleTests, completeTestEvent } from './ruleTests.js';
export { explainRule } from './explain.js';
