/**
 * A value from the input, quoted for a message (quarantine reasons, warnings): short, whatever the input holds. An
 * envelope or event field can be megabytes, or an object; a message names it, it does not copy it.
 */
export function quoteShort(v: unknown, max = 40): string {
  if (typeof v === 'string') return JSON.stringify(v.length > max ? `${v.slice(0, max)}…` : v);
  if (v === null || typeof v === 'number' || typeof v === 'boolean') return String(v);
  return Array.isArray(v) ? 'a JSON array' : `a JSON ${typeof v}`;
}
