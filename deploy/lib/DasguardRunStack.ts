/**
 * `dasguard run` on containers (ECS, EKS, or any host that can assume a role): the task role and the tables it
 * uses, no cluster or service (bring your own). The lease table shares the stream's shards between several `run`
 * processes (`--coordination dynamodb --lease-table NAME`) and holds their checkpoints; the state table holds the
 * rule state they share (`--state-table NAME`).
 */
import { ArnFormat, CfnOutput, Fn, Stack, type StackProps } from 'aws-cdk-lib';
import { PolicyDocument, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Topic } from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import type { ActivityStream } from './das.js';
import { decryptDataKeysStatement, publishAlertsStatement, readStreamStatement, RUN_STREAM_ACTIONS } from './permissions.js';
import type { RunSettings } from './settings.js';
import { LEASE_TABLE, leaseTable, STATE_TABLE, stateTable, tableStatement } from './tables.js';

export interface DasguardRunStackProps extends StackProps {
  stream: ActivityStream;
  run: RunSettings;
  /** A state table shared by every task (`--state-table`; default true). */
  stateTable?: boolean;
}

export class DasguardRunStack extends Stack {
  readonly taskRole: Role;
  readonly alertTopic: Topic;

  constructor(scope: Construct, id: string, props: DasguardRunStackProps) {
    super(scope, id, props);
    const { stream, run } = props;

    this.alertTopic = new Topic(this, 'AlertTopic', { displayName: `dasguard alerts for ${stream.resourceId}`, enforceSSL: true });
    const leases = leaseTable(this, 'LeaseTable');
    const state = props.stateTable === false ? undefined : stateTable(this, 'StateTable');

    const statements = [
      readStreamStatement(stream, RUN_STREAM_ACTIONS),
      decryptDataKeysStatement(stream),
      publishAlertsStatement(this.alertTopic.topicArn),
      tableStatement('ShardLeases', leases, LEASE_TABLE.actions),
      ...(state ? [tableStatement('RuleState', state, STATE_TABLE.actions)] : []),
    ];
    if (run.clusterName !== undefined) {
      // `run --cluster NAME`: the stream and resource id from RDS, and the cluster's RDS events (stream health).
      statements.push(
        new PolicyStatement({
          sid: 'FindTheStream',
          actions: ['rds:DescribeDBClusters'],
          resources: [this.formatArn({ service: 'rds', resource: 'cluster', resourceName: run.clusterName, arnFormat: ArnFormat.COLON_RESOURCE_NAME })],
        }),
        // rds:DescribeEvents has no resource-level permission: AWS accepts only Resource "*" for it.
        new PolicyStatement({ sid: 'ReadRdsEventsHasNoResourceLevelPermission', actions: ['rds:DescribeEvents'], resources: ['*'] }),
      );
    }

    this.taskRole = new Role(this, 'TaskRole', {
      // Only ECS tasks of this account (the confused-deputy conditions ECS documents).
      assumedBy: new ServicePrincipal('ecs-tasks.amazonaws.com').withConditions({
        StringEquals: { 'aws:SourceAccount': this.account },
        ArnLike: { 'aws:SourceArn': `arn:${this.partition}:ecs:${this.region}:${this.account}:*` },
      }),
      description: `dasguard run for ${stream.resourceId}: reads its activity stream, decrypts its data keys, shares shards and rule state, publishes alerts`,
      inlinePolicies: { dasguard: new PolicyDocument({ statements }) },
    });

    const source = run.clusterName !== undefined ? `--cluster ${run.clusterName}` : `--stream ${stream.streamArn.split('/')[1]}`;
    new CfnOutput(this, 'TaskRoleArn', { value: this.taskRole.roleArn });
    new CfnOutput(this, 'LeaseTableName', { value: leases.tableName });
    if (state) new CfnOutput(this, 'StateTableName', { value: state.tableName });
    new CfnOutput(this, 'AlertTopicArn', { value: this.alertTopic.topicArn });
    new CfnOutput(this, 'RunCommand', {
      description: 'The command the task runs',
      value: Fn.join(' ', [
        'dasguard run',
        source,
        // --no-create-table: the stack made both tables, and the task role has no dynamodb:CreateTable.
        '--coordination dynamodb --no-create-table --lease-table',
        leases.tableName,
        ...(state ? ['--state-table', state.tableName] : []),
        '--sns-topic-arn',
        this.alertTopic.topicArn,
      ]),
    });
  }
}
