/**
 * Runs items through an async worker with bounded concurrency and hands the results on IN INPUT ORDER, so
 * output and checkpoints follow the source order while KMS round trips overlap. A transient failure is retried
 * with exponential backoff and jitter; when retries run out the error propagates (nothing is skipped). The one retry
 * policy of the record path and the live consumer is here too: RETRY_DEFAULTS, retryDelay and withRetry.
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

/**
 * The retry policy's defaults, for what a caller leaves unset: every retry of the record path and the live consumer
 * (processing, alert hand-offs, Kinesis calls, checkpoint and state writes) starts from them. Alert delivery has its
 * own policy (DEFAULT_RETRY in src/delivery/OutboxQueue.ts).
 */
export const RETRY_DEFAULTS = { attempts: 6, baseDelayMs: 200, maxDelayMs: 10_000 } as const;

/** A retry policy; what is unset is RETRY_DEFAULTS. */
export interface RetryOptions {
  /** Attempts for a TransientError, the first included. */
  attempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Called before each retry (for logs). */
  onRetry?: (err: TransientError, attempt: number, delayMs: number) => void;
  /** No more retries once it aborts: the last error is thrown (a wait in progress ends at once). */
  signal?: AbortSignal;
  /**
   * What a failure means, for a caller whose errors are not dasguard's (an AWS SDK call): the error to retry (a
   * TransientError) or to throw (anything else). Default: the failure as it is.
   */
  classify?: (err: unknown) => unknown;
}

export interface DriveOptions extends RetryOptions {
  concurrency?: number;
  /** Aborted when drive fails, before it waits for the items in flight: workers that wait (a held record) stop. */
  cancel?: AbortController;
}

/** The wait before retry `attempt` (1: the first retry) under a policy's timing, with full jitter. */
export function retryDelay(attempt: number, policy: Pick<RetryOptions, 'baseDelayMs' | 'maxDelayMs'> = {}): number {
  return backoffDelay(attempt, policy.baseDelayMs ?? RETRY_DEFAULTS.baseDelayMs, policy.maxDelayMs ?? RETRY_DEFAULTS.maxDelayMs);
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

/** `fn`, retried on a TransientError (after `classify`) per the policy; the last failure is thrown. */
export async function withRetry<R>(fn: () => Promise<R>, opts: RetryOptions = {}): Promise<R> {
  const attempts = opts.attempts ?? RETRY_DEFAULTS.attempts;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (failure) {
      const err = opts.classify ? opts.classify(failure) : failure;
      if (!(err instanceof TransientError) || attempt >= attempts || opts.signal?.aborted) throw err;
      const delay = retryDelay(attempt, opts);
      opts.onRetry?.(err, attempt, delay);
      await sleep(delay, opts.signal);
      if (opts.signal?.aborted) throw err;
    }
  }
}
