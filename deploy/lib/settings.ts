/**
 * The app's settings: CDK context values (`-c key=value` on the command line, or `context` in cdk.json), checked
 * at once. Every problem names its context key; all of them are reported together, so one `cdk synth` tells a user
 * everything that is wrong. Values from the command line are strings, values from cdk.json may be numbers: both are
 * accepted.
 */
import {
  KMS_KEY_ARN_PATTERN,
  RESOURCE_ID_PATTERN,
  SECRET_ARN_PATTERN,
  STREAM_ARN_PATTERN,
  STREAM_NAME_PATTERN,
  streamNameFor,
  type ActivityStream,
} from './das.js';

export const TARGETS = ['lambda', 'run'] as const;
export type Target = (typeof TARGETS)[number];

export const STARTING_POSITIONS = ['TRIM_HORIZON', 'LATEST'] as const;
export type StartingPosition = (typeof STARTING_POSITIONS)[number];

/** The Lambda path's settings (target `lambda`). */
export interface LambdaSettings {
  /** The function's code: the zip `npm run package:lambda` writes, or a directory holding index.mjs. */
  lambdaAsset: string;
  startingPosition: StartingPosition;
  batchSize: number;
  parallelizationFactor: number;
  /** -1: retry until the record leaves the stream (the default); else the attempts before the on-failure destination. */
  maxRetryAttempts: number;
  memorySize: number;
  timeoutSeconds: number;
  /** A Secrets Manager secret whose SecretString is the Slack incoming-webhook URL. */
  slackWebhookSecretArn?: string;
}

/** `dasguard run` on containers (target `run`). */
export interface RunSettings {
  /** The cluster identifier, when `run --cluster` finds the stream through RDS (adds rds:DescribeDBClusters). */
  clusterName?: string;
}

export interface AppSettings {
  target: Target;
  stackName: string;
  /** Where the stack goes: the account and region of the activity stream's KMS key. */
  env: { account: string; region: string };
  stream: ActivityStream;
  lambda: LambdaSettings;
  run: RunSettings;
  /** A DynamoDB state table for the correlation rules, shared by every invocation or task (default true). */
  stateTable: boolean;
}

/** What each context key is for (deploy/README.md lists the same). */
export const CONTEXT_KEYS = {
  clusterResourceId: 'the DbClusterResourceId (cluster-…) or DbiResourceId (db-…) of the database: the KMS encryption context',
  kmsKeyArn: 'the ARN of the KMS key of the activity stream (ActivityStreamKmsKeyId; a key ARN, not an alias)',
  stream: 'the activity stream, by name or ARN (default aws-rds-das-<clusterResourceId>)',
  target: 'lambda (default): the function and its event source mapping; run: the task role and tables for `dasguard run`',
  stackName: 'the CloudFormation stack name (default dasguard-<clusterResourceId>, dasguard-run-<clusterResourceId>)',
  lambdaAsset: 'the function code: the zip of `npm run package:lambda` (default ../dist-lambda/dasguard-lambda.zip)',
  startingPosition: 'TRIM_HORIZON (default) or LATEST',
  batchSize: 'records per invocation, 1 to 10000 (default 100)',
  parallelizationFactor: 'concurrent batches per shard, 1 to 10 (default 1: every shard in order)',
  maxRetryAttempts: '-1 (default: retry until the record expires) or 0 to 10000',
  memorySize: 'the function memory in MB, 128 to 10240 (default 1024)',
  timeoutSeconds: 'the function timeout in seconds, 1 to 900 (default 60)',
  slackWebhookSecretArn: 'optional: a Secrets Manager secret holding the Slack incoming-webhook URL',
  clusterName: 'target run, optional: the DB cluster identifier for `dasguard run --cluster` (adds rds:DescribeDBClusters)',
  stateTable: 'true (default): a DynamoDB table for the correlation rules\' state, shared by every invocation or task; false: none (each container or task counts its own events; docs/scaling.md for its cost)',
} as const;

export type ContextKey = keyof typeof CONTEXT_KEYS;

export class SettingsError extends Error {
  override name = 'SettingsError';
  constructor(readonly problems: readonly string[]) {
    super(`invalid deploy settings (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${problems.map((p) => `  -c ${p}`).join('\n')}`);
  }
}

export interface ReadOptions {
  /** The asset used when `lambdaAsset` is not given. */
  defaultLambdaAsset: string;
  /** Whether a path exists (the asset must, for target lambda). */
  exists: (path: string) => boolean;
}

const DEFAULTS = { startingPosition: 'TRIM_HORIZON', batchSize: 100, parallelizationFactor: 1, maxRetryAttempts: -1, memorySize: 1024, timeoutSeconds: 60 } as const;

