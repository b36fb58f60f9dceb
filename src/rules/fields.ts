/**
 * The fields a rule may test, per target, with the JavaScript type each holds: validation uses the type to
 * reject comparisons that can never be true (`rowCount: '100'`, `gt` on a text field, `contains` on text).
 */

export type FieldType = 'string' | 'number' | 'boolean' | 'array' | 'object' | 'any';
export const FieldTypes: readonly FieldType[] = ['string', 'number', 'boolean', 'array', 'object', 'any'];

export type RuleTarget = 'activity' | 'rds-event';
export const RuleTargets: readonly RuleTarget[] = ['activity', 'rds-event'];

/**
 * What a field's text can carry that a database user typed and that must not leave dasguard in clear (the one
 * redaction table: src/redaction derives every masking decision from these marks):
 * - `sql`: statement text (literals and comment text are masked under `literals`);
 * - `binds`: bind values (every value masked);
 * - `message`: a server message quoting the statement or its values (quoted values and numbers masked);
 * - `value`: a value set by the application or user (masked whole).
 * Under `full` none of them is shown at all. A new field that carries one of these is its `carries` mark below and
 * nothing else: every output redacts through src/redaction (test/unit/redaction.test.ts checks any marked field
 * the same way); docs/redaction.md lists the fields for readers.
 */
export type Carries = 'sql' | 'binds' | 'message' | 'value';

export interface FieldSpec {
  type: FieldType;
  carries?: Carries;
  /** Computed when a rule reads it, from `logTimeMs` in the rule's time zone (src/rules/localTime.ts); not on the event. */
  localTime?: true;
  /**
   * Null or absent on most events (an error's message and code): the rule index (RuleIndex.ts) tries a condition
   * that needs its text (a regex on it) only on events that hold some (compile.ts textKey).
   */
  sparse?: true;
}

/** The fields of a DAS activity event (PostgreSQL, MySQL, Oracle, SQL Server) and the ones dasguard adds. */
export const ACTIVITY_FIELD_SPECS: Readonly<Record<string, FieldSpec>> = {
  // DAS fields
  type: { type: 'string' },
  class: { type: 'string' },
  clientApplication: { type: 'string' },
  command: { type: 'string' },
  commandText: { type: 'string', carries: 'sql' },
  databaseName: { type: 'string' },
  dbProtocol: { type: 'string' },
  dbUserName: { type: 'string' },
  endTime: { type: 'string' },
  errorMessage: { type: 'string', carries: 'message', sparse: true },
  // PostgreSQL: a SQLSTATE string or null (documented as int); MySQL: "0" or "".
  exitCode: { type: 'any', sparse: true },
  logTime: { type: 'string' },
  netProtocol: { type: 'string' },
  objectName: { type: 'string' },
  objectType: { type: 'string' },
  paramList: { type: 'array', carries: 'binds' },
  pid: { type: 'number' },
  remoteHost: { type: 'string' },
  remotePort: { type: 'string' },
  rowCount: { type: 'number' },
  serverHost: { type: 'string' },
  serverType: { type: 'string' },
  serverVersion: { type: 'string' },
  serviceName: { type: 'string' },
  // PostgreSQL "5ce5f7f0.474b", MySQL "725121" (documented as int).
  sessionId: { type: 'any' },
  startTime: { type: 'string' },
  // SQL Server: a hex string.
  statementId: { type: 'any' },
  substatementId: { type: 'number' },
  transactionId: { type: 'string' },
  // Oracle (1.3) and SQL Server (1.4): what its keys carry is in NATIVE_AUDIT_CARRIES
  engineNativeAuditFields: { type: 'object' },
  // added by dasguard
  engine: { type: 'string' },
  clusterId: { type: 'string' },
  instanceId: { type: 'string' },
  recordVersion: { type: 'string' },
  logTimeMs: { type: 'number' },
  startTimeMs: { type: 'number' },
  endTimeMs: { type: 'number' },
  rows: { type: 'number' },
  sqlCommand: { type: 'string' },
  sqlHasWhere: { type: 'boolean' },
  sqlComments: { type: 'number' },
  // MySQL: the objects of the statement, from its AUX events (src/codec/mysqlStatements.ts); test them with
  // hasObject. Object names are shown like objectName: no mark (docs/redaction.md).
  objects: { type: 'array' },
  // computed from logTimeMs in the rule's time zone when a rule reads them (localTime.ts)
  hour: { type: 'number', localTime: true },
  minute: { type: 'number', localTime: true },
  weekday: { type: 'string', localTime: true },
  date: { type: 'string', localTime: true },
  timeOfDay: { type: 'string', localTime: true },
};

