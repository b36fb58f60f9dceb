/**
 * AWS Secrets Manager for dasguard: one secret's string, read once (the Lambda's DASGUARD_SLACK_WEBHOOK_SECRET), with
 * the standard SDK configuration (credential chain, region, `AWS_ENDPOINT_URL_SECRETS_MANAGER`). The client library
 * is imported on first use: a function that reads no secret does not load it.
 *
 * A secret that is missing, binary, marked for deletion or refused (AccessDenied, a KMS key the role may not use) is a
 * ConfigError naming it: every invocation would fail the same way. Throttling, 5xx and network failures are
 * TransientError (src/aws/errors.ts): the mapping retries the batch and the next init reads it again.
 * IAM: secretsmanager:GetSecretValue on the secret (and kms:Decrypt on its key when it is not the AWS managed one).
 */
import { ConfigError } from '../errors.js';
import { awsErrorInfo, classifyAwsError } from './errors.js';

/** Secrets Manager's errors that no retry mends. */
const CONFIG_SECRET_ERRORS: ReadonlySet<string> = new Set(['ResourceNotFoundException', 'InvalidRequestException', 'InvalidParameterException', 'DecryptionFailure']);

/** The SecretString of `secretId` (an ARN or a name), AWSCURRENT. `what` names who asks, for messages. */
export async function readSecretString(secretId: string, what: string, config: { endpoint?: string } = {}): Promise<string> {
  const { GetSecretValueCommand, SecretsManagerClient } = await import('@aws-sdk/client-secrets-manager');
  const { NodeHttpHandler } = await import('@smithy/node-http-handler');
  const client = new SecretsManagerClient({ requestHandler: new NodeHttpHandler({ connectionTimeout: 5_000, requestTimeout: 10_000 }), ...config });
  try {
    const out = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
    if (typeof out.SecretString !== 'string' || out.SecretString === '') {
      throw new ConfigError(`${what}: the secret ${secretId} holds no text (a binary secret, or empty): store the value as its SecretString`);
    }
    return out.SecretString;
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const info = awsErrorInfo(err);
    if (CONFIG_SECRET_ERRORS.has(info.name)) {
      throw new ConfigError(`${what}: Secrets Manager GetSecretValue of ${secretId} failed (${info.summary}): is the name or ARN right, in this region?`, { cause: err });
    }
    throw classifyAwsError(err, `${what}: Secrets Manager GetSecretValue of ${secretId}`, {
      configHint: `the secretsmanager:GetSecretValue permission on ${secretId} (and kms:Decrypt on its key if it is a customer managed key)`,
    });
  } finally {
    client.destroy();
  }
}
