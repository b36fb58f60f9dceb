/**
 * The Lambda's settings come from its environment, checked by ONE spec (src/config/lambdaEnv.ts: every DASGUARD_*
 * variable, its default, every problem at once naming its variable). This file turns those settings into what the
 * handler needs: the rule paths (default the bundled pack) and the delivery config.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolveDeliveryConfig, shortcutConfig, type DeliveryConfig } from '../delivery/config.js';
import { ConfigError } from '../errors.js';
import { LAMBDA_ENV, type LambdaSettings } from '../config/lambdaEnv.js';
import { checkText } from '../config/checkYaml.js';
import { WEBHOOK_URL } from '../delivery/configSchema.js';
import { readSecretString } from '../aws/secrets.js';

export { LAMBDA_OUTBOX_DIR, checkLambdaEnv, invalidLambdaEnvMessage, type LambdaSettings } from '../config/lambdaEnv.js';

/**
 * Where the rule pack is from this module's directory: `../../rules` from src/lambda/ or dist/lambda/. The Lambda
 * bundle (scripts/package-lambda.ts) defines `__DASGUARD_RULES_FROM_MODULE__` as `rules`: its index.mjs sits beside
 * rules/ at the root of the zip.
 */
declare const __DASGUARD_RULES_FROM_MODULE__: string | undefined;
const RULES_FROM_MODULE = typeof __DASGUARD_RULES_FROM_MODULE__ === 'string' ? __DASGUARD_RULES_FROM_MODULE__ : join('..', '..', 'rules');

/** The bundled rule pack: `<package>/rules` (or `rules/` beside the Lambda bundle). */
export function bundledRulesPath(): string {
  return join(dirname(fileURLToPath(import.meta.url)), RULES_FROM_MODULE);
}

/** DASGUARD_RULES: the rule paths, else the bundled pack. */
export function rulePaths(settings: { rulePaths?: readonly string[] | undefined }): string[] {
  return settings.rulePaths !== undefined && settings.rulePaths.length > 0 ? [...settings.rulePaths] : [bundledRulesPath()];
}

/**
 * The delivery config the environment asks for: DASGUARD_CONFIG (a dasguard.yaml, `${ENV}` substituted from `env`)
 * and the shortcuts DASGUARD_SNS_TOPIC_ARN / DASGUARD_SLACK_WEBHOOK_URL (one extra route each, as the CLI's
 * --sns-topic-arn / --slack-webhook-url); undefined when none is set (no implicit ./dasguard.yaml in a Lambda).
 * Throws one ConfigError listing every problem of the file. `loadedRuleIds`: the ids of the loaded rules, which the config's
 * `rules:` patterns must match (undefined when the rules did not load: their problems are reported instead).
 */
export async function lambdaDeliveryConfig(
  settings: Partial<Pick<LambdaSettings, 'configPath' | 'snsTopicArn' | 'slackWebhookUrl'>>,
  env: NodeJS.ProcessEnv,
  loadedRuleIds: readonly string[] | undefined,
): Promise<DeliveryConfig | undefined> {
  const { configPath, snsTopicArn, slackWebhookUrl } = settings;
  if (configPath === undefined && snsTopicArn === undefined && slackWebhookUrl === undefined) return undefined;
  // The shortcuts' values were checked by the spec (checkLambdaEnv); only the file can still be wrong.
  let base: DeliveryConfig | undefined;
  if (configPath !== undefined) {
    try {
      base = await resolveDeliveryConfig(configPath, env, loadedRuleIds ? { loadedRuleIds } : {});
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      throw new ConfigError(`invalid alert delivery settings; nothing was evaluated:\nDASGUARD_CONFIG: ${err.message}`, { cause: err });
    }
  }
  if (snsTopicArn === undefined && slackWebhookUrl === undefined) return base;
  return shortcutConfig({
    ...(snsTopicArn !== undefined ? { snsTopicArn } : {}),
    ...(slackWebhookUrl !== undefined ? { slackWebhookUrl } : {}),
    ...(base ? { base } : {}),
  });
}

/**
 * DASGUARD_SLACK_WEBHOOK_SECRET: the webhook URL read from Secrets Manager (once, at initialisation) and checked as
 * DASGUARD_SLACK_WEBHOOK_URL is; the settings with it as `slackWebhookUrl`, so it goes where that one goes (the
 * `cli-slack` route, and the secrets every output masks). The SecretString is the URL itself, or a JSON object with
 * the URL in `url` (or as its only member: the console's key/value form). Settings without the variable come back
 * as they are.
 */
export async function withSecretWebhook<T extends Partial<Pick<LambdaSettings, 'slackWebhookUrl' | 'slackWebhookSecret'>>>(settings: T): Promise<T> {
  const id = settings.slackWebhookSecret;
  if (id === undefined) return settings;
  const what = LAMBDA_ENV.settings.slackWebhookSecret.env;
  const url = webhookOf(await readSecretString(id, what));
  const bad = url === undefined ? { problem: 'a JSON object without a "url" member (or a single string member)' } : checkText(url, WEBHOOK_URL);
  if ('problem' in bad) throw new ConfigError(`${what}: the secret ${id} is not a webhook URL: ${bad.problem}`);
  return { ...settings, slackWebhookUrl: url };
}

function webhookOf(secret: string): string | undefined {
  const text = secret.trim();
  if (!text.startsWith('{')) return text;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Not JSON after all: checked (and refused, without showing it) as a URL.
    return text;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  const members = Object.values(parsed as Record<string, unknown>);
  const url = (parsed as Record<string, unknown>).url ?? (members.length === 1 ? members[0] : undefined);
  return typeof url === 'string' ? url.trim() : undefined;
}
