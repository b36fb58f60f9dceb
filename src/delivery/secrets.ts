/**
 * Secrets of the delivery config (webhook URLs, header values) are masked in every message dasguard prints. (What
 * an alert may carry to a sink is the redaction policy's job: src/redaction.)
 */
/** `https://hooks.slack.com/***`: scheme and host only (the path and query of a webhook URL are the secret). */
export function maskUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}/***`;
  } catch {
    return '***';
  }
}

/** `text` with every secret (and the path of every URL among them) replaced by `***`. */
export function maskSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of [...secrets].sort((a, b) => b.length - a.length)) {
    if (s.length < 4) continue;
    out = out.split(s).join(/^https?:\/\//.test(s) ? maskUrl(s) : '***');
    if (/^https?:\/\//.test(s)) {
      try {
        const u = new URL(s);
        const tail = u.pathname + u.search;
        if (tail.length > 3) out = out.split(tail).join('/***');
      } catch {
        // not a URL after all: the whole value was masked above
      }
    }
  }
  return out;
}
