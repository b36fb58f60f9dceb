/**
 * The package's public API (`import { ... } from 'dasguard'`), exported by name: what a program embedding
 * dasguard needs, and nothing of its internals. The Lambda entry point is also `dasguard/lambda` (its `handler`
 * is `dist/lambda.handler`). Each name is documented where it is defined.
 *
 * - rules: `loadRules` (YAML files -> a checked, compiled RuleSet, every problem at once), `runRuleTests`;
 * - the record path: `processRecord` (one Kinesis record -> decode, decrypt, rules -> alerts or quarantine);
 * - data keys: the `KeyProvider` port, `KmsKeyProvider` (AWS KMS) and `LocalKeyProvider` (a master-key file);
 * - alert delivery: config, routing, the durable outbox (`DeliveryHandoff`), sinks and redaction;
 * - the Lambda handler factories `createHandler` / `createEnvHandler`;
 * - the error classes, by which a caller tells poison (quarantine) from transient (retry) from configuration.
 *
 * Importing this module has no side effect: nothing is read, connected or started until a function is called.
 */

// Rules
export { loadRules, loadRuleTexts, type LoadResult } from './rules/load.js';
export { formatProblem, type Problem } from './config/problems.js';
export { runRuleTests, type RuleTestFailure, type RuleTestResult } from './rules/ruleTests.js';
export type { RuleInfo, RuleMatch, RuleSet } from './rules/types.js';
export type { RuleTarget } from './rules/fields.js';

// The record path
export { processRecord, describeQuarantine, type ProcessorDeps, type Quarantined, type RecordOutcome } from './pipeline/processRecord.js';
export type { Alert } from './pipeline/alert.js';
export type { AlertHandoff } from './pipeline/AlertHandoff.js';
export {
  Severities,
  formatPosition,
  severityRank,
  type ActivityEvent,
  type DbEngine,
  type DecodedBatch,
  type EncryptionContext,
  type Heartbeat,
  type RecordPosition,
  type RejectedEvent,
  type Severity,
  type SourceRecord,
} from './types.js';

// Data keys
export { encryptionContextFor, type KeyProvider, type KeyProviderStats } from './keys/KeyProvider.js';
export { KmsKeyProvider, type KmsKeyProviderOptions } from './keys/KmsKeyProvider.js';
export { LocalKeyProvider, type LocalKeyFile } from './keys/LocalKeyProvider.js';

// Alert delivery and redaction
export {
  DEFAULT_CONFIG_FILE,
  DEFAULT_OUTBOX_DIR,
  DeliveryHandoff,
  Router,
  formatConfigProblem,
  loadDeliveryConfig,
  maskSecrets,
  maskUrl,
  parseDeliveryConfig,
  redactAlert,
  redactEvent,
  resolveDeliveryConfig,
  sendTestAlert,
  shortcutConfig,
  testAlert,
  type DeliveredAlert,
  type DeliveryConfig,
  type DeliveryHandoffOptions,
  type HandoffStats,
  type RedactionMode,
  type RouteConfig,
  type SendResult,
  type Sink,
  type SinkConfig,
} from './delivery/index.js';
export { REDACTION_MODES } from './redaction/index.js';

// The Lambda handler
export {
  bundledRulesPath,
  createEnvHandler,
  createHandler,
  type EnvHandler,
  type EnvHandlerOptions,
  type HandlerDeps,
  type InvocationSummary,
  type KinesisHandler,
  type KinesisStreamBatchResponse,
  type KinesisStreamEvent,
  type KinesisStreamRecord,
  type LambdaContext,
  type LogEntry,
} from './lambda.js';

// Errors
export {
  ConfigError,
  DasguardError,
  DataKeyError,
  DataKeyProblem,
  DirLockedError,
  PoisonReason,
  PoisonRecordError,
  TransientError,
  UsageError,
} from './errors.js';
