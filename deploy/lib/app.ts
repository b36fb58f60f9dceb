/** The one stack the context asks for, in the account and region of the stream's KMS key. */
import type { App, Stack } from 'aws-cdk-lib';
import { DasguardLambdaStack } from './DasguardLambdaStack.js';
import { DasguardRunStack } from './DasguardRunStack.js';
import { readSettings, type ContextKey, type ReadOptions } from './settings.js';

export function buildStack(app: App, opts: ReadOptions): Stack {
  const s = readSettings((key: ContextKey) => app.node.tryGetContext(key), opts);
  const common = { stackName: s.stackName, env: s.env, stream: s.stream, stateTable: s.stateTable, description: `dasguard (${s.target}) for the activity stream of ${s.stream.resourceId}` };
  return s.target === 'run' ? new DasguardRunStack(app, s.stackName, { ...common, run: s.run }) : new DasguardLambdaStack(app, s.stackName, { ...common, lambda: s.lambda });
}
