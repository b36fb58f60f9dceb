/**
 * Test helpers: a stack synthesized from context values as `-c key=value` gives them (strings), with the fixture
 * function code instead of the real bundle (tests never need `npm run package:lambda`), and the IAM statements of
 * every policy in its template.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { buildStack } from '../../lib/app.js';

export const FIXTURE_LAMBDA = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'lambda');
export const RESOURCE_ID = 'cluster-ABCDEFGHIJKLMNOPQRSTUVWXYZ';
export const KMS_KEY_ARN = 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
export const STREAM_ARN = `arn:aws:kinesis:eu-west-1:111122223333:stream/aws-rds-das-${RESOURCE_ID}`;

export function synth(context: Record<string, string> = {}): Template {
  const app = new App({ context: { clusterResourceId: RESOURCE_ID, kmsKeyArn: KMS_KEY_ARN, lambdaAsset: FIXTURE_LAMBDA, ...context } });
  const stack = buildStack(app, { defaultLambdaAsset: '/nonexistent/dasguard-lambda.zip', exists: existsSync });
  return Template.fromStack(stack);
}

export interface Statement {
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Resource?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
  Sid?: string;
  Principal?: unknown;
}

/** Where a statement was found: the resource's logical id and type. */
export interface FoundStatement extends Statement {
  in: string;
}

/** The statements of every permission policy of the template: roles' inline policies, policies, resource policies. */
export function permissionStatements(template: Template): FoundStatement[] {
  const out: FoundStatement[] = [];
  for (const [id, r] of Object.entries(template.toJSON().Resources as Record<string, { Type: string; Properties?: Record<string, any> }>)) {
    const p = r.Properties ?? {};
    const docs: unknown[] = [];
    if (r.Type === 'AWS::IAM::Role') docs.push(...(p.Policies ?? []).map((x: { PolicyDocument: unknown }) => x.PolicyDocument));
    if (['AWS::IAM::Policy', 'AWS::IAM::ManagedPolicy', 'AWS::SQS::QueuePolicy', 'AWS::SNS::TopicPolicy'].includes(r.Type)) docs.push(p.PolicyDocument);
    if (p.ResourcePolicy) docs.push(p.ResourcePolicy);
    for (const d of docs) for (const s of (d as { Statement: Statement[] }).Statement) out.push({ ...s, in: `${id} (${r.Type})` });
  }
  return out;
}

export const actionsOf = (s: Statement): string[] => (Array.isArray(s.Action) ? s.Action : [s.Action]);
export const resourcesOf = (s: Statement): unknown[] => (Array.isArray(s.Resource) ? s.Resource : [s.Resource]);

/** The logical id of the only resource of `type`. */
export function onlyId(template: Template, type: string): string {
  const ids = Object.keys(template.findResources(type));
  if (ids.length !== 1) throw new Error(`expected one ${type}, found ${ids.length}`);
  return ids[0]!;
}
