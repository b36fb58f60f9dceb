/**
 * The Lambda handler's settings: the ONE definition of its DASGUARD_* environment variables (docs/lambda.md lists
 * them; a test keeps the two in step). `checkLambdaEnv` gives the typed settings or every problem at once, each
 * naming its variable. A new variable is one more entry in LAMBDA_ENV: its type in LambdaSettings follows from it.
 *
 * What the values are checked against is shared with the other sources of the same setting: the SNS topic ARN and
 * webhook URL specs of dasguard.yaml (src/delivery/configSchema.ts), the redaction modes of src/redaction/, the
 * default of --redaction (src/config/layers.ts) and the DAS resource id of --resource-id (src/sources/streamName.ts).
 */
import { SNS_TOPIC_ARN, WEBHOOK_URL } from '../delivery/configSchema.js';
import { REDACTION_MODES } from '../redaction/index.js';
import { RESOURCE_ID_HINT, RESOURCE_ID_PATTERN } from '../sources/streamName.js';
import { SETTINGS } from './layers.js';
import { LOG_LEVELS, LOG_LEVEL_ENV } from '../log/logger.js';
import { checkEnv, type EnvCheckResult, type EnvSettings, type EnvSpec } from './checkEnv.js';
import { formatFileProblem, isError, type Problem } from './problems.js';

/** The Lambda's outbox when DASGUARD_OUTBOX_DIR is not set: /tmp is the only writable place. */
export const LAMBDA_OUTBOX_DIR = '/tmp/dasguard-outbox';

export const LAMBDA_ENV = {
  prefix: 'DASGUARD_',
  settings: {
    rulePaths: {
      env: 'DASGUARD_RULES',
      type: 'array',
      items: { type: 'string', description: 'A rule file or directory.' },
      description: 'Rule files or directories, comma-separated; unset: the bundled rules/.',
    },
    resourceId: {
      env: 'DASGUARD_RESOURCE_ID',
      type: 'string',
      pattern: RESOURCE_ID_PATTERN.source,
      patternHint: RESOURCE_ID_HINT,
      description: 'The DbClusterResourceId or DbiResourceId that selects the KMS encryption context; unset: from the stream name.',
    },
    kmsKeyId: { env: 'DASGUARD_KMS_KEY_ID', type: 'string', description: 'Only accept data keys of this KMS key (sent as KeyId).' },
    keyFile: {
      env: 'DASGUARD_KEY_FILE',
      type: 'string',
      description: 'A master-key file that unwraps the data keys instead of AWS KMS (local invoke on the demo key; not for real streams).',
    },
    redaction: {
      env: 'DASGUARD_REDACTION',
      type: 'string',
      enum: REDACTION_MODES,
      default: SETTINGS.redaction.default,
      description: 'The redaction of alerts and log lines.',
    },
    configPath: { env: 'DASGUARD_CONFIG', type: 'string', description: 'A dasguard.yaml packaged with the function.' },
    snsTopicArn: { ...SNS_TOPIC_ARN, env: 'DASGUARD_SNS_TOPIC_ARN', description: 'Shortcut: every alert also goes to this SNS topic (route cli-sns).' },
    slackWebhookUrl: { ...WEBHOOK_URL, env: 'DASGUARD_SLACK_WEBHOOK_URL', description: 'Shortcut: every alert also goes to this Slack webhook (route cli-slack).' },
    slackWebhookSecret: {
      env: 'DASGUARD_SLACK_WEBHOOK_SECRET',
      type: 'string',
      pattern: '^[A-Za-z0-9/_+=.@:-]+$',
      patternHint: 'a Secrets Manager secret ARN or name',
      description:
        'The Slack webhook of the shortcut read from this Secrets Manager secret (its SecretString) at initialisation, instead of DASGUARD_SLACK_WEBHOOK_URL: the URL is then not in the function configuration.',
    },
    outboxDir: { env: 'DASGUARD_OUTBOX_DIR', type: 'string', default: LAMBDA_OUTBOX_DIR, description: 'The delivery outbox.' },
    stateTable: {
      env: 'DASGUARD_STATE_TABLE',
      type: 'string',
      description: "A DynamoDB table where correlation rules keep their state, shared by every shard's invocations (docs/rules.md \"Shared state\"); unset: each container's memory.",
    },
    stateTableCreate: {
      env: 'DASGUARD_STATE_TABLE_CREATE',
      type: 'boolean',
      default: true,
      description: 'Create DASGUARD_STATE_TABLE when it does not exist (on-demand, TTL on expiresAt); false: a missing table is an error.',
    },
    logLevel: {
      env: LOG_LEVEL_ENV,
      type: 'string',
      enum: LOG_LEVELS,
      default: SETTINGS.logLevel.default,
      description: 'The least level of the log lines: debug, info, warn or error.',
    },
  },
} as const satisfies EnvSpec;

export type LambdaSettings = EnvSettings<typeof LAMBDA_ENV.settings>;

/** The settings, or every problem (errors, and warnings: a DASGUARD_ variable that looks like a misspelt setting). */
export function checkLambdaEnv(env: NodeJS.ProcessEnv): EnvCheckResult<LambdaSettings> {
  const checked = checkEnv(env, LAMBDA_ENV);
  if (checked.partial.slackWebhookUrl !== undefined && checked.partial.slackWebhookSecret !== undefined) {
    const { env: secret } = LAMBDA_ENV.settings.slackWebhookSecret;
    const message = `set with ${LAMBDA_ENV.settings.slackWebhookUrl.env}: give the webhook one way (the secret keeps it out of the function configuration)`;
    return { ...checked, settings: undefined, problems: [...checked.problems, { file: 'environment', variable: secret, line: 0, message }] };
  }
  return checked;
}

/**
 * What the Lambda reports when its environment has errors: `invalid Lambda environment (N problems); nothing was
 * evaluated:` and each error (`NAME: problem`), one a line. The one place this message is built.
 */
export function invalidLambdaEnvMessage(problems: readonly Problem[]): string {
  const errors = problems.filter(isError);
  return (
    `invalid Lambda environment (${errors.length} problem${errors.length === 1 ? '' : 's'}); nothing was evaluated:\n` +
    errors.map(formatFileProblem).join('\n')
  );
}
