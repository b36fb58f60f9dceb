/**
 * A Kinesis record's ApproximateArrivalTimestamp, in whatever form a transport carries it, as epoch milliseconds
 * (SourceRecord.arrivalTime): the one conversion for every source.
 */

/**
 * A Date (the SDK), epoch seconds with a fraction (Lambda events, CLI v1 get-records), epoch milliseconds, or an ISO
 * string (CLI v2) -> epoch milliseconds; undefined when it is none of these.
 */
export function arrivalTimeMs(v: unknown): number | undefined {
  if (v instanceof Date) {
    const t = v.getTime();
    return Number.isNaN(t) ? undefined : t;
  }
  if (typeof v === 'number' && Number.isFinite(v)) return v < 1e11 ? Math.round(v * 1000) : v;
  if (typeof v === 'string') {
    const t = Date.parse(v);
    return Number.isNaN(t) ? undefined : t;
  }
  return undefined;
}
