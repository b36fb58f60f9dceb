/**
 * What rules can know about a statement's text, read through the one lexer (src/sql/lexer.ts) so that comments,
 * literals and MySQL executable comments are seen as the server sees them:
 * - `leadingCommand`: the leading keywords ("SELECT", "GRANT", "CREATE TABLE", "DROP USER") after leading comments,
 *   whitespace and parentheses, skipping OR REPLACE / TEMPORARY / ALGORITHM=… / DEFINER=… / SQL SECURITY …,
 *   and for `WITH … AS (…)` the statement that follows the common table expressions;
 * - `hasWhere`: whether the first statement has a WHERE clause of its own (at parenthesis depth 0, so not one in a
 *   subquery or a CTE) that tests something: `WHERE 1=1`, `WHERE true` and other constant conditions do not count;
 * - `comments`: how many comments the text holds (`--`, `#`, block comments, optimizer hints, skipped executable
 *   comments; executable comments MySQL runs are code, not comments).
 */
import type { DbEngine } from '../types.js';
import { SqlLexer, Tok, type LexerOptions } from './lexer.js';

interface Token {
  /** 'w' word, 'q' quoted identifier or string, 'p' punctuation, 'n' number or placeholder. */
  k: 'w' | 'q' | 'p' | 'n';
  /** Word upper-cased; the punctuation character; the token text otherwise. */
  v: string;
}

/** Code tokens only (comments and executable-comment delimiters skipped), as small objects, read lazily. */
class CodeTokens {
  readonly #lx: SqlLexer;
  #peeked: Token | null | undefined;

  constructor(text: string, engine: DbEngine, opts: LexerOptions) {
    this.#lx = new SqlLexer(text, engine, opts);
  }

  peek(): Token | null {
    if (this.#peeked === undefined) this.#peeked = this.#read();
    return this.#peeked;
  }

  next(): Token | null {
    const t = this.peek();
    this.#peeked = undefined;
    return t;
  }

  #read(): Token | null {
    const lx = this.#lx;
    for (;;) {
      const kind = lx.next();
      switch (kind) {
        case Tok.end:
          return null;
        case Tok.comment:
        case Tok.codeOpen:
        case Tok.codeClose:
          continue;
        case Tok.word:
          return { k: 'w', v: lx.upper() };
        case Tok.punct:
          return { k: 'p', v: lx.text[lx.start] as string };
        case Tok.number:
        case Tok.placeholder:
          return { k: 'n', v: lx.text.slice(lx.start, lx.end) };
        default:
          return { k: 'q', v: lx.text.slice(lx.start, lx.end) };
      }
    }
  }
}

/** CREATE/ALTER/DROP modifiers that come before the object kind. */
const DDL_MODIFIERS = new Set(['TEMPORARY', 'UNIQUE', 'FULLTEXT', 'SPATIAL', 'ONLINE', 'OFFLINE', 'IGNORE', 'AGGREGATE', 'UNDO', 'EXTERNAL']);

/** Object kinds written with two words. */
const TWO_WORD_KINDS: Record<string, string> = { LOGFILE: 'GROUP', RESOURCE: 'GROUP' };

const PAIRS: Record<string, string[]> = {
  START: ['TRANSACTION'],
  SET: ['PASSWORD', 'ROLE', 'TRANSACTION'],
  LOAD: ['DATA', 'XML'],
  LOCK: ['TABLES', 'TABLE', 'INSTANCE'],
  UNLOCK: ['TABLES', 'TABLE', 'INSTANCE'],
};

/** The leading keywords of a statement, upper case; null when the text has no leading keyword. */
export function leadingCommand(sql: string, engine: DbEngine, opts: LexerOptions = {}): string | null {
  const t = new CodeTokens(sql, engine, opts);
  let tok = t.next();
  while (tok !== null && tok.k === 'p' && tok.v === '(') tok = t.next();
  if (tok === null || tok.k !== 'w' || !/^[A-Z_]/.test(tok.v)) return null;
  const first = tok.v;
  switch (first) {
    case 'CREATE':
    case 'ALTER':
    case 'DROP':
      return ddl(first, t);
    case 'RENAME': {
      const kind = t.peek();
      return kind !== null && kind.k === 'w' ? `RENAME ${kind.v}` : first;
    }
    case 'TRUNCATE':
      return 'TRUNCATE TABLE';
    case 'START':
    case 'SET':
    case 'LOAD':
    case 'LOCK':
    case 'UNLOCK': {
      const second = t.peek();
      if (second !== null && second.k === 'w' && PAIRS[first]?.includes(second.v)) return `${first} ${second.v}`;
      return first;
    }
    case 'WITH':
      return afterCte(t) ?? first;
    default:
      return first;
  }
}

