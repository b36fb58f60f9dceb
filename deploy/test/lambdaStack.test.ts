import assert from 'node:assert/strict';
import { test } from 'node:test';
import { STATE_TABLE_LAYOUT } from '../../src/aws/dynamoTableLayouts.js';
import { EMF_NAMESPACE as HANDLER_NAMESPACE, LAMBDA_METRICS } from '../../src/lambda/emf.js';
import { DEAD_LETTER_METRIC, EMF_NAMESPACE } from '../lib/DasguardLambdaStack.js';
import { STATE_TABLE } from '../lib/tables.js';
import { actionsOf, KMS_KEY_ARN, onlyId, permissionStatements, RESOURCE_ID, resourcesOf, STREAM_ARN, synth } from './support/stacks.js';

const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:dasguard/slack-AbCdEf';

test('the execution role allows no wildcard action and no "*" resource, holds no managed policy, and has one inline policy', () => {
  const t = synth();
  const statements = permissionStatements(t);
  assert.ok(statements.length >= 6, `found only ${statements.length} statements: is permissionStatements still reading the template?`);
  for (const s of statements.filter((x) => x.Effect === 'Allow')) {
    for (const a of actionsOf(s)) assert.doesNotMatch(a, /\*/, `${s.in} ${s.Sid}: action ${a}`);
    for (const r of resourcesOf(s)) assert.notEqual(r, '*', `${s.in} ${s.Sid}: Resource "*" for ${actionsOf(s).join(', ')}`);
  }
  // No AWSLambdaBasicExecutionRole (logs:CreateLogGroup... on "*"), no policy added beside the role.
  const roles = t.findResources('AWS::IAM::Role');
  assert.equal(Object.keys(roles).length, 1);
  for (const [id, r] of Object.entries(roles)) assert.equal(r.Properties.ManagedPolicyArns, undefined, id);
  t.resourceCountIs('AWS::IAM::Policy', 0);
  t.resourceCountIs('AWS::IAM::ManagedPolicy', 0);
});

test('each permission is on its one resource: the stream, the KMS key, the topic, the state table, the queue, the log group', () => {
  const t = synth();
  const byAction = new Map<string, unknown[]>();
  for (const s of permissionStatements(t).filter((x) => x.Effect === 'Allow')) for (const a of actionsOf(s)) byAction.set(a, resourcesOf(s));
  const ref = (type: string) => ({ Ref: onlyId(t, type) });
  const arn = (type: string) => ({ 'Fn::GetAtt': [onlyId(t, type), 'Arn'] });
  const expected: Record<string, unknown> = {
    'kinesis:DescribeStream': STREAM_ARN,
    'kinesis:DescribeStreamSummary': STREAM_ARN,
    'kinesis:GetRecords': STREAM_ARN,
    'kinesis:GetShardIterator': STREAM_ARN,
    'kinesis:ListShards': STREAM_ARN,
    'kms:Decrypt': KMS_KEY_ARN,
    'sns:Publish': ref('AWS::SNS::Topic'),
    'sqs:SendMessage': arn('AWS::SQS::Queue'),
    'logs:CreateLogStream': arn('AWS::Logs::LogGroup'),
    'logs:PutLogEvents': arn('AWS::Logs::LogGroup'),
  };
  for (const a of STATE_TABLE.actions) expected[a] = arn('AWS::DynamoDB::Table');
  assert.deepEqual(Object.fromEntries([...byAction].map(([a, r]) => [a, r.length === 1 ? r[0] : r])), expected);
});