/** The keys of each entry of `objects` (a MySQL statement's objects), the keys `hasObject` may test. */
export const STATEMENT_OBJECT_KEYS: readonly string[] = ['name', 'command', 'type', 'database'];

/** Field name -> JavaScript type, for condition checking. */
export const ACTIVITY_FIELDS: Readonly<Record<string, FieldType>> = Object.fromEntries(
  Object.entries(ACTIVITY_FIELD_SPECS).map(([k, v]) => [k, v.type]),
);

/** The fields of an RDS event (DescribeEvents / EventBridge), for rules with `target: rds-event`. */
export const RDS_EVENT_FIELDS: Readonly<Record<string, FieldType>> = {
  eventId: 'string',
  message: 'string',
  categories: 'array',
  sourceIdentifier: 'string',
  sourceType: 'string',
  date: 'string',
  sourceArn: 'string',
};

/** Known keys of `engineNativeAuditFields`: Oracle unified audit (upper case) and SQL Server audit (lower case). */
export const NATIVE_AUDIT_FIELDS: readonly string[] = [
  // Oracle (record version 1.3)
  'ADDITIONAL_INFO', 'APPLICATION_CONTEXTS', 'AUDIT_OPTION', 'AUTHENTICATION_TYPE', 'CLIENT_IDENTIFIER',
  'CURRENT_USER', 'DBLINK_INFO', 'DBPROXY_USERNAME', 'DIRECT_PATH_NUM_COLUMNS_LOADED', 'DP_BOOLEAN_PARAMETERS1',
  'DP_TEXT_PARAMETERS1', 'DV_ACTION_CODE', 'DV_ACTION_NAME', 'DV_ACTION_OBJECT_NAME', 'DV_COMMENT',
  'DV_EXTENDED_ACTION_CODE', 'DV_FACTOR_CONTEXT', 'DV_GRANTEE', 'DV_OBJECT_STATUS', 'DV_RETURN_CODE',
  'DV_RULE_SET_NAME', 'ENTRY_ID', 'EXCLUDED_OBJECT', 'EXCLUDED_SCHEMA', 'EXCLUDED_USER', 'EXECUTION_ID',
  'EXTERNAL_USERID', 'FGA_POLICY_NAME', 'GLOBAL_USERID', 'INSTANCE_ID', 'KSACL_SERVICE_NAME', 'KSACL_SOURCE_LOCATION',
  'KSACL_USER_NAME', 'NEW_NAME', 'NEW_SCHEMA', 'OBJECT_EDITION', 'OBJECT_PRIVILEGES', 'OLS_GRANTEE',
  'OLS_LABEL_COMPONENT_NAME', 'OLS_LABEL_COMPONENT_TYPE', 'OLS_MAX_READ_LABEL', 'OLS_MAX_WRITE_LABEL',
  'OLS_MIN_WRITE_LABEL', 'OLS_NEW_VALUE', 'OLS_OLD_VALUE', 'OLS_PARENT_GROUP_NAME', 'OLS_POLICY_NAME',
  'OLS_PRIVILEGES_GRANTED', 'OLS_PRIVILEGES_USED', 'OLS_PROGRAM_UNIT_NAME', 'OLS_STRING_LABEL', 'OS_USERNAME',
  'PROTOCOL_ACTION_NAME', 'PROTOCOL_MESSAGE', 'PROTOCOL_RETURN_CODE', 'PROTOCOL_SESSION_ID', 'PROTOCOL_USERHOST',
  'PROXY_SESSIONID', 'RLS_INFO', 'RMAN_DEVICE_TYPE', 'RMAN_OBJECT_TYPE', 'RMAN_OPERATION', 'RMAN_SESSION_RECID',
  'RMAN_SESSION_STAMP', 'ROLE', 'SCN', 'SQL_BINDS', 'SQL_TEXT', 'SYSTEM_PRIVILEGE', 'SYSTEM_PRIVILEGE_USED',
  'TARGET_USER', 'TERMINAL', 'UNIFIED_AUDIT_POLICIES', 'USERHOST', 'XS_CALLBACK_EVENT_TYPE', 'XS_COOKIE',
  'XS_DATASEC_POLICY_NAME', 'XS_ENABLED_ROLE', 'XS_ENTITY_TYPE', 'XS_INACTIVITY_TIMEOUT', 'XS_NS_ATTRIBUTE',
  'XS_NS_ATTRIBUTE_NEW_VAL', 'XS_NS_ATTRIBUTE_OLD_VAL', 'XS_NS_NAME', 'XS_PACKAGE_NAME', 'XS_PROCEDURE_NAME',
  'XS_PROXY_USER_NAME', 'XS_SCHEMA_NAME', 'XS_SESSIONID', 'XS_TARGET_PRINCIPAL_NAME', 'XS_USER_NAME',
  // SQL Server (record version 1.4)
  'action_id', 'action_name', 'additional_information', 'affected_rows', 'application_name', 'audit_schema_version',
  'class_type', 'class_type_description', 'client_ip', 'connection_id', 'data_sensitivity_information',
  'database_name', 'database_principal_id', 'database_principal_name', 'duration_milliseconds', 'event_time',
  'host_name', 'is_column_permission', 'object_id', 'object_name', 'permission_bitmask', 'response_rows',
  'schema_name', 'sequence_group_id', 'sequence_number', 'server_instance_name', 'server_principal_id',
  'server_principal_name', 'server_principal_sid', 'session_context', 'session_id', 'session_server_principal_name',
  'statement', 'succeeded', 'target_database_principal_id', 'target_database_principal_name',
  'target_server_principal_id', 'target_server_principal_name', 'target_server_principal_sid', 'transaction_id',
  'user_defined_event_id', 'user_defined_information',
];

