/**
 * The CDK app: `npx cdk deploy -c clusterResourceId=cluster-… -c kmsKeyArn=arn:aws:kms:…` (deploy/README.md).
 * Builds the Lambda stack (target lambda, the default) or the `run` stack (-c target=run) from the context; invalid
 * settings stop it with every problem listed.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App } from 'aws-cdk-lib';
import { buildStack } from '../lib/app.js';
import { SettingsError } from '../lib/settings.js';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const app = new App();
try {
  buildStack(app, { defaultLambdaAsset: join(REPO, 'dist-lambda', 'dasguard-lambda.zip'), exists: existsSync });
} catch (err) {
  if (!(err instanceof SettingsError)) throw err;
  console.error(err.message);
  process.exit(2);
}
app.synth();
