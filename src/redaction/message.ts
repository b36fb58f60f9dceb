/**
 * Server messages (`errorMessage`, Oracle ADDITIONAL_INFO…) with the values they quote masked. Servers quote the
 * statement's text and values back: PostgreSQL `invalid input syntax for type integer: "4111111111111111"`,
 * `syntax error at or near "'Tr0ub4dor&3'"`, `Key (pan)=(4111…) already exists`; MySQL `Duplicate entry
 * '4111111111111111' for key 'PRIMARY'`, `… near 'hunter2' at line 1`. A message cannot say which quoted part is a
 * name and which a value, so every quoted part is masked (`"?"`, `'?'`), every number that is not part of a word
 * (`?`), and the value list of `Key (…)=(…)`. The words of the message stay, so it still says what went wrong.
 * An apostrophe between letters (`doesn't`) is not a quote. Linear; never throws; idempotent.
 */
import { MASK } from './sql.js';

export function maskMessage(text: string): string {
  const n = text.length;
  let out = '';
  let copied = 0;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 39 || c === 34 || c === 96) {
      if (c === 39 && i > 0 && isLetter(text.charCodeAt(i - 1)) && isLetter(text.charCodeAt(i + 1))) {
        i++; // an apostrophe
        continue;
      }
      let close = text.indexOf(String.fromCharCode(c), i + 1);
      if (close < 0) close = n;
      out += text.slice(copied, i + 1) + (close > i + 1 ? MASK : '');
      copied = close;
      i = close + 1;
      continue;
    }
    if (c === 61 /* = */ && text.charCodeAt(i + 1) === 40 /* ( */) {
      // Key (col)=(value): the value list, to its closing parenthesis
      let depth = 0;
      let j = i + 1;
      for (; j < n; j++) {
        const d = text.charCodeAt(j);
        if (d === 40) depth++;
        else if (d === 41 && --depth === 0) break;
      }
      out += text.slice(copied, i + 2) + MASK;
      copied = Math.min(j, n);
      i = j + 1;
      continue;
    }
    if (isDigit(c) && (i === 0 || !isWordChar(text.charCodeAt(i - 1)))) {
      let j = i + 1;
      while (j < n && (isWordChar(text.charCodeAt(j)) || (text.charCodeAt(j) === 46 && isDigit(text.charCodeAt(j + 1))))) j++;
      out += text.slice(copied, i) + MASK;
      copied = i = j;
      continue;
    }
    i++;
  }
  return copied === 0 ? text : out + text.slice(copied);
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function isLetter(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c > 0x7f;
}

function isWordChar(c: number): boolean {
  return isLetter(c) || isDigit(c) || c === 95;
}
