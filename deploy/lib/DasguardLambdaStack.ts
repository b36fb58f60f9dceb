/**
 * The Lambda path: dasguard's function (the slim bundle of `npm run package:lambda`) behind a Kinesis event source
 * mapping on the activity stream, with everything it writes to: the alert topic, the rule-state table, its log
 * group and the on-failure queue; CloudWatch alarms on the function's iterator age, errors, dead-lettered alerts and
 * the on-failure queue. The execution role has one inline policy, each statement on one resource (no `*`).
 */
import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, Metric, TreatMissingData, type IMetric } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { PolicyDocument, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Code, EventSourceMapping, Function as LambdaFunction, Runtime, StartingPosition, type IEventSourceDlq } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import type { ActivityStream } from './das.js';
import { decryptDataKeysStatement, LAMBDA_STREAM_ACTIONS, publishAlertsStatement, readStreamStatement } from './permissions.js';
import type { LambdaSettings } from './settings.js';
import { STATE_TABLE, stateTable, tableStatement } from './tables.js';

/** The EMF namespace and the dead-letter metric of the function's `batch` line (src/lambda/emf.ts). */
export const EMF_NAMESPACE = 'dasguard';
export const DEAD_LETTER_METRIC = 'deadLettered';

export interface DasguardLambdaStackProps extends StackProps {
  stream: ActivityStream;
  lambda: LambdaSettings;
  /** A state table shared by every invocation (DASGUARD_STATE_TABLE; default true). */
  stateTable?: boolean;
  /** Alarm when the oldest record of a batch is older than this (default 15 minutes; the stream keeps 24 h). */
  iteratorAgeAlarm?: Duration;
}

export class DasguardLambdaStack extends Stack {
  readonly function: LambdaFunction;
  readonly alertTopic: Topic;
  readonly onFailureQueue: Queue;

