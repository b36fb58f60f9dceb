/**
 * Retry timing shared by every retry loop (record processing, Kinesis calls, alert delivery): an exponential
 * ceiling `min(max, base * 2^(attempt-1))` with jitter, so that many callers backing off at once do not retry in
 * step. 'full' jitter draws the whole delay at random (the AWS recommendation for contended APIs); 'equal' keeps
 * half of it fixed, which guarantees a minimum total wait (alert delivery uses it so that N attempts always span
 * at least a known outage).
 */
export type Jitter = 'full' | 'equal';

export function backoffDelay(attempt: number, baseMs: number, maxMs: number, jitter: Jitter = 'full', random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(Math.max(0, attempt - 1), 30));
  return Math.round(jitter === 'full' ? random() * ceiling : ceiling / 2 + random() * (ceiling / 2));
}

/** Resolves after `ms`, or at once when `signal` aborts (never rejects). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0 || signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
