/**
 * JSON POST with a timeout, classified for retry: 2xx ok; 408/429/5xx, timeouts and connection errors retryable.
 *
 * Redirects are followed by hand, not by fetch: fetch would re-send the configured headers (tokens) and the
 * alert to any origin a server names, and would turn the POST into a GET on 301/302/303, "delivering" nothing
 * and reporting success. So: a redirect to another origin (scheme, host or port; http -> https too) is never
 * followed; a same-origin 307/308 is (at most MAX_REDIRECTS of them): the same server, which already has the
 * headers, asked for the same POST elsewhere, as an endpoint that moved a path does; a same-origin
 * 301/302/303 is not (its GET would deliver nothing). A redirect not followed is a failure that is not retried
 * (the URL in the config is wrong: retrying cannot help); its error names the target (scheme, host, path: never
 * its query, and masked like every error).
 */
import { maskSecrets } from '../secrets.js';
import type { SendResult } from '../types.js';

/** Same-origin 307/308 hops followed before giving up (fetch's default is 20). */
const MAX_REDIRECTS = 5;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export async function postJson(
  url: string,
  body: unknown,
  opts: { headers?: Record<string, string>; timeoutMs: number; secrets: readonly string[]; what: string },
): Promise<SendResult> {
  const fail = (error: string, retryable: boolean): SendResult => ({ ok: false, retryable, error: maskSecrets(`${opts.what}: ${error}`, opts.secrets) });
  const payload = JSON.stringify(body);
  const signal = AbortSignal.timeout(opts.timeoutMs); // for the whole exchange, redirects included
  const origin = parseUrl(url)?.origin;
  if (origin === undefined) return fail('the url is not a valid URL', false);
  let target = url;
  let res: Response;
  for (let hops = 0; ; hops++) {
    try {
      res = await fetch(target, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...opts.headers },
        body: payload,
        redirect: 'manual',
        signal,
      });
    } catch (err) {
      return fail(networkMessage(err, opts.timeoutMs), true);
    }
    if (!REDIRECTS.has(res.status)) break;
    await res.body?.cancel().catch(() => undefined); // the redirect's own body is not wanted
    const location = res.headers.get('location');
    const next = location === null || location.trim() === '' ? undefined : parseUrl(location, target);
    if (next === undefined) return fail(`HTTP ${res.status} redirect without a usable Location: not followed`, false);
    const shown = `${next.protocol}//${next.host}${next.pathname}`;
    if (next.origin !== origin) {
      return fail(`HTTP ${res.status} redirect to another origin, ${shown}: not followed (the headers and the alert would go there); set the sink's url to the address that should get them`, false);
    }
    if (res.status !== 307 && res.status !== 308) {
      return fail(`HTTP ${res.status} redirect to ${shown}: not followed (the POST would become a GET and deliver nothing); set the sink's url to the new address`, false);
    }
    if (hops >= MAX_REDIRECTS) return fail(`more than ${MAX_REDIRECTS} redirects (the last to ${shown}): not followed`, false);
    target = next.href;
  }
  let text = '';
  try {
    text = await res.text();
  } catch (err) {
    if (res.ok) return fail(`reply cut short: ${networkMessage(err, opts.timeoutMs)}`, true);
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

function parseUrl(url: string, base?: string): URL | undefined {
  try {
    return new URL(url, base);
  } catch {
    return undefined;
  }
}

/** `Retry-After`: seconds or an HTTP date; capped at 15 minutes. */
function retryAfterMs(header: string | null): number | undefined {
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
