/**
 * A program using the INSTALLED package, as a user's would: test/e2e/package.test.ts copies it into a temp app whose
 * node_modules/dasguard is the extracted `npm pack` tarball, and runs it there with plain `node` (no tsx). It
 * imports `dasguard` and `dasguard/lambda` by name, exercises a few exports on the bundled rules and the sample
 * streams, and prints one JSON object of findings on stdout (the test asserts on them).
 *
 * Usage: node packageConsumer.mjs REPO_ROOT   (REPO_ROOT only for the sample streams, the demo key and the goldens)
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';

const repo = process.argv[2];
if (!repo) throw new Error('usage: node packageConsumer.mjs REPO_ROOT');

const root = await import('dasguard');
const lambda = await import('dasguard/lambda');

/** What a path the package refuses to export does: the error code, or 'resolved' when it was not refused. */
async function refused(specifier) {
  try {
    await import(specifier);
    return 'resolved';
  } catch (err) {
    return err.code ?? String(err);
  }
}

const streamLines = (name) =>
  readFileSync(join(repo, 'samples/streams', `aws-rds-das-${name}.jsonl`), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l));
/** The golden alert ids; `statelessOnly`: without the correlation alerts (processRecord alone does not correlate). */
const expectedIds = (engine, statelessOnly = false) =>
  readFileSync(join(repo, 'samples/expected', `${engine}-alerts.jsonl`), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l))
    .filter((a) => !statelessOnly || a.event?.correlation === undefined)
    .map((a) => a.id);

const PG = 'cluster-4HNY5V4RRNPKKYB7ICFKE5JBQQ';
const MYSQL = 'cluster-2VZQ7MYSQLDEMOK5XH3JQ4E3LY';
const keyFile = join(repo, 'samples/demo-master-key.json');

// The rule loader on the rules shipped in the package.
const rulesPath = root.bundledRulesPath();
const loaded = await root.loadRules([rulesPath]);

// processRecord over the PostgreSQL sample stream, with the local key provider.
const keys = root.LocalKeyProvider.fromFile(keyFile);
const pgAlerts = [];
let pgQuarantined = 0;
for (const line of streamLines(PG)) {
  const outcome = await root.processRecord(
    {
      data: Buffer.from(line.Data, 'base64'),
      position: { source: line.StreamName, shardId: line.ShardId, sequenceNumber: line.SequenceNumber },
      resourceId: PG,
    },
    { keys, rules: loaded.ruleSet },
  );
  pgAlerts.push(...outcome.alerts.map((a) => a.id));
  pgQuarantined += outcome.quarantined.length;
}

// The Lambda handler from `dasguard/lambda`, on a Kinesis event of the MySQL sample stream (bundled rules).
let stdout = '';
let logs = '';
const capture = (append) => new Writable({ write: (chunk, _enc, done) => (append(chunk.toString()), done()) });
const envHandler = lambda.createEnvHandler({
  env: {},
  keys: root.LocalKeyProvider.fromFile(keyFile),
  stdout: capture((s) => (stdout += s)),
  logOut: capture((s) => (logs += s)),
});
const response = await envHandler({
  Records: streamLines(MYSQL).map((l) => ({
    kinesis: {
      kinesisSchemaVersion: '1.0',
      partitionKey: l.PartitionKey,
      sequenceNumber: l.SequenceNumber,
      data: l.Data,
      approximateArrivalTimestamp: l.ApproximateArrivalTimestamp,
    },
    eventID: `${l.ShardId}:${l.SequenceNumber}`,
    eventSource: 'aws:kinesis',
    eventSourceARN: `arn:aws:kinesis:us-east-1:111122223333:stream/${l.StreamName}`,
  })),
});
await envHandler.close();

const NAMES = [
  'loadRules', 'loadRuleTexts', 'formatProblem', 'runRuleTests', 'processRecord', 'KmsKeyProvider', 'LocalKeyProvider',
  'DeliveryHandoff', 'resolveDeliveryConfig', 'redactEvent', 'createHandler', 'createEnvHandler', 'bundledRulesPath',
  'DasguardError', 'PoisonRecordError', 'TransientError', 'ConfigError', 'DataKeyError',
];

process.stdout.write(
  JSON.stringify({
    resolved: {
      root: fileURLToPath(import.meta.resolve('dasguard')),
      lambda: fileURLToPath(import.meta.resolve('dasguard/lambda')),
    },
    missing: NAMES.filter((n) => typeof root[n] !== 'function'),
    sameLambdaModule: root.createEnvHandler === lambda.createEnvHandler,
    handlerIsFunction: typeof lambda.handler === 'function',
    errorsAreDasguardErrors: [root.ConfigError, root.TransientError, root.PoisonRecordError].every(
      (E) => E.prototype instanceof root.DasguardError,
    ),
    refused: {
      deepDist: await refused('dasguard/dist/cli.js'),
      oldDocPath: await refused('dasguard/src/delivery/index.js'),
    },
    rules: {
      path: rulesPath,
      count: loaded.ruleSet?.rules.length ?? 0,
      files: loaded.files.length,
      problems: loaded.problems.map(root.formatProblem),
    },
    processRecord: { alerts: pgAlerts, expected: expectedIds('postgresql', true), quarantined: pgQuarantined },
    lambda: {
      batchItemFailures: response.batchItemFailures,
      alerts: stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l).id),
      expected: expectedIds('mysql'),
      logLevels: logs
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l).level),
    },
  }) + '\n',
);
