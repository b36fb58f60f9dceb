/** Rules: YAML files -> checked, compiled RuleSet (json-rules-engine semantics, compiled for speed). */
export { formatProblem, type Problem } from '../config/problems.js';
export { loadRules, loadRuleTexts, rulesFailedMessage, type LoadResult } from './load.js';
export { CompiledRuleSet } from './RuleSet.js';
export type { RuleInfo, RuleMatch, RuleSet, EngineRuleJson } from './types.js';
export { runRuleTests, completeTestEvent, type RuleTestFailure, type RuleTestResult } from './ruleTests.js';
export { OPERATOR_SPECS, CUSTOM_OPERATORS, newEngine, type OperatorSpec } from './operators.js';
export { ACTIVITY_FIELDS, RDS_EVENT_FIELDS, type FieldType, type RuleTarget } from './fields.js';
