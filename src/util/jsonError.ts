/**
 * What JSON.parse said, without what it quotes: V8's messages quote the text around the mistake (`Unexpected token
 * 'h', "hunter2…" is not valid JSON`), and that text can be audit data (a plaintext record, a decrypted payload).
 * Keeps the kind of mistake and the position, which is what a user needs to find it.
 */
export function describeJsonError(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message
    .replace(/, ".*" is not valid JSON$/s, ' (not valid JSON)')
    .replace(/token '[^']*'/, 'token')
    .replace(/"[^"]*"/g, '"…"');
}
