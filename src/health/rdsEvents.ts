/**
 * `DescribeEvents` for one Aurora cluster, every page (Marker). IAM: `rds:DescribeEvents`.
 * Errors are classified like every RDS call (src/aws/rds.ts): throttling/5xx TransientError, access ConfigError.
 */
import { DescribeEventsCommand, type Event as SdkEvent, type RDSClient } from '@aws-sdk/client-rds';
import { classifyRdsError } from '../aws/rds.js';

export interface DescribeClusterEventsOptions {
  clusterId: string;
  startTime: Date;
  endTime?: Date;
  /** Events per page, 20..100 (the API's limits); default 100. */
  pageSize?: number;
  signal?: AbortSignal;
}

/** Every event of the cluster (SourceType db-cluster) from `startTime`, all pages, in the order RDS returns them. */
export async function describeClusterEvents(client: RDSClient, opts: DescribeClusterEventsOptions): Promise<SdkEvent[]> {
  const out: SdkEvent[] = [];
  const seenMarkers = new Set<string>();
  let marker: string | undefined;
  for (;;) {
    let page;
    try {
      page = await client.send(
        new DescribeEventsCommand({
          SourceType: 'db-cluster',
          SourceIdentifier: opts.clusterId,
          StartTime: opts.startTime,
          ...(opts.endTime ? { EndTime: opts.endTime } : {}),
          MaxRecords: Math.min(100, Math.max(20, opts.pageSize ?? 100)),
          ...(marker !== undefined ? { Marker: marker } : {}),
        }),
        opts.signal ? { abortSignal: opts.signal } : {},
      );
    } catch (err) {
      throw classifyRdsError(err, `RDS DescribeEvents for cluster "${opts.clusterId}"`, opts.clusterId);
    }
    out.push(...(page.Events ?? []));
    marker = page.Marker || undefined;
    if (marker === undefined) return out;
    // a marker seen twice would loop forever: RDS never does this, a broken proxy might
    if (seenMarkers.has(marker)) throw new Error(`RDS DescribeEvents returned the same Marker twice ("${marker}")`);
    seenMarkers.add(marker);
  }
}
