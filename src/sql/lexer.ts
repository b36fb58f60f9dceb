/**
 * The one SQL lexer: a single pass over statement text, no backtracking, no allocation per token (the token is
 * the lexer's own fields). Redaction (which spans are literals and comments) and the derived fields (sqlCommand,
 * sqlHasWhere, sqlComments) both read statements through it, so they cannot disagree about what is code.
 *
 * Dialects follow the engine that wrote the event:
 * - comments: `-- …` everywhere, `# …` on MySQL, `/* … *\/` (nested on PostgreSQL and SQL Server);
 * - MySQL executable comments: `/*! code *\/` runs, `/*!NNNNN code *\/` runs when the server version is at least
 *   NNNNN (5 digits, or 6 as MariaDB and MySQL 8.4 write them), otherwise it is a plain comment; `/*M!…*\/` runs
 *   on MariaDB only. Optimizer hints (`/*+ … *\/`) are comments to everything here;
 * - strings: `'…'` with doubled quotes; E'…' (backslash escapes), N'…', B'…', X'…', U&'…'; on MySQL every
 *   string takes backslash escapes, `"…"` is a string and `_charset'…'` a prefixed string; PostgreSQL
 *   dollar quotes (`$$…$$`, `$tag$…$tag$`); Oracle `q'[…]'` alternative quoting. On an unknown engine `"…"` is read
 *   as a string (the safe choice for redaction);
 * - quoted identifiers: `"…"` (not MySQL), `` `…` `` (MySQL), `[…]` (SQL Server);
 * - numbers, including hex (`0x1F`) and bit (`0b101`) forms; placeholders `$1` and `?`.
 * An unterminated string or comment runs to the end of the text.
 */
import type { DbEngine } from '../types.js';

/** Token kinds (numbers, so the hot path compares integers). */
export const Tok = {
  end: 0,
  /** An identifier or keyword. */
  word: 1,
  /** `"x"`, `` `x` ``, `[x]` */
  quotedIdent: 2,
  /** A string literal, prefix included (`E'…'`, `_utf8'…'`, `$tag$…$tag$`, `q'[…]'`). */
  string: 3,
  number: 4,
  /** `$1`, `?` */
  placeholder: 5,
  /** A comment of any kind that does not run (`--`, `#`, `/* *\/`, `/*+ hints *\/`, a skipped `/*!NNNNN …*\/`). */
  comment: 6,
  /** `/*!`, `/*!NNNNN` or `/*M!NNNNNN` that opens code MySQL runs; the code follows as ordinary tokens. */
  codeOpen: 7,
  /** The `*\/` that closes an executable comment. */
  codeClose: 8,
  /** Any other single character: `(`, `)`, `;`, `,`, `=`, `@`… */
  punct: 9,
} as const;
export type TokKind = (typeof Tok)[keyof typeof Tok];

/** MySQL 8.0 (Aurora MySQL 3): what an executable comment is compared with when the event names no server version. */
const DEFAULT_MYSQL_VERSION = 80000;

export interface LexerOptions {
  /** The server version as MySQL writes it in executable comments (8.0.28 -> 80028); default DEFAULT_MYSQL_VERSION. */
  mysqlVersion?: number;
  /** The server is MariaDB (`/*M!…*\/` runs). */
  mariadb?: boolean;
}

/**
 * `serverVersion` of an event -> the number MySQL compares executable comments with: "MySQL 5.7.12" -> 50712,
 * "8.0.mysql_aurora.3.04.0" -> 80000, "10.6.12-MariaDB" -> 100612. Undefined when it holds no version.
 */
export function mysqlVersionOf(serverVersion: unknown): number | undefined {
  if (typeof serverVersion !== 'string') return undefined;
  const m = /(\d+)\.(\d+)(?:\.(\d+))?/.exec(serverVersion);
  if (m === null) return undefined;
  const minor = Number(m[2]);
  const patch = m[3] !== undefined ? Number(m[3]) : 0;
  if (minor > 99 || patch > 99) return undefined;
  return Number(m[1]) * 10_000 + minor * 100 + patch;
}

