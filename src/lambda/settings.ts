/**
 * The Lambda's settings, read from its environment: DASGUARD_RULES (comma-separated rule files or directories,
 * default the bundled rules/), DASGUARD_RESOURCE_ID (when the stream name is not `aws-rds-das-<resource id>`),
 * DASGUARD_KMS_KEY_ID (only accept data keys of this KMS key), DASGUARD_REDACTION (`literals` | `full` | `none`),
 * DASGUARD_CONFIG (a dasguard.yaml), DASGUARD_SNS_TOPIC_ARN, DASGUARD_SLACK_WEBHOOK_URL, DASGUARD_OUTBOX_DIR.
 * Each reader validates its variable and throws a ConfigError naming it; the env handler (envHandler.ts) calls them
 * in its order. (A spec-based replacement from src/config/ is to take this file's place.)
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolveDeliveryConfig, shortcutConfig, type DeliveryConfig } from '../delivery/config.js';
import { ConfigError } from '../errors.js';
import type { Redaction } from '../pipeline/alert.js';
import { REDACTION_MODES } from '../redaction/index.js';

/** The Lambda's outbox when DASGUARD_OUTBOX_DIR is not set: /tmp is the only writable place. */
export const LAMBDA_OUTBOX_DIR = '/tmp/dasguard-outbox';

/** The bundled rule pack: `<package>/rules`, from src/lambda/ or dist/lambda/. */
export function bundledRulesPath(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'rules');
}

/** DASGUARD_RULES: the rule paths, else the bundled pack. */
export function rulePathsFromEnv(env: NodeJS.ProcessEnv): string[] {
  const paths = (env.DASGUARD_RULES ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  return paths.length > 0 ? paths : [bundledRulesPath()];
}

/** DASGUARD_REDACTION, default `literals`. */
export function redactionFromEnv(env: NodeJS.ProcessEnv): Redaction {
  const redaction = (env.DASGUARD_REDACTION?.trim() || 'literals') as Redaction;
  if (!(REDACTION_MODES as readonly string[]).includes(redaction)) {
    throw new ConfigError(`DASGUARD_REDACTION must be one of ${REDACTION_MODES.join(', ')}, not "${redaction}"`);
  }
  return redaction;
}

/** DASGUARD_RESOURCE_ID, when set: a `cluster-…` or `db-…` id. */
export function resourceIdFromEnv(env: NodeJS.ProcessEnv): string | undefined {
  const resourceId = env.DASGUARD_RESOURCE_ID?.trim() || undefined;
  if (resourceId !== undefined && !/^(cluster|db)-[A-Za-z0-9_-]+$/.test(resourceId)) {
    throw new ConfigError(
      `DASGUARD_RESOURCE_ID "${resourceId}" is not a DAS resource id (cluster-… or db-…): use the ` +
        'DbClusterResourceId, not the cluster name',
    );
  }
  return resourceId;
}

/** DASGUARD_KMS_KEY_ID, when set. */
export function kmsKeyIdFromEnv(env: NodeJS.ProcessEnv): string | undefined {
  return env.DASGUARD_KMS_KEY_ID?.trim() || undefined;
}

/** DASGUARD_OUTBOX_DIR, default LAMBDA_OUTBOX_DIR. */
export function outboxDirFromEnv(env: NodeJS.ProcessEnv): string {
  return env.DASGUARD_OUTBOX_DIR?.trim() || LAMBDA_OUTBOX_DIR;
}

/**
 * The delivery config the environment asks for: DASGUARD_CONFIG (a dasguard.yaml, `${ENV}` substituted from `env`)
 * and the shortcuts DASGUARD_SNS_TOPIC_ARN / DASGUARD_SLACK_WEBHOOK_URL (one extra route each, as the CLI's
 * --sns-topic-arn / --slack-webhook-url); undefined when none is set (no implicit ./dasguard.yaml in a Lambda).
 * Throws one ConfigError listing every problem. `loadedRuleIds`: the ids of the loaded rules, which the config's
 * `rules:` patterns must match (undefined when the rules did not load: their problems are reported instead).
 */
export async function lambdaDeliveryConfig(env: NodeJS.ProcessEnv, loadedRuleIds: readonly string[] | undefined): Promise<DeliveryConfig | undefined> {
  const configPath = env.DASGUARD_CONFIG?.trim() || undefined;
  const snsTopicArn = env.DASGUARD_SNS_TOPIC_ARN?.trim() || undefined;
  const slackWebhookUrl = env.DASGUARD_SLACK_WEBHOOK_URL?.trim() || undefined;
  if (configPath === undefined && snsTopicArn === undefined && slackWebhookUrl === undefined) return undefined;
  const problems: string[] = [];
  const collect = (label: string, fn: () => unknown): void => {
    try {
      fn();
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      // shortcutConfig names the CLI flag; here the setting is the environment variable.
      problems.push(`${label}: ${err.message.replace(/^--[a-z-]+: /, '')}`);
    }
  };
  let base: DeliveryConfig | undefined;
  if (configPath !== undefined) {
    try {
      base = await resolveDeliveryConfig(configPath, env, loadedRuleIds ? { loadedRuleIds } : {});
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems.push(`DASGUARD_CONFIG: ${err.message}`);
    }
  }
  if (snsTopicArn !== undefined) collect('DASGUARD_SNS_TOPIC_ARN', () => shortcutConfig({ snsTopicArn }));
  if (slackWebhookUrl !== undefined) collect('DASGUARD_SLACK_WEBHOOK_URL', () => shortcutConfig({ slackWebhookUrl }));
  if (problems.length > 0) throw new ConfigError(`invalid alert delivery settings; nothing was evaluated:\n${problems.join('\n')}`);
  if (snsTopicArn === undefined && slackWebhookUrl === undefined) return base;
  return shortcutConfig({
    ...(snsTopicArn !== undefined ? { snsTopicArn } : {}),
    ...(slackWebhookUrl !== undefined ? { slackWebhookUrl } : {}),
    ...(base ? { base } : {}),
  });
}