/** The settings from `context` (a key's value or undefined), or a SettingsError with every problem. */
export function readSettings(context: (key: ContextKey) => unknown, opts: ReadOptions): AppSettings {
  const problems: string[] = [];
  const text = (key: ContextKey): string | undefined => {
    const v = context(key);
    if (v === undefined || v === null || v === '') return undefined;
    if (typeof v !== 'string') {
      problems.push(`${key}: must be a string; got ${JSON.stringify(v)}`);
      return undefined;
    }
    return v.trim();
  };
  const integer = (key: ContextKey, min: number, max: number, fallback: number): number => {
    const v = context(key);
    if (v === undefined || v === null || v === '') return fallback;
    const n = typeof v === 'number' ? v : typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : NaN;
    if (!Number.isInteger(n) || n < min || n > max) {
      problems.push(`${key}: must be an integer from ${min} to ${max}; got ${JSON.stringify(v)}`);
      return fallback;
    }
    return n;
  };
  const flag = (key: ContextKey, fallback: boolean): boolean => {
    const v = context(key);
    if (v === undefined || v === null || v === '') return fallback;
    if (v === true || v === 'true') return true;
    if (v === false || v === 'false') return false;
    problems.push(`${key}: must be true or false; got ${JSON.stringify(v)}`);
    return fallback;
  };
  const oneOf = <T extends string>(key: ContextKey, values: readonly T[], fallback: T): T => {
    const v = text(key);
    if (v === undefined) return fallback;
    if (!(values as readonly string[]).includes(v)) {
      problems.push(`${key}: must be one of ${values.join(', ')}; got ${JSON.stringify(v)}`);
      return fallback;
    }
    return v as T;
  };

  const target = oneOf('target', TARGETS, 'lambda');

  const resourceId = text('clusterResourceId');
  if (resourceId === undefined) problems.push(`clusterResourceId: required: ${CONTEXT_KEYS.clusterResourceId} (aws rds describe-db-clusters --query 'DBClusters[].DbClusterResourceId')`);
  else if (!RESOURCE_ID_PATTERN.test(resourceId)) problems.push(`clusterResourceId: must look like cluster-ABCDEFGHIJKLMNOPQRSTUVWXYZ or db-…; got ${JSON.stringify(resourceId)}`);

  const kmsKeyArn = text('kmsKeyArn');
  const key = kmsKeyArn === undefined ? undefined : KMS_KEY_ARN_PATTERN.exec(kmsKeyArn);
  if (kmsKeyArn === undefined) problems.push(`kmsKeyArn: required: ${CONTEXT_KEYS.kmsKeyArn} (aws rds describe-db-clusters --query 'DBClusters[].ActivityStreamKmsKeyId')`);
  else if (!key) problems.push(`kmsKeyArn: must be a key ARN, arn:aws:kms:REGION:ACCOUNT:key/KEY-ID (an alias or a bare key id does not work in an IAM policy); got ${JSON.stringify(kmsKeyArn)}`);
  const partition = key?.[1] ?? 'aws';
  const region = key?.[2] ?? '';
  const account = key?.[3] ?? '';

  let streamArn = '';
  const stream = text('stream');
  if (stream !== undefined && stream.startsWith('arn:')) {
    const m = STREAM_ARN_PATTERN.exec(stream);
    if (!m) problems.push(`stream: not a Kinesis stream ARN (arn:aws:kinesis:REGION:ACCOUNT:stream/NAME); got ${JSON.stringify(stream)}`);
    else if (key && (m[2] !== region || m[3] !== account)) {
      problems.push(`stream: the stream (${m[2]}, account ${m[3]}) and the KMS key (${region}, account ${account}) must be in the same region and account, as DAS creates them`);
    } else streamArn = stream;
  } else {
    const name = stream ?? (resourceId !== undefined ? streamNameFor(resourceId) : undefined);
    if (name !== undefined && !STREAM_NAME_PATTERN.test(name)) problems.push(`stream: not a Kinesis stream name or ARN; got ${JSON.stringify(name)}`);
    else if (name !== undefined && key) streamArn = `arn:${partition}:kinesis:${region}:${account}:stream/${name}`;
  }

  const stackName = text('stackName') ?? (resourceId !== undefined ? `dasguard-${target === 'run' ? 'run-' : ''}${resourceId}` : 'dasguard');
  if (!/^[A-Za-z][A-Za-z0-9-]{0,127}$/.test(stackName)) problems.push(`stackName: letters, digits and hyphens, starting with a letter, at most 128; got ${JSON.stringify(stackName)}`);

  const slackWebhookSecretArn = text('slackWebhookSecretArn');
  if (slackWebhookSecretArn !== undefined && !SECRET_ARN_PATTERN.test(slackWebhookSecretArn)) {
    problems.push(`slackWebhookSecretArn: must be a Secrets Manager secret ARN (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-AbCdEf); got ${JSON.stringify(slackWebhookSecretArn)}`);
  }

  const lambdaAsset = text('lambdaAsset') ?? opts.defaultLambdaAsset;
  if (target === 'lambda' && !opts.exists(lambdaAsset)) {
    problems.push(`lambdaAsset: ${lambdaAsset} does not exist: build it first with \`npm run package:lambda\` in the repository root (or point lambdaAsset at the zip)`);
  }
  const lambda: LambdaSettings = {
    lambdaAsset,
    startingPosition: oneOf('startingPosition', STARTING_POSITIONS, DEFAULTS.startingPosition),
    batchSize: integer('batchSize', 1, 10_000, DEFAULTS.batchSize),
    parallelizationFactor: integer('parallelizationFactor', 1, 10, DEFAULTS.parallelizationFactor),
    maxRetryAttempts: integer('maxRetryAttempts', -1, 10_000, DEFAULTS.maxRetryAttempts),
    memorySize: integer('memorySize', 128, 10_240, DEFAULTS.memorySize),
    timeoutSeconds: integer('timeoutSeconds', 1, 900, DEFAULTS.timeoutSeconds),
    ...(slackWebhookSecretArn !== undefined ? { slackWebhookSecretArn } : {}),
  };

  const clusterName = text('clusterName');
  if (clusterName !== undefined && !/^[A-Za-z][A-Za-z0-9-]{0,62}$/.test(clusterName)) problems.push(`clusterName: not a DB cluster identifier; got ${JSON.stringify(clusterName)}`);

  const stateTable = flag('stateTable', true);

  if (problems.length > 0) throw new SettingsError(problems);
  return {
    target,
    stackName,
    env: { account, region },
    stream: { resourceId: resourceId!, streamArn, kmsKeyArn: kmsKeyArn! },
    lambda,
    run: clusterName !== undefined ? { clusterName } : {},
    stateTable,
  };
}
