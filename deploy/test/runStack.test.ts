import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LEASE_TABLE_LAYOUT, STATE_TABLE_LAYOUT } from '../../src/aws/dynamoTableLayouts.js';
import { LEASE_TABLE, STATE_TABLE } from '../lib/tables.js';
import { actionsOf, KMS_KEY_ARN, permissionStatements, RESOURCE_ID, resourcesOf, STREAM_ARN, synth } from './support/stacks.js';

const run = (context: Record<string, string> = {}) => synth({ target: 'run', lambdaAsset: '/nonexistent', ...context });

/** The logical ids of the two tables: the lease table is the one keyed leaseKey. */
function tables(t: ReturnType<typeof synth>): { leases: string; state: string } {
  const all = Object.entries(t.findResources('AWS::DynamoDB::Table'));
  assert.equal(all.length, 2);
  const isLease = ([, r]: (typeof all)[number]) => r.Properties.KeySchema[0].AttributeName === 'leaseKey';
  return { leases: all.find(isLease)![0], state: all.find((x) => !isLease(x))![0] };
}

test('run: the lease table is keyed by leaseKey (a string), on demand, with point-in-time recovery; the state table by pk + sk with TTL; no function is built', () => {
  assert.equal(LEASE_TABLE.partitionKey, LEASE_TABLE_LAYOUT.hashKey);
  const t = run();
  const { leases, state } = tables(t);
  const p = t.toJSON().Resources[leases].Properties;
  assert.deepEqual(p.KeySchema, [{ AttributeName: 'leaseKey', KeyType: 'HASH' }]);
  assert.deepEqual(p.AttributeDefinitions, [{ AttributeName: 'leaseKey', AttributeType: 'S' }]);
  assert.equal(p.BillingMode, 'PAY_PER_REQUEST');
  assert.deepEqual(p.PointInTimeRecoverySpecification, { PointInTimeRecoveryEnabled: true });
  assert.equal(t.toJSON().Resources[leases].DeletionPolicy, 'Retain');
  const sp = t.toJSON().Resources[state].Properties;
  assert.deepEqual(sp.KeySchema, [
    { AttributeName: STATE_TABLE_LAYOUT.hashKey, KeyType: 'HASH' },
    { AttributeName: STATE_TABLE_LAYOUT.rangeKey, KeyType: 'RANGE' },
  ]);
  assert.deepEqual(sp.TimeToLiveSpecification, { AttributeName: STATE_TABLE_LAYOUT.ttlAttribute, Enabled: true });
  assert.equal(t.toJSON().Resources[state].DeletionPolicy, 'Retain');
  t.resourceCountIs('AWS::Lambda::Function', 0);
  t.resourceCountIs('AWS::Lambda::EventSourceMapping', 0);
});

test('run: the task role reads the stream, decrypts under the encryption context, uses its two tables and publishes, each on its resource', () => {
  const t = run();
  const { leases, state } = tables(t);
  const statements = permissionStatements(t).filter((s) => s.Effect === 'Allow');
  const byAction: Record<string, unknown> = {};
  for (const s of statements) {
    for (const a of actionsOf(s)) {
      assert.doesNotMatch(a, /\*/, `${s.Sid}: ${a}`);
      const rs = resourcesOf(s);
      assert.equal(rs.length, 1, `${s.Sid}: one resource`);
      byAction[`${a} ${JSON.stringify(rs[0])}`] = s.Condition ?? null;
    }
  }
  const arn = (id: string) => JSON.stringify({ 'Fn::GetAtt': [id, 'Arn'] });
  const expected: Record<string, unknown> = {};
  for (const a of ['kinesis:DescribeStreamSummary', 'kinesis:GetRecords', 'kinesis:GetShardIterator', 'kinesis:ListShards']) expected[`${a} "${STREAM_ARN}"`] = null;
  expected[`kms:Decrypt "${KMS_KEY_ARN}"`] = { StringEquals: { 'kms:EncryptionContext:aws:rds:dbc-id': RESOURCE_ID } };
  expected[`sns:Publish ${JSON.stringify({ Ref: Object.keys(t.findResources('AWS::SNS::Topic'))[0] })}`] = null;
  for (const a of LEASE_TABLE.actions) expected[`${a} ${arn(leases)}`] = null;
  for (const a of STATE_TABLE.actions) expected[`${a} ${arn(state)}`] = null;
  assert.deepEqual(byAction, expected);
});