export class SqlLexer {
  /** The current token: kind and [start, end) in the text. */
  kind: TokKind = Tok.end;
  start = 0;
  end = 0;
  /** For a comment: where its content starts and ends (inside the delimiters). */
  contentStart = 0;
  contentEnd = 0;

  readonly #s: string;
  readonly #n: number;
  readonly #mysql: boolean;
  readonly #pg: boolean;
  readonly #oracle: boolean;
  readonly #sqlserver: boolean;
  readonly #doubleQuoteIsString: boolean;
  readonly #version: number;
  readonly #mariadb: boolean;
  #pos = 0;
  /** Inside a MySQL executable comment: its `*\/` is a codeClose token. */
  #inCode = false;

  constructor(text: string, engine: DbEngine, opts: LexerOptions = {}) {
    this.#s = text;
    this.#n = text.length;
    this.#mysql = engine === 'mysql';
    this.#pg = engine === 'postgresql';
    this.#oracle = engine === 'oracle';
    this.#sqlserver = engine === 'sqlserver';
    this.#doubleQuoteIsString = engine === 'mysql' || engine === 'unknown';
    this.#version = opts.mysqlVersion ?? DEFAULT_MYSQL_VERSION;
    this.#mariadb = opts.mariadb === true;
  }

  get text(): string {
    return this.#s;
  }

  /** The current word, upper case (only meaningful for Tok.word). */
  upper(): string {
    return this.#s.slice(this.start, this.end).toUpperCase();
  }

  /** True when the current token is the word `w` (upper case), without allocating. */
  isWord(w: string): boolean {
    if (this.kind !== Tok.word || this.end - this.start !== w.length) return false;
    const s = this.#s;
    for (let i = 0; i < w.length; i++) {
      let c = s.charCodeAt(this.start + i);
      if (c >= 97 && c <= 122) c -= 32;
      if (c !== w.charCodeAt(i)) return false;
    }
    return true;
  }

  /** True when the current token is the punctuation character `ch`. */
  isPunct(ch: number): boolean {
    return this.kind === Tok.punct && this.#s.charCodeAt(this.start) === ch;
  }

