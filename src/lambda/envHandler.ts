/**
 * The handler configured from the environment (settings.ts), initialised on its first invocation and then reused for
 * the container's life: rules and delivery config loaded once; one KmsKeyProvider, so one data-key cache; one
 * delivery handoff, so the outbox is read once. A failed initialisation is thrown with every problem of the rules
 * and the delivery settings (the mapping retries the batch) and tried again on the next invocation.
 */
import type { Writable } from 'node:stream';
import type { DeliveryConfig } from '../delivery/config.js';
import { DeliveryHandoff } from '../delivery/DeliveryHandoff.js';
import { ConfigError } from '../errors.js';
import type { KeyProvider } from '../keys/KeyProvider.js';
import { KmsKeyProvider } from '../keys/KmsKeyProvider.js';
import { LocalKeyProvider } from '../keys/LocalKeyProvider.js';
import type { AlertHandoff } from '../pipeline/AlertHandoff.js';
import { DynamoRuleState } from '../pipeline/DynamoRuleState.js';
import type { SharedRuleState } from '../pipeline/SharedRuleState.js';
import type { StreamObserver } from '../pipeline/StreamObserver.js';
import { formatProblem, loadRules, rulesFailedMessage } from '../rules/index.js';
import { isError as isErrorProblem } from '../config/problems.js';
import type { KinesisStreamBatchResponse, KinesisStreamEvent } from '../sources/lambdaEvent.js';
import { createHandler, defaultHandoff, type CommonDeps, type KinesisHandler, type LambdaContext } from './handler.js';
import { jsonLog } from './logging.js';
import { sdkNodeNote } from '../aws/nodeSupport.js';
import { checkLambdaEnv, invalidLambdaEnvMessage, lambdaDeliveryConfig, rulePaths as rulePathsOf, withSecretWebhook } from './settings.js';
import { formatFileProblem } from '../config/problems.js';

export interface EnvHandlerOptions {
  env?: NodeJS.ProcessEnv;
  /** Where alerts go without delivery config, and console sinks writing to stdout (default stdout). */
  stdout?: Writable;
  /** Where log lines go (default stdout). */
  logOut?: Writable;
  /** Replaces the default KmsKeyProvider (tests). */
  keys?: KeyProvider;
  /** Replaces the handoff, delivery config included (tests). */
  handoff?: AlertHandoff;
  observer?: StreamObserver;
  /** Kept before the timeout when waiting for deliveries (default DEFAULT_DELIVERY_MARGIN_MS). */
  deliveryMarginMs?: number;
}

/** The env handler, plus `close()` for whoever owns the process (tests, a custom entry point). */
export interface EnvHandler extends KinesisHandler {
  /** Sends suppression digests, waits up to `deadlineMs` for deliveries, releases the outbox. */
  close(deadlineMs?: number): Promise<void>;
}

