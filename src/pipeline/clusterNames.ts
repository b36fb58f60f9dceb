/**
 * Which cluster an alert is about, by name and by resource id. An activity event names its cluster by the DAS
 * resource id (`cluster-4HNY…`, unreadable); dasguard's own alerts by the name `run --cluster`/`watch --cluster`
 * were given (the DBClusterIdentifier). Names come from dasguard.yaml's `clusters:` map (resource id -> name) and
 * from RDS DescribeDBClusters (`run --cluster`); every alert handed off gets `cluster: {name, resourceId}` with what
 * is known (DeliveryHandoff stamps it, so every output, sink and command sees the same).
 */
import { MESSAGE_PARTS, withMessageParts } from '../redaction/index.js';
import { RESOURCE_ID_PATTERN } from '../sources/streamName.js';
import type { Alert, ClusterRef } from './alert.js';

export class ClusterNames {
  readonly #byId = new Map<string, string>();
  readonly #byName = new Map<string, string>();

  constructor(entries: Readonly<Record<string, string>> = {}) {
    for (const [resourceId, name] of Object.entries(entries)) this.add(resourceId, name);
  }

  /** `resourceId` (cluster-…) is the cluster called `name`: DescribeDBClusters or the config said so. */
  add(resourceId: string, name: string): void {
    this.#byId.set(resourceId, name);
    this.#byName.set(name, resourceId);
  }

  /**
   * What is known of the cluster an alert's `clusterId` names: undefined when only a resource id is known (the
   * alert's clusterId says it already) or there is no cluster.
   */
  refOf(clusterId: string | null): ClusterRef | undefined {
    if (clusterId === null || clusterId === '') return undefined;
    if (RESOURCE_ID_PATTERN.test(clusterId)) {
      const name = this.#byId.get(clusterId);
      return name === undefined ? undefined : { name, resourceId: clusterId };
    }
    return { name: clusterId, resourceId: this.#byName.get(clusterId) ?? null };
  }

  /** `alerts` with `cluster` set where something is known (copies, message parts kept); the rest as they are. */
  stamp(alerts: readonly Alert[]): Alert[] {
    return alerts.map((a) => {
      if (a.cluster !== undefined) return a;
      const ref = this.refOf(a.clusterId);
      if (ref === undefined) return a;
      // Next to clusterId and instanceId, where a reader of the JSON looks for it.
      const named = Object.fromEntries(Object.entries(a).flatMap(([k, v]) => (k === 'instanceId' ? [[k, v], ['cluster', ref]] : [[k, v]]))) as unknown as Alert;
      const parts = a[MESSAGE_PARTS];
      return parts === undefined ? named : withMessageParts(named, parts);
    });
  }
}
