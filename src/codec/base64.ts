/**
 * Strict base64: standard alphabet, padded, no whitespace, canonical (unused bits of the last character zero, as
 * every encoder writes them). `Buffer.from(s, 'base64')` alone would accept anything: it skips what it does not
 * know and reads the URL-safe alphabet too. So the text is decoded natively and encoded again; it is strict base64
 * exactly when that gives the same text back. No regular expression: a regex over megabytes of base64 backtracked
 * its way into a stack overflow (4 MB of base64 crashed the process), and this is ~5x faster besides.
 */

/** The bytes, or undefined when `text` is not strict base64. Callers bound `text` first (MAX_RECORD_BYTES). */
export function decodeBase64Strict(text: string): Buffer | undefined {
  if (text.length === 0 || text.length % 4 !== 0) return undefined;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : undefined;
}