test('kms:Decrypt only under the cluster\'s encryption context (aws:rds:dbc-id), or an instance\'s (aws:rds:db-id)', () => {
  const decrypt = (resourceId?: string) =>
    permissionStatements(synth(resourceId ? { clusterResourceId: resourceId } : {})).filter((s) => actionsOf(s).includes('kms:Decrypt'));
  assert.deepEqual(
    decrypt().map((s) => [s.Effect, s.Resource, s.Condition]),
    [['Allow', KMS_KEY_ARN, { StringEquals: { 'kms:EncryptionContext:aws:rds:dbc-id': RESOURCE_ID } }]],
  );
  assert.deepEqual(decrypt('db-ABCDEFGHIJKL')[0]!.Condition, { StringEquals: { 'kms:EncryptionContext:aws:rds:db-id': 'db-ABCDEFGHIJKL' } });
});

test('the mapping reports batch item failures, bisects on error, starts at TRIM_HORIZON and sends given-up batches to the queue', () => {
  const t = synth();
  t.resourceCountIs('AWS::Lambda::EventSourceMapping', 1);
  t.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
    EventSourceArn: STREAM_ARN,
    FunctionName: { Ref: onlyId(t, 'AWS::Lambda::Function') },
    FunctionResponseTypes: ['ReportBatchItemFailures'],
    BisectBatchOnFunctionError: true,
    StartingPosition: 'TRIM_HORIZON',
    BatchSize: 100,
    ParallelizationFactor: 1,
    MaximumRetryAttempts: -1,
    DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [onlyId(t, 'AWS::SQS::Queue'), 'Arn'] } } },
  });
});

test('starting position, batch size, parallelization factor and retries come from the context', () => {
  synth({ startingPosition: 'LATEST', batchSize: '500', parallelizationFactor: '4', maxRetryAttempts: '20' }).hasResourceProperties('AWS::Lambda::EventSourceMapping', {
    StartingPosition: 'LATEST',
    BatchSize: 500,
    ParallelizationFactor: 4,
    MaximumRetryAttempts: 20,
    FunctionResponseTypes: ['ReportBatchItemFailures'],
    BisectBatchOnFunctionError: true,
  });
});

test('the function runs the given bundle on nodejs22.x with the settings the handler reads', () => {
  const t = synth();
  const fn = Object.values(t.findResources('AWS::Lambda::Function'))[0]!.Properties;
  assert.equal(fn.Runtime, 'nodejs22.x');
  assert.equal(fn.Handler, 'index.handler');
  assert.equal(fn.FunctionName, `dasguard-${RESOURCE_ID}`);
  assert.deepEqual(fn.LoggingConfig, { LogGroup: { Ref: onlyId(t, 'AWS::Logs::LogGroup') } });
  assert.deepEqual(fn.Environment.Variables, {
    DASGUARD_RESOURCE_ID: RESOURCE_ID,
    DASGUARD_KMS_KEY_ID: KMS_KEY_ARN,
    DASGUARD_SNS_TOPIC_ARN: { Ref: onlyId(t, 'AWS::SNS::Topic') },
    DASGUARD_STATE_TABLE: { Ref: onlyId(t, 'AWS::DynamoDB::Table') },
    DASGUARD_STATE_TABLE_CREATE: 'false',
  });
  t.hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: `/aws/lambda/dasguard-${RESOURCE_ID}`, RetentionInDays: 365 });
  // The code is the asset given (here the test fixture, a directory): the stack never looks for dist-lambda/.
  assert.match(JSON.stringify(fn.Code), /"S3Key":"[0-9a-f]{64}\.zip"/);
});

test('the state table has the keys the handler opens it with (a different key is refused at start), on demand, with TTL on expiresAt', () => {
  // src/pipeline/DynamoRuleState.ts refuses a table whose keys are not these: a stack that drifted from it fails here.
  assert.deepEqual([STATE_TABLE.partitionKey, STATE_TABLE.sortKey, STATE_TABLE.ttlAttribute], [STATE_TABLE_LAYOUT.hashKey, STATE_TABLE_LAYOUT.rangeKey, STATE_TABLE_LAYOUT.ttlAttribute]);
  const t = synth();
  const p = t.toJSON().Resources[onlyId(t, 'AWS::DynamoDB::Table')].Properties;
  assert.deepEqual(p.KeySchema, [
    { AttributeName: 'pk', KeyType: 'HASH' },
    { AttributeName: 'sk', KeyType: 'RANGE' },
  ]);
  assert.deepEqual(p.AttributeDefinitions, [
    { AttributeName: 'pk', AttributeType: 'S' },
    { AttributeName: 'sk', AttributeType: 'S' },
  ]);
  assert.equal(p.BillingMode, 'PAY_PER_REQUEST');
  assert.deepEqual(p.TimeToLiveSpecification, { AttributeName: 'expiresAt', Enabled: true });
});