/**
 * The keys of `engineNativeAuditFields` that carry statement text, binds, messages or values a user set (the
 * rest are who/where/what metadata). Keys AWS does not document are shown as they are: declare nothing sensitive
 * there without adding it here.
 */
export const NATIVE_AUDIT_CARRIES: Readonly<Record<string, Carries>> = {
  // Oracle unified audit
  SQL_TEXT: 'sql',
  SQL_BINDS: 'binds',
  // row-level security predicates: SQL fragments with the values they compare
  RLS_INFO: 'message',
  // free text an application, a policy or a protocol wrote: masked whole
  ADDITIONAL_INFO: 'value',
  DP_TEXT_PARAMETERS1: 'value',
  DV_COMMENT: 'value',
  PROTOCOL_MESSAGE: 'value',
  APPLICATION_CONTEXTS: 'value',
  XS_COOKIE: 'value',
  XS_NS_ATTRIBUTE_NEW_VAL: 'value',
  XS_NS_ATTRIBUTE_OLD_VAL: 'value',
  OLS_NEW_VALUE: 'value',
  OLS_OLD_VALUE: 'value',
  // SQL Server audit
  statement: 'sql',
  additional_information: 'value',
  user_defined_information: 'value',
  session_context: 'value',
};

/** Names a field cannot have: they mean something else in a condition, or live on Object.prototype. */
export const RESERVED_NAMES: ReadonlySet<string> = new Set([
  'all', 'any', 'not', 'macro', 'fact', 'operator', 'value', 'path', 'params', 'priority', 'name', 'condition',
  ...Object.getOwnPropertyNames(Object.prototype),
]);

export const IDENTIFIER_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
