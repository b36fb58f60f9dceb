/**
 * Runs items through an async worker with bounded concurrency and hands the results on IN INPUT ORDER, so
 * output and checkpoints follow the source order while KMS round trips overlap. A transient failure is retried
 * with exponential backoff and jitter; when retries run out the error propagates (nothing is skipped).
 */
import { TransientError } from '../errors.js';
import { backoffDelay, sleep } from '../util/backoff.js';

export interface DriveOptions {
  concurrency?: number;
  /** Attempts for a TransientError, the first included. */
  attempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Called before each retry (for logs). */
  onRetry?: (err: TransientError, attempt: number, delayMs: number) => void;
  /** No more retries once it aborts: the last error is thrown (a wait in progress ends at once). */
  signal?: AbortSignal;
}

export async function drive<I, R>(
  items: AsyncIterable<I>,
  worker: (item: I) => Promise<R>,
  onResult: (result: R, item: I) => void | Promise<void>,
  opts: DriveOptions = {},
): Promise<void> {
  const concurrency = Math.max(1, opts.concurrency ?? 8);
  const window: { item: I; result: Promise<R> }[] = [];
  const run = (item: I) => withRetry(() => worker(item), opts);
  try {
    for await (const item of items) {
      const p = run(item);
      // Keep rejections observed while they wait their turn; they are re-thrown in order below.
      p.catch(() => undefined);
      window.push({ item, result: p });
      if (window.length >= concurrency) {
        const head = window.shift()!;
        await onResult(await head.result, head.item);
      }
    }
    while (window.length > 0) {
      const head = window.shift()!;
      await onResult(await head.result, head.item);
    }
  } finally {
    // On failure, let in-flight work settle before returning (no stray promises after the caller moves on).
    await Promise.allSettled(window.map((w) => w.result));
  }
}

export async function withRetry<R>(fn: () => Promise<R>, opts: DriveOptions = {}): Promise<R> {
  const attempts = opts.attempts ?? 6;
  const base = opts.baseDelayMs ?? 200;
  const max = opts.maxDelayMs ?? 10_000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof TransientError) || attempt >= attempts || opts.signal?.aborted) throw err;
      const delay = backoffDelay(attempt, base, max);
      opts.onRetry?.(err, attempt, delay);
      await sleep(delay, opts.signal);
      if (opts.signal?.aborted) throw err;
    }
  }
}