export function createEnvHandler(opts: EnvHandlerOptions = {}): EnvHandler {
  let ready: Promise<KinesisHandler> | undefined;
  let delivery: DeliveryHandoff | undefined;
  const init = async (): Promise<KinesisHandler> => {
    const env = opts.env ?? process.env;
    const failures: string[] = [];
    // Every DASGUARD_* variable, checked at once (a misspelt one is a warning); its errors are reported with the
    // rules' and the delivery config's, in one failure.
    const checked = checkLambdaEnv(env);
    // DASGUARD_LOG_LEVEL when it checked (else the default: its problem is logged below).
    const log = jsonLog(opts.logOut ?? process.stdout, checked.partial.logLevel);
    const note = sdkNodeNote();
    if (note) log({ level: 'debug', msg: note });
    const envErrors = checked.problems.filter(isErrorProblem);
    for (const p of checked.problems.filter((q) => !isErrorProblem(q))) log({ level: 'warn', msg: 'environment warning', problem: formatFileProblem(p) });
    if (envErrors.length > 0) {
      failures.push(`dasguard: ${invalidLambdaEnvMessage(envErrors)}`);
      log({ level: 'error', msg: 'invalid environment', problems: envErrors.map(formatFileProblem) });
    }
    // The rules load even when another variable is wrong: their problems are reported in the same failure.
    const rulePaths = rulePathsOf({ rulePaths: checked.partial.rulePaths });
    const { ruleSet, problems, files } = await loadRules(rulePaths);
    if (ruleSet === undefined) {
      failures.push(`dasguard: ${rulesFailedMessage(problems, rulePaths)}:\n${problems.map(formatProblem).join('\n')}`);
      log({ level: 'error', msg: 'invalid rules', rulePaths, problems: problems.map(formatProblem) });
    } else {
      for (const p of problems) log({ level: 'warn', msg: 'rule warning', problem: formatProblem(p) });
    }
    let config: DeliveryConfig | undefined;
    let configError: ConfigError | undefined;
    if (!opts.handoff) {
      try {
        // With the values that checked: a wrong shortcut is already reported, the file's problems join it.
        config = await lambdaDeliveryConfig(await withSecretWebhook(checked.partial), env, ruleSet?.rules.map((r) => r.id));
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        configError = err;
        failures.push(`dasguard: ${err.message}`);
        log({ level: 'error', msg: 'invalid delivery config', error: err.message });
      }
    }
    if (ruleSet === undefined || checked.settings === undefined || failures.length > 0) {
      throw new ConfigError(failures.join('\n'), configError ? { cause: configError } : undefined);
    }
    const { redaction, resourceId, kmsKeyId, keyFile, stateTable, stateTableCreate } = checked.settings;
    // DASGUARD_KEY_FILE: a local master key (the demo key of the samples) instead of KMS, for a local invoke.
    const keys =
      opts.keys ??
      (keyFile !== undefined ? LocalKeyProvider.fromFile(keyFile) : new KmsKeyProvider(kmsKeyId !== undefined ? { keyId: kmsKeyId } : {}));
    // DASGUARD_STATE_TABLE: correlation state shared by every container (the table created when absent, unless told not to).
    let sharedState: SharedRuleState | undefined;
    if (stateTable !== undefined) {
      const opened = await DynamoRuleState.open({ table: stateTable, create: stateTableCreate });
      for (const note of opened.notes) log({ level: note.includes('could not') ? 'warn' : 'info', msg: note });
      sharedState = opened.state;
    }
    // Opened last: nothing above can fail and leave it open. The config's delivery.outboxDir is not used here.
    if (config) {
      delivery = await DeliveryHandoff.open(config, {
        outboxDir: checked.settings.outboxDir,
        stdout: opts.stdout ?? process.stdout,
        // Delivery log lines are JSON log lines; delivery-failure alerts are JSON Lines on stdout, as the others.
        log,
        stderr: opts.stdout ?? process.stdout,
        failureFormat: 'jsonl',
      });
    }
    log({
      level: 'info',
      msg: 'init',
      ruleFiles: files,
      rules: ruleSet.rules.length,
      // What every alert of these rules carries: the same files give the same version as `replay` and `run`.
      ...(ruleSet.version !== undefined ? { rulesVersion: ruleSet.version } : {}),
      ...(resourceId !== undefined ? { resourceId } : {}),
      ...(stateTable !== undefined ? { stateTable } : {}),
      ...(config && delivery
        ? {
            delivery: {
              config: config.source,
              sinks: Object.keys(config.sinks),
              routes: config.routes.map((r) => r.name),
              outboxDir: delivery.outboxDir,
              resumed: delivery.stats().recovered,
            },
          }
        : {}),
    });
    const common: CommonDeps = { rules: ruleSet, keys, log, redaction };
    if (opts.observer) common.observer = opts.observer;
    if (resourceId !== undefined) common.resourceId = resourceId;
    if (sharedState) common.sharedState = sharedState;
    if (delivery) {
      return createHandler({
        ...common,
        delivery: { handoff: delivery, ...(opts.deliveryMarginMs !== undefined ? { marginMs: opts.deliveryMarginMs } : {}) },
      });
    }
    return createHandler({ ...common, handoff: opts.handoff ?? defaultHandoff(opts.stdout ?? process.stdout) });
  };
  const run = async (event: KinesisStreamEvent, context?: LambdaContext): Promise<KinesisStreamBatchResponse> => {
    ready ??= init();
    let h: KinesisHandler;
    try {
      h = await ready;
    } catch (err) {
      ready = undefined;
      throw err;
    }
    return h(event, context);
  };
  return Object.assign(run, {
    close: async (deadlineMs?: number): Promise<void> => {
      const d = delivery;
      delivery = undefined;
      ready = undefined;
      await d?.close(deadlineMs);
    },
  });
}