  /** Advances to the next token (whitespace skipped) and returns its kind; Tok.end at the end of the text. */
  next(): TokKind {
    const s = this.#s;
    const n = this.#n;
    let i = this.#pos;
    while (i < n && isSpace(s.charCodeAt(i))) i++;
    this.start = i;
    if (i >= n) {
      this.#pos = this.end = n;
      return (this.kind = Tok.end);
    }
    const c = s.charCodeAt(i);
    const c2 = i + 1 < n ? s.charCodeAt(i + 1) : -1;

    // -- line comment; # on MySQL
    if ((c === 45 && c2 === 45) || (c === 35 && this.#mysql)) {
      const from = c === 35 ? i + 1 : i + 2;
      let eol = s.indexOf('\n', from);
      if (eol < 0) eol = n;
      this.contentStart = from;
      this.contentEnd = eol;
      return this.#emit(Tok.comment, eol);
    }
    if (c === 47 && c2 === 42) return this.#blockComment(i);
    if (this.#inCode && c === 42 && c2 === 47) {
      this.#inCode = false;
      return this.#emit(Tok.codeClose, i + 2);
    }
    if (c === 39) return this.#emit(Tok.string, scanQuoted(s, i, 39, this.#mysql));
    if (c === 34) {
      const end = scanQuoted(s, i, 34, this.#mysql);
      return this.#emit(this.#doubleQuoteIsString ? Tok.string : Tok.quotedIdent, end);
    }
    if (c === 96 && this.#mysql) return this.#emit(Tok.quotedIdent, scanQuoted(s, i, 96, false));
    if (c === 91 && this.#sqlserver) {
      // [identifier], with ]] for a ]
      let j = i + 1;
      for (;;) {
        const close = s.indexOf(']', j);
        if (close < 0) return this.#emit(Tok.quotedIdent, n);
        if (s.charCodeAt(close + 1) === 93) {
          j = close + 2;
          continue;
        }
        return this.#emit(Tok.quotedIdent, close + 1);
      }
    }
    if (c === 36) {
      if (this.#pg) {
        const tagEnd = dollarTagEnd(s, i);
        if (tagEnd > 0) {
          const close = s.indexOf(s.slice(i, tagEnd), tagEnd);
          return this.#emit(Tok.string, close < 0 ? n : close + (tagEnd - i));
        }
      }
      let j = i + 1;
      while (j < n && isDigit(s.charCodeAt(j))) j++;
      if (j > i + 1) return this.#emit(Tok.placeholder, j);
      return this.#emit(Tok.punct, i + 1);
    }
    if (c === 63) return this.#emit(Tok.placeholder, i + 1);
    if (isDigit(c) || (c === 46 && isDigit(c2))) return this.#emit(Tok.number, scanNumber(s, i));
    if (isIdentStart(c)) {
      let end = i + 1;
      while (end < n && isIdentPart(s.charCodeAt(end))) end++;
      const q = this.#prefixedString(i, end);
      if (q > 0) return this.#emit(Tok.string, q);
      return this.#emit(Tok.word, end);
    }
    return this.#emit(Tok.punct, i + 1);
  }

  #emit(kind: TokKind, end: number): TokKind {
    this.end = this.#pos = end;
    return (this.kind = kind);
  }

  #blockComment(i: number): TokKind {
    const s = this.#s;
    const n = this.#n;
    if (this.#mysql) {
      const third = s.charCodeAt(i + 2);
      const mariaOnly = third === 77 /* M */ && s.charCodeAt(i + 3) === 33;
      if (third === 33 || mariaOnly) {
        let j = i + (mariaOnly ? 4 : 3);
        const digitsAt = j;
        while (j < n && j - digitsAt < 6 && isDigit(s.charCodeAt(j))) j++;
        let digits = j - digitsAt;
        // A 6th digit counts only when whitespace follows (MySQL 8.4); otherwise the version has 5. Fewer than 5
        // digits are no version: they are code.
        if (digits === 6 && !(j >= n || isSpace(s.charCodeAt(j)))) {
          j--;
          digits = 5;
        }
        if (digits < 5) {
          j = digitsAt;
          digits = 0;
        }
        const version = digits > 0 ? Number(s.slice(digitsAt, j)) : 0;
        const runs = (!mariaOnly || this.#mariadb) && version <= this.#version;
        if (runs && !this.#inCode) {
          this.#inCode = true;
          return this.#emit(Tok.codeOpen, j);
        }
        // Skipped (version too high, MariaDB-only) or nested: a plain comment.
        const close = s.indexOf('*/', j);
        this.contentStart = j;
        this.contentEnd = close < 0 ? n : close;
        return this.#emit(Tok.comment, close < 0 ? n : close + 2);
      }
      const close = s.indexOf('*/', i + 2);
      this.contentStart = i + 2;
      this.contentEnd = close < 0 ? n : close;
      return this.#emit(Tok.comment, close < 0 ? n : close + 2);
    }
    const nested = this.#pg || this.#sqlserver;
    let depth = 1;
    let j = i + 2;
    while (j < n) {
      const ch = s.charCodeAt(j);
      if (ch === 42 && s.charCodeAt(j + 1) === 47) {
        depth--;
        j += 2;
        if (depth === 0) {
          this.contentStart = i + 2;
          this.contentEnd = j - 2;
          return this.#emit(Tok.comment, j);
        }
        continue;
      }
      if (nested && ch === 47 && s.charCodeAt(j + 1) === 42) {
        depth++;
        j += 2;
        continue;
      }
      j++;
    }
    this.contentStart = i + 2;
    this.contentEnd = n;
    return this.#emit(Tok.comment, n);
  }

  /** For a word [i, end) that prefixes a string (E'…', N'…', _utf8'…', U&'…', q'[…]'): the string's end; else 0. */
  #prefixedString(i: number, end: number): number {
    const s = this.#s;
    const next = s.charCodeAt(end);
    const len = end - i;
    if (next === 39) {
      const w0 = s.charCodeAt(i) | 0x20; // lower case
      if (len === 1 && (w0 === 101 /* e */ || w0 === 110 /* n */ || w0 === 98 /* b */ || w0 === 120 /* x */)) {
        return scanQuoted(s, end, 39, this.#mysql || w0 === 101);
      }
      if (this.#mysql && s.charCodeAt(i) === 95) return scanQuoted(s, end, 39, true); // _utf8mb4'…'
      if (this.#oracle && ((len === 1 && w0 === 113) || (len === 2 && w0 === 110 && (s.charCodeAt(i + 1) | 0x20) === 113))) {
        return scanOracleQ(s, end);
      }
      return 0;
    }
    if (next === 38 /* & */ && s.charCodeAt(end + 1) === 39 && len === 1 && (s.charCodeAt(i) | 0x20) === 117 /* u */) {
      return scanQuoted(s, end + 1, 39, false);
    }
    return 0;
  }
}

function isSpace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13) || c === 0xa0 || c === 0xfeff;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function isIdentStart(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || (c > 0x7f && c !== 0xa0 && c !== 0xfeff);
}

function isIdentPart(c: number): boolean {
  return isIdentStart(c) || isDigit(c) || c === 36;
}

/** The index just past the closing quote (doubled quotes and, when `backslash`, `\x` escapes inside). */
function scanQuoted(s: string, start: number, quote: number, backslash: boolean): number {
  const n = s.length;
  let i = start + 1;
  while (i < n) {
    const c = s.charCodeAt(i);
    if (backslash && c === 92) {
      i += 2;
      continue;
    }
    if (c === quote) {
      if (s.charCodeAt(i + 1) === quote) {
        i += 2;
        continue;
      }
      return i + 1;
    }
    i++;
  }
  return n;
}

const Q_CLOSERS: Record<number, number> = { 91: 93, 123: 125, 60: 62, 40: 41 };

/** Oracle q'X…X' with the quote at `quoteAt`: brackets close with their pair, any other delimiter with itself. */
function scanOracleQ(s: string, quoteAt: number): number {
  const open = s.charCodeAt(quoteAt + 1);
  if (Number.isNaN(open)) return s.length;
  const close = Q_CLOSERS[open] ?? open;
  for (let i = quoteAt + 2; i < s.length; i++) {
    if (s.charCodeAt(i) === close && s.charCodeAt(i + 1) === 39) return i + 2;
  }
  return s.length;
}

/** For `$$` or `$tag$` at `i`: the index after the opening tag; 0 when it is not a dollar quote (e.g. `$1`). */
function dollarTagEnd(s: string, i: number): number {
  const n = s.length;
  let j = i + 1;
  if (j < n && s.charCodeAt(j) === 36) return j + 1;
  if (j >= n || !isIdentStart(s.charCodeAt(j))) return 0;
  while (j < n && s.charCodeAt(j) !== 36) {
    const c = s.charCodeAt(j);
    if (!isIdentStart(c) && !isDigit(c)) return 0;
    j++;
  }
  return j < n ? j + 1 : 0;
}

function scanNumber(s: string, start: number): number {
  const n = s.length;
  let i = start;
  const c2 = s.charCodeAt(i + 1);
  if (s.charCodeAt(i) === 48 && (c2 === 120 || c2 === 88 || c2 === 98 || c2 === 66 || c2 === 111 || c2 === 79)) {
    i += 2;
    while (i < n && isHexOrUnderscore(s.charCodeAt(i))) i++;
    return i;
  }
  while (i < n && (isDigit(s.charCodeAt(i)) || s.charCodeAt(i) === 95)) i++;
  if (s.charCodeAt(i) === 46) {
    i++;
    while (i < n && (isDigit(s.charCodeAt(i)) || s.charCodeAt(i) === 95)) i++;
  }
  const e = s.charCodeAt(i);
  if (e === 101 || e === 69) {
    let j = i + 1;
    const sign = s.charCodeAt(j);
    if (sign === 43 || sign === 45) j++;
    if (isDigit(s.charCodeAt(j))) {
      i = j;
      while (i < n && isDigit(s.charCodeAt(i))) i++;
    }
  }
  // 123abc is an identifier on MySQL (and a syntax error elsewhere): the whole word is one token either way.
  while (i < n && isIdentPart(s.charCodeAt(i))) i++;
  return i;
}

function isHexOrUnderscore(c: number): boolean {
  return isDigit(c) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102) || c === 95;
}