test('alarms on IteratorAge, Errors and the dead-lettered alerts metric the handler logs, each notifying the topic', () => {
  const t = synth();
  const topic = { Ref: onlyId(t, 'AWS::SNS::Topic') };
  const fnDimension = [{ Name: 'FunctionName', Value: { Ref: onlyId(t, 'AWS::Lambda::Function') } }];
  // The alarm watches the metric the handler's EMF line publishes (src/lambda/emf.ts): a rename there fails here.
  assert.equal(EMF_NAMESPACE, HANDLER_NAMESPACE);
  assert.ok((LAMBDA_METRICS as readonly string[]).includes(DEAD_LETTER_METRIC), `${DEAD_LETTER_METRIC} is not a metric of src/lambda/emf.ts`);
  const alarms = Object.values(t.findResources('AWS::CloudWatch::Alarm')).map((a) => a.Properties);
  const find = (namespace: string, metric: string) => {
    const found = alarms.filter((a) => a.Namespace === namespace && a.MetricName === metric);
    assert.equal(found.length, 1, `one alarm on ${namespace} ${metric}`);
    assert.deepEqual(found[0].AlarmActions, [topic]);
    assert.equal(found[0].ComparisonOperator, 'GreaterThanThreshold');
    return found[0];
  };
  const age = find('AWS/Lambda', 'IteratorAge');
  assert.deepEqual([age.Statistic, age.Threshold, age.Dimensions, age.TreatMissingData], ['Maximum', 15 * 60_000, fnDimension, 'breaching']);
  const errors = find('AWS/Lambda', 'Errors');
  assert.deepEqual([errors.Statistic, errors.Threshold, errors.Dimensions], ['Sum', 0, fnDimension]);
  const dead = find('dasguard', 'deadLettered');
  assert.deepEqual([dead.Statistic, dead.Threshold, dead.Dimensions], ['Sum', 0, fnDimension]);
  const queue = find('AWS/SQS', 'ApproximateNumberOfMessagesVisible');
  assert.deepEqual(queue.Dimensions, [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [onlyId(t, 'AWS::SQS::Queue'), 'QueueName'] } }]);
});

test('the topic and the queue refuse requests without TLS, and CloudWatch may publish to the topic for this stack\'s alarms alone', () => {
  const t = synth();
  const topic = { Ref: onlyId(t, 'AWS::SNS::Topic') };
  const queueArn = { 'Fn::GetAtt': [onlyId(t, 'AWS::SQS::Queue'), 'Arn'] };
  const withoutTls = { Bool: { 'aws:SecureTransport': 'false' } };
  const topicPolicy = Object.values(t.findResources('AWS::SNS::TopicPolicy'));
  assert.equal(topicPolicy.length, 1);
  assert.deepEqual(topicPolicy[0]!.Properties.Topics, [topic]);
  const [deny, alarms, ...rest] = topicPolicy[0]!.Properties.PolicyDocument.Statement;
  assert.deepEqual(rest, []);
  assert.deepEqual([deny.Effect, deny.Principal, deny.Action, deny.Resource, deny.Condition], ['Deny', '*', 'sns:Publish', topic, withoutTls]);
  // A topic policy replaces SNS's default one: without this statement no alarm notification would reach the topic.
  const alarmArns = Object.keys(t.findResources('AWS::CloudWatch::Alarm')).map((id) => ({ 'Fn::GetAtt': [id, 'Arn'] }));
  assert.equal(alarmArns.length, 4);
  assert.deepEqual([alarms.Effect, alarms.Principal, alarms.Action, alarms.Resource], ['Allow', { Service: 'cloudwatch.amazonaws.com' }, 'sns:Publish', topic]);
  assert.deepEqual(alarms.Condition, { StringEquals: { 'aws:SourceAccount': '111122223333' }, ArnEquals: { 'aws:SourceArn': alarmArns } });
  const queuePolicy = Object.values(t.findResources('AWS::SQS::QueuePolicy'));
  assert.equal(queuePolicy.length, 1);
  assert.deepEqual(
    queuePolicy[0]!.Properties.PolicyDocument.Statement.map((st: any) => [st.Effect, st.Action, st.Resource, st.Condition]),
    [['Deny', 'sqs:*', queueArn, withoutTls]],
  );
});

