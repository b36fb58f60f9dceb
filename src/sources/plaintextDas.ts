/**
 * Plaintext DAS JSON (an envelope `{"type": "DatabaseActivityMonitoringRecords", ...}` or a bare
 * `DatabaseActivityMonitoringRecord`), as samples and tests hold it -> SourceRecord. Its resource id, when not given,
 * is the file's, else the record's own `clusterId`.
 */
import type { RecordPosition } from '../types.js';
import type { ResourceIdHints, SourceItem } from './types.js';

/** Whether `obj` is plaintext DAS JSON (what `fromPlaintextDas` takes). */
export function isPlaintextDas(obj: Record<string, unknown>): boolean {
  return obj.type === 'DatabaseActivityMonitoringRecords' || obj.type === 'DatabaseActivityMonitoringRecord';
}

export function fromPlaintextDas(obj: Record<string, unknown>, position: RecordPosition, hints: ResourceIdHints): SourceItem {
  const rid = hints.override ?? hints.fallback ?? clusterIdOf(obj);
  return { kind: 'record', record: { data: obj, position, ...(rid !== undefined ? { resourceId: rid } : {}) } };
}

function clusterIdOf(obj: Record<string, unknown>): string | undefined {
  const inner = typeof obj.databaseActivityEvents === 'object' && obj.databaseActivityEvents !== null ? obj.databaseActivityEvents : obj;
  const id = (inner as Record<string, unknown>).clusterId;
  return typeof id === 'string' && id !== '' ? id : undefined;
}
