/**
 * Checks a log line against the CloudWatch Embedded Metric Format specification (what CloudWatch Logs requires to
 * extract metrics) and returns its metrics by name.
 */
import assert from 'node:assert/strict';

export interface EmfLine {
  namespace: string;
  dimensions: string[][];
  /** Metric name -> value. */
  values: Record<string, number>;
  units: Record<string, string | undefined>;
}

export function checkEmf(line: Record<string, unknown>): EmfLine {
  const aws = line._aws as { Timestamp?: unknown; CloudWatchMetrics?: unknown } | undefined;
  assert.ok(aws && typeof aws === 'object', 'the root has an _aws object');
  assert.ok(typeof aws.Timestamp === 'number' && Number.isInteger(aws.Timestamp), '_aws.Timestamp is epoch milliseconds');
  assert.ok(Math.abs(aws.Timestamp - Date.now()) < 3_600_000, 'Timestamp is about now (ms, not s)');
  assert.ok(Array.isArray(aws.CloudWatchMetrics) && aws.CloudWatchMetrics.length === 1, 'one metric directive');
  const d = aws.CloudWatchMetrics[0] as { Namespace?: unknown; Dimensions?: unknown; Metrics?: unknown };
  assert.ok(typeof d.Namespace === 'string' && d.Namespace.length > 0 && d.Namespace.length <= 1024);
  assert.ok(Array.isArray(d.Dimensions));
  for (const set of d.Dimensions as unknown[]) {
    assert.ok(Array.isArray(set) && set.length <= 30, 'a dimension set: at most 30 keys');
    for (const key of set) assert.equal(typeof line[key as string], 'string', `dimension ${String(key)} is a string member of the root`);
  }
  assert.ok(Array.isArray(d.Metrics) && d.Metrics.length >= 1 && d.Metrics.length <= 100, '1 to 100 metrics');
  const values: Record<string, number> = {};
  const units: Record<string, string | undefined> = {};
  for (const m of d.Metrics as { Name?: unknown; Unit?: unknown }[]) {
    assert.ok(typeof m.Name === 'string' && m.Name.length >= 1 && m.Name.length <= 255);
    const v = line[m.Name];
    assert.ok(typeof v === 'number' && Number.isFinite(v), `metric ${m.Name} is a number member of the root`);
    values[m.Name] = v;
    units[m.Name] = m.Unit as string | undefined;
  }
  return { namespace: d.Namespace, dimensions: d.Dimensions as string[][], values, units };
}
