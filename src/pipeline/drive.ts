/**
 * Runs items through an async worker with bounded concurrency and hands the results on IN INPUT ORDER, so
 * output and checkpoints follow the source order while KMS round trips overlap. A transient failure is retried
 * with exponential backoff and jitter; when retries run out the error propagates (nothing is skipped).
 *
 * A DataKeyError with `retryAfterInFlight` (no data key of that context has decrypted YET) may be a damaged
 * record rather than a wrong key: when it reaches the head, the next KEY_VERDICT_LOOKAHEAD - 1 items (those in
 * flight, and more read from the input when fewer are) settle first and the head is tried once more; if one of them
 * decrypted, the key guard now calls the head poison (quarantined), else the error propagates (the configuration is
 * wrong). Only that look-ahead decides, not timing or --concurrency: an input whose first KEY_VERDICT_LOOKAHEAD
 * encrypted records all fail to decrypt (or that ends sooner) is a configuration error.
 */
import { DataKeyError, TransientError } from '../errors.js';
import { backoffDelay, sleep } from '../util/backoff.js';

/** Records looked at (the failing one included) before a data key that never decrypted is called a configuration error. */
export const KEY_VERDICT_LOOKAHEAD = 8;

export interface DriveOptions {
  concurrency?: number;
  /** Attempts for a TransientError, the first included. */
  attempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Called before each retry (for logs). */
  onRetry?: (err: TransientError, attempt: number, delayMs: number) => void;
  /** Aborted when drive fails, before it waits for the items in flight: workers that wait (a held record) stop. */
  cancel?: AbortController;
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
  const input = items[Symbol.asyncIterator]();
  let exhausted = false;
  /** Starts the next item of the input; false at its end. */
  const pull = async (): Promise<boolean> => {
    if (exhausted) return false;
    const next = await input.next();
    if (next.done === true) {
      exhausted = true;
      return false;
    }
    const p = run(next.value);
    // Keep rejections observed while they wait their turn; they are re-thrown in order below.
    p.catch(() => undefined);
    window.push({ item: next.value, result: p });
    return true;
  };
  /** The head's result; for a verdict that depends on the records after it, the head again once they settled. */
  const settled = async (head: { item: I; result: Promise<R> }): Promise<R> => {
    try {
      return await head.result;
    } catch (err) {
      if (!(err instanceof DataKeyError && err.retryAfterInFlight)) throw err;
      while (window.length < KEY_VERDICT_LOOKAHEAD - 1 && (await pull()));
      await Promise.allSettled(window.map((w) => w.result));
      return run(head.item);
    }
  };
  try {
    for (;;) {
      while (window.length < concurrency && (await pull()));
      const head = window.shift();
      if (head === undefined) break;
      await onResult(await settled(head), head.item);
    }
  } catch (err) {
    opts.cancel?.abort();
    throw err;
  } finally {
    // On failure, let in-flight work settle before returning (no stray promises after the caller moves on), and
    // let the input release what it holds (open files).
    await Promise.allSettled(window.map((w) => w.result));
    if (!exhausted) await input.return?.();
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
