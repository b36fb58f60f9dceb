/**
 * The AWS Lambda entry point (`index.handler` of the zip scripts/package-lambda.ts bundles from it) and the package
 * export `dasguard/lambda`: a thin module that builds the env handler and re-exports the Lambda API. The parts live
 * in src/lambda/: handler.ts (the handler's transport policy over the record driver), envHandler.ts (built from the environment, once per container),
 * settings.ts (the rule paths and delivery config from the settings; the environment variables themselves are
 * defined in src/config/lambdaEnv.ts), logging.ts (JSON log lines through the one logger, src/log/logger.ts); the event types are in
 * src/sources/lambdaEvent.ts, shared with file input.
 */
import { quietSdkNodeWarning } from './aws/nodeSupport.js';
import { createEnvHandler, type EnvHandler } from './lambda/envHandler.js';

export type { KinesisStreamBatchResponse, KinesisStreamEvent, KinesisStreamRecord } from './sources/lambdaEvent.js';
export {
  DEFAULT_DELIVERY_MARGIN_MS,
  createHandler,
  type CommonDeps,
  type HandlerDeps,
  type InvocationSummary,
  type KinesisHandler,
  type LambdaContext,
  type LambdaDelivery,
} from './lambda/handler.js';
export { createEnvHandler, type EnvHandler, type EnvHandlerOptions } from './lambda/envHandler.js';
export { LAMBDA_OUTBOX_DIR, bundledRulesPath, lambdaDeliveryConfig } from './lambda/settings.js';
export type { LogEntry } from './lambda/logging.js';

// At module init, before any AWS client: the SDK's Node 20 notice becomes one debug log line (init, envHandler.ts).
quietSdkNodeWarning();

/** The Lambda entry point: `index.handler` in the zip (npm run package:lambda). */
export const handler: EnvHandler = createEnvHandler();
