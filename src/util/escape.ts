/**
 * Text that a terminal, a log viewer or a JSON consumer would interpret, made inert. Every field of an event is
 * written by a database user (statement text, application name, object names, error messages): printed raw, an
 * ESC or OSC sequence recolours or retitles the terminal, hides text or writes a link; `\r` and newlines forge
 * extra alert lines; bidirectional overrides make text read differently from what it is ("Trojan Source").
 *
 * - `terminalSafe(s)`: for text output (replay/run alert lines, summaries, log lines on a terminal): every C0 and
 *   C1 control character, DEL, the line and paragraph separators and the bidirectional controls become visible
 *   escapes (`\n`, `\r`, `\t`, `\x1b`, `\u202e`). Printable text, backslashes included, is unchanged.
 * - `jsonLine(value)`: JSON.stringify, then the characters JSON leaves raw but terminals and some parsers act on
 *   (C1 controls, DEL, U+2028/2029, bidirectional controls) as `\uXXXX` escapes: the same JSON value, inert text.
 */

/** C0 controls, DEL, C1 controls, line/paragraph separators, bidi marks, embeddings, overrides and isolates. */
// eslint-disable-next-line no-control-regex
const TERMINAL_UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
/** What JSON.stringify leaves raw of those (it escapes C0 itself). */
const JSON_UNSAFE = /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function hex(c: string): string {
  const code = c.charCodeAt(0);
  return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** `s` with every control, separator and bidi character as a visible escape. */
export function terminalSafe(s: string): string {
  TERMINAL_UNSAFE.lastIndex = 0;
  if (!TERMINAL_UNSAFE.test(s)) return s;
  return s.replace(TERMINAL_UNSAFE, (c) => NAMED[c] ?? hex(c));
}

/** `terminalSafe` line by line: the text's own line breaks stay, each line is made safe. */
export function terminalLines(s: string): string {
  return s.split('\n').map(terminalSafe).join('\n');
}

/** One line of JSON for a terminal or a log pipeline: no raw control, separator or bidi character. */
export function jsonLine(value: unknown): string {
  return inertJson(JSON.stringify(value));
}

/** JSON text (JSON.stringify's, or a logger's) with what JSON leaves raw as `\uXXXX` escapes: the same value, inert text. */
export function inertJson(text: string): string {
  JSON_UNSAFE.lastIndex = 0;
  if (!JSON_UNSAFE.test(text)) return text;
  return text.replace(JSON_UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
