import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readSettings, SettingsError, type ContextKey } from '../lib/settings.js';
import { KMS_KEY_ARN, RESOURCE_ID, STREAM_ARN } from './support/stacks.js';

const read = (context: Partial<Record<ContextKey, unknown>>, exists = true) =>
  readSettings((k) => context[k], { defaultLambdaAsset: '/repo/dist-lambda/dasguard-lambda.zip', exists: () => exists });

const problemsOf = (fn: () => unknown): readonly string[] => {
  try {
    fn();
  } catch (err) {
    if (err instanceof SettingsError) return err.problems;
    throw err;
  }
  assert.fail('no SettingsError');
};

test('defaults: the stream named after the resource id, in the key\'s region and account; TRIM_HORIZON, 100 records, factor 1, retry forever', () => {
  const s = read({ clusterResourceId: RESOURCE_ID, kmsKeyArn: KMS_KEY_ARN });
  assert.deepEqual(s.stream, { resourceId: RESOURCE_ID, streamArn: STREAM_ARN, kmsKeyArn: KMS_KEY_ARN });
  assert.deepEqual(s.env, { account: '111122223333', region: 'eu-west-1' });
  assert.equal(s.target, 'lambda');
  assert.equal(s.stackName, `dasguard-${RESOURCE_ID}`);
  assert.deepEqual(s.lambda, {
    lambdaAsset: '/repo/dist-lambda/dasguard-lambda.zip',
    startingPosition: 'TRIM_HORIZON',
    batchSize: 100,
    parallelizationFactor: 1,
    maxRetryAttempts: -1,
    memorySize: 1024,
    timeoutSeconds: 60,
  });
  assert.equal(read({ clusterResourceId: RESOURCE_ID, kmsKeyArn: KMS_KEY_ARN, target: 'run' }).stackName, `dasguard-run-${RESOURCE_ID}`);
});

test('numbers come as strings from -c and as numbers from cdk.json', () => {
  const base = { clusterResourceId: RESOURCE_ID, kmsKeyArn: KMS_KEY_ARN };
  assert.equal(read({ ...base, batchSize: '250' }).lambda.batchSize, 250);
  assert.equal(read({ ...base, batchSize: 250 }).lambda.batchSize, 250);
  assert.equal(read({ ...base, maxRetryAttempts: '-1' }).lambda.maxRetryAttempts, -1);
  // and flags as the strings true/false from -c, as booleans from cdk.json; anything else is a problem
  assert.equal(read(base).stateTable, true);
  assert.equal(read({ ...base, stateTable: 'false' }).stateTable, false);
  assert.equal(read({ ...base, stateTable: false }).stateTable, false);
  assert.deepEqual(problemsOf(() => read({ ...base, stateTable: 'no' })), ['stateTable: must be true or false; got "no"']);
});

test('every problem at once, each naming its context key', () => {
  const problems = problemsOf(() => read({ batchSize: '20000', parallelizationFactor: 'two', startingPosition: 'AT_TIMESTAMP' }, false));
  assert.deepEqual(
    problems.map((p) => p.split(':')[0]),
    ['clusterResourceId', 'kmsKeyArn', 'lambdaAsset', 'startingPosition', 'batchSize', 'parallelizationFactor'],
  );
  assert.match(problems[2]!, /\/repo\/dist-lambda\/dasguard-lambda\.zip does not exist: build it first with `npm run package:lambda`/);
  assert.match(problems[4]!, /batchSize: must be an integer from 1 to 10000; got "20000"/);
  const err = (() => {
    try {
      read({});
    } catch (e) {
      return e as Error;
    }
  })()!;
  assert.match(err.message, /^invalid deploy settings \(2 problems\):\n  -c clusterResourceId: required/);
});

test('a KMS alias, a stream in another region and a malformed resource id are refused with the reason', () => {
  const [alias] = problemsOf(() => read({ clusterResourceId: RESOURCE_ID, kmsKeyArn: 'arn:aws:kms:eu-west-1:111122223333:alias/aws-rds-das' }));
  assert.match(alias!, /^kmsKeyArn: must be a key ARN.*an alias or a bare key id does not work in an IAM policy/);
  const [region] = problemsOf(() => read({ clusterResourceId: RESOURCE_ID, kmsKeyArn: KMS_KEY_ARN, stream: STREAM_ARN.replace('eu-west-1', 'us-east-1') }));
  assert.match(region!, /^stream: the stream \(us-east-1, account 111122223333\) and the KMS key \(eu-west-1, account 111122223333\) must be in the same region and account/);
  const [id] = problemsOf(() => read({ clusterResourceId: 'prod-aurora', kmsKeyArn: KMS_KEY_ARN }));
  assert.match(id!, /^clusterResourceId: must look like cluster-/);
});

test('target run needs no Lambda bundle', () => {
  const s = read({ clusterResourceId: RESOURCE_ID, kmsKeyArn: KMS_KEY_ARN, target: 'run', clusterName: 'prod-aurora' }, false);
  assert.deepEqual(s.run, { clusterName: 'prod-aurora' });
});