test('run: only ECS tasks of this account may assume the task role', () => {
  const t = run();
  const role = Object.values(t.findResources('AWS::IAM::Role'))[0]!.Properties;
  assert.deepEqual(role.AssumeRolePolicyDocument.Statement, [
    {
      Action: 'sts:AssumeRole',
      Effect: 'Allow',
      Principal: { Service: 'ecs-tasks.amazonaws.com' },
      Condition: {
        StringEquals: { 'aws:SourceAccount': '111122223333' },
        ArnLike: { 'aws:SourceArn': { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':ecs:eu-west-1:111122223333:*']] } },
      },
    },
  ]);
  assert.equal(role.ManagedPolicyArns, undefined);
});

test('run with clusterName: rds:DescribeDBClusters on that cluster, and rds:DescribeEvents, the one action on "*" (it has no resource-level permission)', () => {
  const t = run({ clusterName: 'prod-aurora' });
  const statements = permissionStatements(t).filter((s) => s.Effect === 'Allow');
  const star = statements.filter((s) => resourcesOf(s).includes('*'));
  assert.deepEqual(star.map((s) => s.Action), ['rds:DescribeEvents']);
  const describe = statements.filter((s) => actionsOf(s).includes('rds:DescribeDBClusters'));
  assert.deepEqual(describe.map((s) => s.Resource), [{ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':rds:eu-west-1:111122223333:cluster:prod-aurora']] }]);
  // Without it, no RDS permission and no "*" at all.
  assert.deepEqual(permissionStatements(run()).filter((s) => actionsOf(s).some((a) => a.startsWith('rds:')) || resourcesOf(s).includes('*')), []);
});

test('run: the alert topic refuses a publish without TLS (the only statement of its policy: no alarm publishes to it)', () => {
  const t = run();
  const policies = Object.values(t.findResources('AWS::SNS::TopicPolicy'));
  assert.equal(policies.length, 1);
  const topic = { Ref: Object.keys(t.findResources('AWS::SNS::Topic'))[0]! };
  assert.deepEqual(
    policies[0]!.Properties.PolicyDocument.Statement.map((st: any) => [st.Effect, st.Principal, st.Action, st.Resource, st.Condition]),
    [['Deny', '*', 'sns:Publish', topic, { Bool: { 'aws:SecureTransport': 'false' } }]],
  );
  t.resourceCountIs('AWS::CloudWatch::Alarm', 0);
});

test('run: the RunCommand output is the dasguard run command line for these tables and topic', () => {
  const t = run({ clusterName: 'prod-aurora' });
  const outputs = t.toJSON().Outputs;
  const { leases, state } = tables(t);
  const topic = Object.keys(t.findResources('AWS::SNS::Topic'))[0]!;
  const names: Record<string, string> = { [leases]: 'LEASE_TABLE', [state]: 'STATE_TABLE', [topic]: 'TOPIC_ARN' };
  const [sep, parts] = outputs.RunCommand.Value['Fn::Join'];
  const line = (parts as unknown[]).map((p) => (typeof p === 'string' ? p : names[(p as { Ref: string }).Ref])).join(sep);
  assert.equal(line, 'dasguard run --cluster prod-aurora --coordination dynamodb --no-create-table --lease-table LEASE_TABLE --state-table STATE_TABLE --sns-topic-arn TOPIC_ARN');
  assert.ok(outputs.TaskRoleArn && outputs.LeaseTableName && outputs.StateTableName && outputs.AlertTopicArn);
});

test('run with stateTable false: the lease table only, and the RunCommand has no --state-table', () => {
  const t = run({ stateTable: 'false' });
  t.resourceCountIs('AWS::DynamoDB::Table', 1);
  const [sep, parts] = t.toJSON().Outputs.RunCommand.Value['Fn::Join'];
  assert.doesNotMatch((parts as unknown[]).filter((p) => typeof p === 'string').join(sep), /--state-table/);
  assert.equal(t.toJSON().Outputs.StateTableName, undefined);
});
