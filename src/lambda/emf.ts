/**
 * The Lambda's metrics: the `batch` summary line of each invocation is also a CloudWatch Embedded Metric Format
 * (EMF) document. CloudWatch Logs turns its counts into metrics of namespace `dasguard` with the dimension
 * FunctionName, with no agent, no PutMetricData call and no extra line: the numbers graphed are the numbers logged.
 *
 * Per the EMF specification, the root holds `_aws` ({Timestamp: epoch ms, CloudWatchMetrics: [{Namespace,
 * Dimensions: [[keys]], Metrics: [{Name, Unit}]}]}), every dimension key as a string member and every metric name as a
 * number member; other members (time, level, msg, requestId...) stay log fields. At most 100 metrics per directive
 * and 30 keys per dimension set: far more than these.
 */

export const EMF_NAMESPACE = 'dasguard';

/**
 * The summary fields published as metrics (all counts of the invocation; see InvocationSummary in handler.ts). The
 * delivery ones are in the line, so published, only with alert delivery.
 */
export const LAMBDA_METRICS = [
  'records',
  'processed',
  'events',
  'heartbeats',
  'alerts',
  'quarantined',
  'kmsCalls',
  'keyCacheHits',
  'keyCacheMisses',
  'failed',
  'deliveries',
  'deliveryRetries',
  'deadLettered',
  'undeliveredRecords',
  'outboxPending',
] as const;

/** The EMF members to add to a summary line: `_aws` and the FunctionName dimension. */
export interface EmfMembers {
  _aws: {
    Timestamp: number;
    CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: 'Count' }[] }[];
  };
  FunctionName: string;
}

/**
 * What makes `summary` an EMF document: the directive naming those of LAMBDA_METRICS it holds as numbers.
 * `functionName`: the context's, else AWS_LAMBDA_FUNCTION_NAME, else `dasguard` (a handler run outside Lambda).
 */
export function emfMembers(summary: object, functionName: string | undefined, timestamp: number): EmfMembers {
  const values = summary as Record<string, unknown>;
  const metrics = LAMBDA_METRICS.filter((name) => typeof values[name] === 'number' && Number.isFinite(values[name])).map((Name) => ({ Name, Unit: 'Count' as const }));
  return {
    _aws: { Timestamp: timestamp, CloudWatchMetrics: [{ Namespace: EMF_NAMESPACE, Dimensions: [['FunctionName']], Metrics: metrics }] },
    FunctionName: functionName || process.env.AWS_LAMBDA_FUNCTION_NAME || 'dasguard',
  };
}
