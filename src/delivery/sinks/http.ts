/** JSON POST with a timeout, classified for retry: 2xx ok; 408/429/5xx, timeouts and connection errors retryable. */
import { maskSecrets } from '../secrets.js';
import type { SendResult } from '../types.js';

export async function postJson(
  url: string,
  body: unknown,
  opts: { headers?: Record<string, string>; timeoutMs: number; secrets: readonly string[]; what: string },
): Promise<SendResult> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...opts.headers },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(opts.timeoutMs),
    });
  } catch (err) {
    return { ok: false, retryable: true, error: maskSecrets(`${opts.what}: ${networkMessage(err, opts.timeoutMs)}`, opts.secrets) };
  }
  let text = '';
  try {
    text = await res.text();
  } catch (err) {
    if (res.ok) return { ok: false, retryable: true, error: maskSecrets(`${opts.what}: reply cut short: ${networkMessage(err, opts.timeoutMs)}`, opts.secrets) };
  }
  if (res.ok) return { ok: true };
  const retryable = res.status === 408 || res.status === 429 || res.status >= 500;
  const result: SendResult = {
    ok: false,
    retryable,
    error: maskSecrets(`${opts.what}: HTTP ${res.status}${text ? ` ${text.slice(0, 200).replace(/\s+/g, ' ')}` : ''}`, opts.secrets),
  };
  const after = retryAfterMs(res.headers.get('retry-after'));
  if (after !== undefined) result.retryAfterMs = after;
  return result;
}

/** `Retry-After`: seconds or an HTTP date; capped at 15 minutes. */
export function retryAfterMs(header: string | null): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const secs = Number(header);
  const ms = Number.isFinite(secs) ? secs * 1000 : Date.parse(header) - Date.now();
  if (!Number.isFinite(ms)) return undefined;
  return Math.min(Math.max(0, ms), 15 * 60_000);
}

function networkMessage(err: unknown, timeoutMs: number): string {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) return `no answer within ${timeoutMs} ms`;
  const cause = err instanceof Error ? (err.cause as { code?: string; message?: string } | undefined) : undefined;
  if (cause?.code) return `${cause.code}${cause.message ? ` (${cause.message})` : ''}`;
  return err instanceof Error ? err.message : String(err);
}