  constructor(scope: Construct, id: string, props: DasguardLambdaStackProps) {
    super(scope, id, props);
    const { stream, lambda } = props;
    const functionName = `dasguard-${stream.resourceId}`;

    // Alerts hold (redacted) audit data: the topic and the queue refuse requests that do not use TLS (a Deny in their
    // resource policies). A topic policy replaces SNS's default one, which is what lets CloudWatch alarms publish:
    // the alarms below are allowed by name (alarmsMayPublish).
    this.alertTopic = new Topic(this, 'AlertTopic', { displayName: `dasguard alerts for ${stream.resourceId}`, enforceSSL: true });
    const state = props.stateTable === false ? undefined : stateTable(this, 'StateTable');
    // Lambda sends here the metadata (shard, sequence numbers) of a batch it gives up on: re-read those records with
    // `dasguard replay` before they leave the stream.
    this.onFailureQueue = new Queue(this, 'OnFailureQueue', { retentionPeriod: Duration.days(14), encryption: QueueEncryption.SQS_MANAGED, enforceSSL: true });
    const logGroup = new LogGroup(this, 'LogGroup', { logGroupName: `/aws/lambda/${functionName}`, retention: RetentionDays.ONE_YEAR });

    const role = new Role(this, 'ExecutionRole', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `dasguard Lambda for ${stream.resourceId}: reads its activity stream, decrypts its data keys, publishes alerts`,
      inlinePolicies: {
        dasguard: new PolicyDocument({
          statements: [
            readStreamStatement(stream, LAMBDA_STREAM_ACTIONS),
            decryptDataKeysStatement(stream),
            publishAlertsStatement(this.alertTopic.topicArn),
            ...(state ? [tableStatement('RuleState', state, STATE_TABLE.actions)] : []),
            new PolicyStatement({ sid: 'ReportBatchesGivenUp', actions: ['sqs:SendMessage'], resources: [this.onFailureQueue.queueArn] }),
            // DASGUARD_SLACK_WEBHOOK_SECRET: the handler reads that one secret at a cold start.
            ...(lambda.slackWebhookSecretArn !== undefined
              ? [new PolicyStatement({ sid: 'ReadTheSlackWebhook', actions: ['secretsmanager:GetSecretValue'], resources: [lambda.slackWebhookSecretArn] })]
              : []),
            // The log group exists (created above): no logs:CreateLogGroup. Its ARN ends in :* (its streams).
            new PolicyStatement({ sid: 'WriteItsLogs', actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup.logGroupArn] }),
          ],
        }),
      },
    });

    const environment: Record<string, string> = {
      DASGUARD_RESOURCE_ID: stream.resourceId,
      DASGUARD_KMS_KEY_ID: stream.kmsKeyArn,
      DASGUARD_SNS_TOPIC_ARN: this.alertTopic.topicArn,
    };
    if (state) {
      environment.DASGUARD_STATE_TABLE = state.tableName;
      // The stack made the table: a missing one is an error, not something to create (the role has no CreateTable).
      environment.DASGUARD_STATE_TABLE_CREATE = 'false';
    }
    if (lambda.slackWebhookSecretArn !== undefined) {
      // The handler reads the URL from the secret itself (src/lambda/settings.ts withSecretWebhook): the URL is not in
      // the function's configuration, and a rotated secret is read by the next containers without a deployment.
      environment.DASGUARD_SLACK_WEBHOOK_SECRET = lambda.slackWebhookSecretArn;
    }

    this.function = new LambdaFunction(this, 'Function', {
      functionName,
      description: `dasguard: alerts from the activity stream of ${stream.resourceId}`,
      code: Code.fromAsset(lambda.lambdaAsset),
      handler: 'index.handler',
      runtime: Runtime.NODEJS_22_X,
      memorySize: lambda.memorySize,
      timeout: Duration.seconds(lambda.timeoutSeconds),
      role,
      logGroup,
      environment,
    });

    // Written out rather than an SqsDlq, which would also grant sqs:GetQueueAttributes and GetQueueUrl.
    const onFailure: IEventSourceDlq = { bind: () => ({ destination: this.onFailureQueue.queueArn }) };
    new EventSourceMapping(this, 'StreamMapping', {
      target: this.function,
      eventSourceArn: stream.streamArn,
      startingPosition: StartingPosition[lambda.startingPosition],
      batchSize: lambda.batchSize,
      maxBatchingWindow: Duration.seconds(1),
      parallelizationFactor: lambda.parallelizationFactor,
      reportBatchItemFailures: true,
      bisectBatchOnError: true,
      retryAttempts: lambda.maxRetryAttempts,
      onFailure,
    });

    const alarm = (id: string, metric: IMetric, threshold: number, description: string, missing: TreatMissingData) => {
      const a = new Alarm(this, id, {
        metric,
        threshold,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: missing,
        alarmDescription: description,
      });
      a.addAlarmAction(new SnsAction(this.alertTopic));
      a.addOkAction(new SnsAction(this.alertTopic));
      return a;
    };
    const period = Duration.minutes(5);
    const iteratorAge = props.iteratorAgeAlarm ?? Duration.minutes(15);
    const alarms = [
      alarm(
        'IteratorAgeAlarm',
        this.function.metric('IteratorAge', { statistic: 'Maximum', period }),
        iteratorAge.toMilliseconds(),
        `dasguard is more than ${iteratorAge.toHumanString()} behind the activity stream of ${stream.resourceId} (records leave the stream after 24 h). ` +
          'No data means no invocation: heartbeats arrive every 2 s, so the stream is stopped or the mapping disabled.',
        TreatMissingData.BREACHING,
      ),
      alarm(
        'ErrorsAlarm',
        this.function.metricErrors({ statistic: 'Sum', period }),
        0,
        'dasguard invocations failed (invalid rules or settings, a crash): the mapping retries, the shard waits. See the function log.',
        TreatMissingData.NOT_BREACHING,
      ),
      alarm(
        'DeadLetteredAlarm',
        new Metric({ namespace: EMF_NAMESPACE, metricName: DEAD_LETTER_METRIC, dimensionsMap: { FunctionName: this.function.functionName }, statistic: 'Sum', period }),
        0,
        'dasguard dead-lettered alerts (a sink refused them or they ran out of attempts): their records were reported for retry.',
        TreatMissingData.NOT_BREACHING,
      ),
      alarm(
        'OnFailureQueueAlarm',
        this.onFailureQueue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period }),
        0,
        'Lambda gave up on batches of the activity stream: the queue holds their shard and sequence numbers; replay them before they expire.',
        TreatMissingData.NOT_BREACHING,
      ),
    ];
    this.alertTopic.addToResourcePolicy(alarmsMayPublish(this, this.alertTopic, alarms));

    new CfnOutput(this, 'FunctionName', { value: this.function.functionName });
    new CfnOutput(this, 'AlertTopicArn', { value: this.alertTopic.topicArn });
    if (state) new CfnOutput(this, 'StateTableName', { value: state.tableName });
    new CfnOutput(this, 'OnFailureQueueUrl', { value: this.onFailureQueue.queueUrl });
  }
}

/**
 * CloudWatch may publish these alarms' notifications to the topic, and no other alarm's (the confused-deputy
 * conditions CloudWatch documents: this account, these alarm ARNs). Needed once the topic has a policy of its own.
 */
function alarmsMayPublish(stack: Stack, topic: Topic, alarms: readonly Alarm[]): PolicyStatement {
  return new PolicyStatement({
    sid: 'TheStacksAlarmsMayPublish',
    principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
    actions: ['sns:Publish'],
    resources: [topic.topicArn],
    conditions: { StringEquals: { 'aws:SourceAccount': stack.account }, ArnEquals: { 'aws:SourceArn': alarms.map((a) => a.alarmArn) } },
  });
}
