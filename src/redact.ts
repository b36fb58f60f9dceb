/**
 * Masks literals in SQL text and bind values, so that alerts and logs never carry the secrets users type into
 * SQL (`ALTER ROLE app PASSWORD 'hunter2'`, `CREATE USER 'bob'@'%' IDENTIFIED BY 'x'`): Aurora redacts a
 * password only when it recognises the statement, and every other literal reaches us in clear.
 *
 * Each literal becomes `?`; identifiers, keywords, operators, comments and placeholders (`$1`, `?`) are kept.
 * The scanner is a single pass with no backtracking: it never throws and is linear in the text length.
 */
import type { DbEngine } from './types.js';

const MASK = '?';

/**
 * `text` with every literal masked by `?`:
 * - single-quoted strings, with doubled quotes (`'it''s'`); the prefixed forms `E'..'` (backslash escapes),
 *   `N'..'`, `U&'..'`, `B'..'` and `X'..'`; on MySQL also backslash escapes in every string and `_charset'..'`;
 * - PostgreSQL dollar-quoted bodies (`$$..$$`, `$tag$..$tag$`), whole;
 * - MySQL double-quoted strings (on PostgreSQL, Oracle and SQL Server `"..."` is an identifier and is kept;
 *   on an unknown engine it is masked, to be safe);
 * - numbers (`42`, `-1.5e3` keeps its sign: `-?`), hex (`0x1F`) and bit (`0b101`) literals.
 * An unterminated literal is masked to the end of the text. MySQL account names (`'bob'@'%'`) are kept: they
 * name who, not a secret.
 */
export function redactSql(text: string, engine: DbEngine): string {
  const mysql = engine === 'mysql';
  const pg = engine === 'postgresql';
  const doubleQuotedIsIdentifier = engine !== 'mysql' && engine !== 'unknown';
  const n = text.length;
  let out = '';
  let i = 0;
  let copyFrom = 0;
  const flush = (upTo: number): void => {
    if (upTo > copyFrom) out += text.slice(copyFrom, upTo);
  };

  while (i < n) {
    const c = text.charCodeAt(i);
    const c2 = i + 1 < n ? text.charCodeAt(i + 1) : -1;

    // -- line comment (and MySQL # comment): kept verbatim.
    if ((c === 45 && c2 === 45) || (mysql && c === 35)) {
      const eol = text.indexOf('\n', i);
      i = eol < 0 ? n : eol + 1;
      continue;
    }
    // /* block comment */ (nested on PostgreSQL). MySQL /*! ... */ holds code: scan inside it.
    if (c === 47 && c2 === 42) {
      if (mysql && (text.charCodeAt(i + 2) === 33 || text.charCodeAt(i + 2) === 43)) {
        i += 3;
        continue;
      }
      i = skipBlockComment(text, i, pg);
      continue;
    }
    // 'string', and "string" where double quotes make strings (MySQL); "identifier" elsewhere
    if (c === 39 || c === 34) {
      const end = scanQuoted(text, i, c, mysql);
      if (c === 34 && doubleQuotedIsIdentifier) {
        i = end;
        continue;
      }
      if (mysql && text.charCodeAt(end) === 64 /* @ */) {
        // 'user'@'host' / 'user'@host: an account name, kept (it names who, it is not a secret).
        i = end + 1;
        const h = text.charCodeAt(i);
        if (h === 39 || h === 34 || h === 96) i = scanQuoted(text, i, h, true);
        continue;
      }
      flush(i);
      out += MASK;
      i = copyFrom = end;
      continue;
    }
    // `identifier` (MySQL)
    if (c === 96) {
      i = scanQuoted(text, i, 96, false);
      continue;
    }
    // [identifier] (SQL Server)
    if (c === 91 && engine === 'sqlserver') {
      const end = text.indexOf(']', i + 1);
      i = end < 0 ? n : end + 1;
      continue;
    }
    // $1 placeholders, $$ / $tag$ dollar quotes (PostgreSQL)
    if (c === 36) {
      if (pg) {
        const tagEnd = dollarTagEnd(text, i);
        if (tagEnd > 0) {
          const tag = text.slice(i, tagEnd);
          const close = text.indexOf(tag, tagEnd);
          flush(i);
          out += MASK;
          i = copyFrom = close < 0 ? n : close + tag.length;
          continue;
        }
      }
      i++;
      while (i < n && isDigit(text.charCodeAt(i))) i++;
      continue;
    }
    // numbers: 12, 1.5, .5, 1e-3, 0x1F, 0b101 (not inside identifiers: identifiers are consumed whole below)
    if (isDigit(c) || (c === 46 && isDigit(c2))) {
      const end = scanNumber(text, i);
      flush(i);
      out += MASK;
      i = copyFrom = end;
      continue;
    }
    // identifiers and keywords, and the prefixed string forms E'..', N'..', B'..', X'..', U&'..', _utf8'..'
    if (isIdentStart(c)) {
      let end = i + 1;
      while (end < n && isIdentPart(text.charCodeAt(end))) end++;
      const next = text.charCodeAt(end);
      const word = text.slice(i, end);
      const prefixed = stringPrefix(word, next, text.charCodeAt(end + 1), mysql);
      if (prefixed > 0) {
        const quoteAt = end + prefixed - 1;
        const escapes = mysql || word === 'E' || word === 'e';
        const close = scanQuoted(text, quoteAt, 39, escapes);
        flush(i);
        out += MASK;
        i = copyFrom = close;
        continue;
      }
      i = end;
      continue;
    }
    i++;
  }
  flush(n);
  return out;
}

