/**
 * How far V8 lets a heap grow past what it held live after its last full collection before it collects again. V8
 * picks a factor of up to 4 for a heap that collects fast: `replay --workers 2` holds ~15 MB live on its main thread
 * but let it reach ~57 MB, and each worker's heap grows the same way. 1.5 keeps every thread's heap (the process
 * shares the flag) within half again of its live data: measured on a 21 MB dump of 3,000 records, peak RSS 180-184 MB
 * instead of 215-220 MB with `--workers 2` and 138 MB instead of 181 MB without, at the same speed within the noise;
 * a 1 GB dump with `--workers 2` 197 MB instead of 264 MB, in 376 s instead of 352 s (one run each: within this
 * machine's run-to-run noise, but not shown to cost nothing; README, Benchmarks).
 * Unlike a hard `--max-old-space-size` it never stops a process whose state legitimately grows (correlation state
 * of a million groups holds ~450 MiB): a larger live heap only gets proportionally larger headroom.
 *
 * Set at start by the command's entry point (bin/dasguard.js) and the bench, before the heaps grow; a process started
 * with its own `--heap-growing-percent` keeps it. (Node does not take this flag in NODE_OPTIONS, so it is set here.)
 */
import { setFlagsFromString } from 'node:v8';

export const HEAP_GROWING_PERCENT = 50;

/** Sets V8's heap growing factor to 1 + HEAP_GROWING_PERCENT / 100, unless the process was started with one. */
export function limitHeapGrowth(execArgv: readonly string[] = process.execArgv): boolean {
  if (execArgv.some((a) => /^--heap[-_]growing[-_]percent(=|$)/.test(a))) return false;
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  return true;
}
