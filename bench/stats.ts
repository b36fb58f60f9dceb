/** The p-th percentile of ascending `sorted` (nearest rank, the higher of two middles): p50 of 7 values is the 4th. */
export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