test('a Slack webhook secret: the function gets its ARN (never the URL) and may read that secret alone', () => {
  const t = synth({ slackWebhookSecretArn: SECRET_ARN });
  const fn = Object.values(t.findResources('AWS::Lambda::Function'))[0]!.Properties;
  assert.equal(fn.Environment.Variables.DASGUARD_SLACK_WEBHOOK_SECRET, SECRET_ARN);
  assert.equal(fn.Environment.Variables.DASGUARD_SLACK_WEBHOOK_URL, undefined);
  assert.doesNotMatch(JSON.stringify(t.toJSON()), /resolve:secretsmanager/, 'no deploy-time copy of the secret anywhere');
  const reads = permissionStatements(t).filter((s) => actionsOf(s).some((a) => a.startsWith('secretsmanager:')));
  assert.deepEqual(reads.map((s) => [actionsOf(s), resourcesOf(s)]), [[['secretsmanager:GetSecretValue'], [SECRET_ARN]]]);
  // Without the secret, no Slack setting and no Secrets Manager permission at all.
  const plain = synth();
  const plainFn = Object.values(plain.findResources('AWS::Lambda::Function'))[0]!.Properties;
  assert.equal(plainFn.Environment.Variables.DASGUARD_SLACK_WEBHOOK_SECRET, undefined);
  assert.deepEqual(permissionStatements(plain).filter((s) => actionsOf(s).some((a) => a.startsWith('secretsmanager:'))), []);
});

test('the stack goes to the region and account of the KMS key, the stream named after the resource id', () => {
  const t = synth({ kmsKeyArn: 'arn:aws:kms:us-east-2:444455556666:key/mrk-1234abcd12ab34cd56ef1234567890ab' });
  t.hasResourceProperties('AWS::Lambda::EventSourceMapping', { EventSourceArn: `arn:aws:kinesis:us-east-2:444455556666:stream/aws-rds-das-${RESOURCE_ID}` });
  // A stream given by name keeps that name.
  synth({ stream: 'my-copy-of-the-stream' }).hasResourceProperties('AWS::Lambda::EventSourceMapping', {
    EventSourceArn: 'arn:aws:kinesis:eu-west-1:111122223333:stream/my-copy-of-the-stream',
  });
});

test('stateTable false: no table, no DynamoDB permission, no DASGUARD_STATE_TABLE (each container counts its own events)', () => {
  const t = synth({ stateTable: 'false' });
  t.resourceCountIs('AWS::DynamoDB::Table', 0);
  const fn = Object.values(t.findResources('AWS::Lambda::Function'))[0]!.Properties;
  assert.equal(fn.Environment.Variables.DASGUARD_STATE_TABLE, undefined);
  assert.equal(fn.Environment.Variables.DASGUARD_STATE_TABLE_CREATE, undefined);
  assert.deepEqual(permissionStatements(t).filter((s) => actionsOf(s).some((a) => a.startsWith('dynamodb:'))), []);
  assert.equal(t.toJSON().Outputs.StateTableName, undefined);
});
