/** Rules: YAML files -> checked, compiled RuleSet (json-rules-engine semantics, compiled for speed). What other stages use of them. */
export { formatProblem, type Problem } from '../config/problems.js';
export { loadRules, loadRuleTexts, rulesFailedMessage, rulesVersion } from './load.js';
export type { CompiledRule, CorrelationFiring, RuleMatch, RuleSet } from './types.js';
export { CorrelationEngine, eventKey, fingerprint, type CorrelationSnapshot } from './CorrelationEngine.js';
export { LiveRuleSet } from './LiveRuleSet.js';
export { runRuleTests, completeTestEvent } from './ruleTests.js';
export { explainRule, feedOnlyLines } from './explain.js';