function ddl(verb: string, t: CodeTokens): string {
  for (let guard = 0; guard < 64; guard++) {
    const tok = t.next();
    if (tok === null || tok.k !== 'w') return verb;
    const w = tok.v;
    if (w === 'OR') {
      t.next(); // REPLACE
      continue;
    }
    if (DDL_MODIFIERS.has(w)) continue;
    if (w === 'ALGORITHM' || w === 'DEFINER') {
      skipAssignment(t, w === 'DEFINER');
      continue;
    }
    if (w === 'SQL') {
      const sec = t.peek();
      if (sec !== null && sec.v === 'SECURITY') {
        t.next();
        t.next(); // DEFINER | INVOKER
        continue;
      }
      return `${verb} ${w}`;
    }
    const second = TWO_WORD_KINDS[w];
    if (second !== undefined) {
      const next = t.peek();
      if (next !== null && next.v === second) return `${verb} ${w} ${second}`;
    }
    return `${verb} ${w}`;
  }
  return verb;
}

/** Skips `= value` (and, for DEFINER, `= user@host` / `CURRENT_USER()`). */
function skipAssignment(t: CodeTokens, isDefiner: boolean): void {
  const eq = t.peek();
  if (eq !== null && eq.k === 'p' && eq.v === '=') t.next();
  const value = t.next();
  if (!isDefiner || value === null) return;
  if (value.k === 'w' && value.v === 'CURRENT_USER') {
    const open = t.peek();
    if (open !== null && open.v === '(') {
      t.next();
      t.next(); // ')'
    }
    return;
  }
  for (;;) {
    const at = t.peek();
    // 'user'@'host' reads as q p('@') q; an unquoted user@host as w p('@') w.
    if (at === null || at.k !== 'p' || at.v !== '@') return;
    t.next();
    t.next();
  }
}

const CTE_BODIES = new Set(['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'REPLACE', 'TABLE', 'VALUES', 'MERGE']);

/** After `WITH [RECURSIVE] name [(cols)] AS (...) [, ...]`: the statement keyword at parenthesis depth 0. */
function afterCte(t: CodeTokens): string | null {
  let depth = 0;
  let sawBody = false;
  for (;;) {
    const tok = t.next();
    if (tok === null) return null;
    if (tok.k === 'p') {
      if (tok.v === '(') depth++;
      else if (tok.v === ')') {
        depth--;
        if (depth === 0) sawBody = true;
      }
      continue;
    }
    if (depth === 0 && sawBody && tok.k === 'w' && CTE_BODIES.has(tok.v)) return tok.v;
  }
}

/** Words a constant condition may hold (`WHERE NOT FALSE`, `WHERE 1 IS NOT NULL`). */
const CONSTANT_WORDS = new Set(['TRUE', 'FALSE', 'NOT', 'AND', 'OR', 'XOR', 'IS', 'NULL', 'UNKNOWN', 'LIKE', 'IN', 'BETWEEN']);
/** Words that end a WHERE clause at depth 0. */
const AFTER_WHERE = new Set(['ORDER', 'LIMIT', 'RETURNING', 'GROUP', 'HAVING', 'WINDOW', 'FOR', 'OFFSET', 'FETCH']);

export interface StatementShape {
  /** The first statement has a WHERE clause that tests something. */
  hasWhere: boolean;
  /** Comments in the whole text. */
  comments: number;
}

/**
 * One pass over the text: see the module comment. With `countComments: false` the pass stops as soon as the WHERE
 * question is answered (`comments` is then 0): this runs for every DELETE and UPDATE.
 */
export function statementShape(sql: string, engine: DbEngine, opts: LexerOptions = {}, countComments = true): StatementShape {
  const lx = new SqlLexer(sql, engine, opts);
  let comments = 0;
  let depth = 0;
  /** 0 before WHERE; 1 inside a WHERE clause so far constant; 2 a WHERE that tests something was seen; 3 first statement over. */
  let where = 0;
  let hasWhere = false;
  for (let kind = lx.next(); kind !== Tok.end; kind = lx.next()) {
    if (kind === Tok.comment) {
      comments++;
      continue;
    }
    if (where >= 2) {
      if (!countComments) break;
      continue;
    }
    if (kind === Tok.codeOpen || kind === Tok.codeClose) continue;
    if (kind === Tok.punct) {
      const c = sql.charCodeAt(lx.start);
      if (c === 40) depth++;
      else if (c === 41) depth = Math.max(0, depth - 1);
      else if (c === 59 && depth === 0) where = 3; // end of the first statement
      continue;
    }
    if (where === 0) {
      if (depth === 0 && lx.isWord('WHERE')) where = 1;
      continue;
    }
    // Inside the WHERE clause: anything but constants makes it a real condition.
    if (kind === Tok.word) {
      const w = lx.upper();
      if (depth === 0 && AFTER_WHERE.has(w)) {
        where = 3;
        continue;
      }
      if (CONSTANT_WORDS.has(w)) continue;
      hasWhere = true;
      where = 2;
    } else if (kind === Tok.quotedIdent || kind === Tok.placeholder) {
      hasWhere = true;
      where = 2;
    }
  }
  return { hasWhere, comments };
}