/**
 * A copy of a bind-value list with every value masked: each non-null element of an array becomes `?` (null
 * stays null: it tells nothing); an object's values likewise; a bare string becomes `?`. null and undefined
 * are returned as they are.
 */
export function redactParams(list: unknown): unknown {
  if (list === null || list === undefined) return list;
  if (Array.isArray(list)) return list.map((v) => (v === null ? null : MASK));
  if (typeof list === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(list)) out[k] = v === null ? null : MASK;
    return out;
  }
  return MASK;
}

/** The index just past the closing quote (doubled quotes and, when `backslash`, `\x` escapes inside). */
function scanQuoted(text: string, start: number, quote: number, backslash: boolean): number {
  const n = text.length;
  let i = start + 1;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (backslash && c === 92) {
      i += 2;
      continue;
    }
    if (c === quote) {
      if (text.charCodeAt(i + 1) === quote) {
        i += 2;
        continue;
      }
      return i + 1;
    }
    i++;
  }
  return n;
}

function skipBlockComment(text: string, start: number, nested: boolean): number {
  const n = text.length;
  let depth = 1;
  let i = start + 2;
  while (i < n) {
    if (text.charCodeAt(i) === 42 && text.charCodeAt(i + 1) === 47) {
      depth--;
      i += 2;
      if (depth === 0) return i;
      continue;
    }
    if (nested && text.charCodeAt(i) === 47 && text.charCodeAt(i + 1) === 42) {
      depth++;
      i += 2;
      continue;
    }
    i++;
  }
  return n;
}

/** For `$$` or `$tag$` at `i`: the index after the opening tag; 0 when it is not a dollar quote (e.g. `$1`). */
function dollarTagEnd(text: string, i: number): number {
  const n = text.length;
  let j = i + 1;
  if (j < n && text.charCodeAt(j) === 36) return j + 1;
  if (j >= n || !isIdentStart(text.charCodeAt(j))) return 0;
  while (j < n && text.charCodeAt(j) !== 36) {
    const c = text.charCodeAt(j);
    if (!isIdentStart(c) && !isDigit(c)) return 0;
    j++;
  }
  return j < n ? j + 1 : 0;
}

function scanNumber(text: string, start: number): number {
  const n = text.length;
  let i = start;
  const c2 = text.charCodeAt(i + 1);
  if (text.charCodeAt(i) === 48 && (c2 === 120 || c2 === 88 || c2 === 98 || c2 === 66 || c2 === 111 || c2 === 79)) {
    i += 2;
    while (i < n && isHexOrUnderscore(text.charCodeAt(i))) i++;
    return i;
  }
  while (i < n && (isDigit(text.charCodeAt(i)) || text.charCodeAt(i) === 95)) i++;
  if (text.charCodeAt(i) === 46) {
    i++;
    while (i < n && (isDigit(text.charCodeAt(i)) || text.charCodeAt(i) === 95)) i++;
  }
  const e = text.charCodeAt(i);
  if (e === 101 || e === 69) {
    let j = i + 1;
    const s = text.charCodeAt(j);
    if (s === 43 || s === 45) j++;
    if (isDigit(text.charCodeAt(j))) {
      i = j;
      while (i < n && isDigit(text.charCodeAt(i))) i++;
    }
  }
  // 123abc is an identifier on MySQL (and a syntax error elsewhere): mask the whole word either way.
  while (i < n && isIdentPart(text.charCodeAt(i))) i++;
  return i;
}

/**
 * When `word` followed by `next` opens a prefixed string literal, the number of characters from the end of the
 * word to (and including) the opening quote; otherwise 0.
 */
function stringPrefix(word: string, next: number, afterNext: number, mysql: boolean): number {
  if (next === 39) {
    const w = word.toUpperCase();
    if (w === 'E' || w === 'N' || w === 'B' || w === 'X') return 1;
    if (mysql && word.startsWith('_')) return 1; // _utf8mb4'...'
    return 0;
  }
  if (next === 38 /* & */ && afterNext === 39 && (word === 'U' || word === 'u')) return 2;
  return 0;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function isHexOrUnderscore(c: number): boolean {
  return isDigit(c) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102) || c === 95;
}

function isIdentStart(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c > 0x7f;
}

function isIdentPart(c: number): boolean {
  return isIdentStart(c) || isDigit(c) || c === 36;
}
