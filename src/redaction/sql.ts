/**
 * Statement text with what a user typed masked, read through the one SQL lexer (src/sql/lexer.ts):
 * - every literal becomes `?`: strings in all their forms, dollar-quoted bodies, numbers (`-7` keeps its sign:
 *   `-?`), hex and bit literals;
 * - comment text becomes `?` (`-- ?`, `# ?`, `/* ? *\/`): comments are where people paste card numbers and
 *   passwords (`/* pan 4111… *\/`), and where an attacker hides a payload;
 * - the token after `IDENTIFIED … BY` / `IDENTIFIED … AS` and after Oracle's `REPLACE` in the same statement is
 *   masked whatever it is: Oracle passwords are identifiers (`IDENTIFIED BY hunter2`, `IDENTIFIED BY "Pw1"`);
 * - code inside MySQL executable comments (`/*!50000 … *\/`) is code: its literals are masked, its keywords kept.
 * Identifiers, keywords, operators and placeholders (`$1`, `?`) are kept; so are MySQL account names
 * (`'bob'@'%'`): they name who, they are not a secret. Linear in the text; never throws. Masking masked text
 * changes nothing, so a stricter pass over an alert is always safe.
 */
import { mysqlVersionOf, SqlLexer, Tok } from '../sql/lexer.js';
import type { DbEngine } from '../types.js';

export const MASK = '?';

export interface SqlMaskOptions {
  /** The event's serverVersion: decides which MySQL executable comments are code. */
  serverVersion?: unknown;
}

/** Statements at most this long are remembered masked (`maskSql`), at most MASKED_KEPT of them in all contexts. */
const MASKED_MAX_CHARS = 1024;
const MASKED_KEPT = 256;
/** Contexts (engine, server version) remembered at once; past that, every memory is dropped (a cluster has one or two). */
const CONTEXTS_KEPT = 16;
/** Recent statements, masked, per context (`contextKey`): text -> masked text, oldest first. */
const masked = new Map<string, Map<string, string>>();
/** Statements remembered in all contexts together: the bound is the one a single memo had (MASKED_KEPT texts). */
let remembered = 0;

/**
 * `text` masked. Applications send the same statements over and over with their values in bind parameters
 * (redacted apart, as paramList): a short statement is looked up among the last ones masked before it is lexed (a
 * pure function of the text, the engine and the server version, so the answer is the same). Looked up by the text
 * itself under its context, not by a key built of both: a lookup then hashes the text once, not a new string per call.
 */
export function maskSql(text: string, engine: DbEngine, opts: SqlMaskOptions = {}): string {
  if (text.length > MASKED_MAX_CHARS) return lexAndMask(text, engine, opts);
  const ck = contextKey(engine, opts.serverVersion);
  let memo = masked.get(ck);
  if (memo === undefined) {
    if (masked.size >= CONTEXTS_KEPT) {
      masked.clear();
      remembered = 0;
    }
    memo = new Map();
    masked.set(ck, memo);
  }
  const known = memo.get(text);
  if (known !== undefined) return known;
  const out = lexAndMask(text, engine, opts);
  if (remembered >= MASKED_KEPT) {
    // This context's oldest; when it holds none yet, the oldest of the first context that does.
    const from = memo.size > 0 ? memo : ([...masked.values()].find((m) => m.size > 0) as Map<string, string>);
    from.delete(from.keys().next().value as string);
    remembered--;
  }
  memo.set(text, out);
  remembered++;
  return out;
}

/** The last context's key (`contextKey`): consecutive statements mostly come from one server (no new string per statement). */
let lastContext: { engine: DbEngine; serverVersion: unknown; key: string } | undefined;

/** What the masking depends on besides the text, unambiguously: the engine, and the server version when it is a string. */
function contextKey(engine: DbEngine, serverVersion: unknown): string {
  const last = lastContext;
  if (last !== undefined && last.engine === engine && last.serverVersion === serverVersion) return last.key;
  const key = typeof serverVersion === 'string' ? `${engine}:${serverVersion}` : engine;
  lastContext = { engine, serverVersion, key };
  return key;
}

function lexAndMask(text: string, engine: DbEngine, opts: SqlMaskOptions): string {
  const version = mysqlVersionOf(opts.serverVersion);
  const lx = new SqlLexer(text, engine, {
    ...(version !== undefined ? { mysqlVersion: version } : {}),
    mariadb: typeof opts.serverVersion === 'string' && /mariadb/i.test(opts.serverVersion),
  });
  let out = '';
  let copied = 0;
  const replace = (start: number, end: number, by: string) => {
    out += text.slice(copied, start) + by;
    copied = end;
  };
  /** 0: nothing; 1: IDENTIFIED seen in this statement; 2: the next token is a password. */
  let password = 0;
  /** 1: an account name's '@' comes next; 2: its host comes next (both kept). */
  let account = 0;
  for (let kind = lx.next(); kind !== Tok.end; kind = lx.next()) {
    if (kind === Tok.comment) {
      const content = text.slice(lx.contentStart, lx.contentEnd).trim();
      if (content === '' || content === MASK) continue;
      const open = text.slice(lx.start, lx.contentStart);
      const close = text.slice(lx.contentEnd, lx.end);
      replace(lx.start, lx.end, close === '' ? `${open} ${MASK}` : `${open} ${MASK} ${close}`);
      continue;
    }
    if (kind === Tok.codeOpen || kind === Tok.codeClose) continue;
    if (account === 1) {
      account = 2; // the '@' (it follows the name directly)
      continue;
    }
    if (account === 2) {
      account = 0;
      if (kind === Tok.string || kind === Tok.word || kind === Tok.quotedIdent) continue;
    }
    if (password === 2) {
      password = 1;
      if (kind !== Tok.punct && kind !== Tok.placeholder) {
        replace(lx.start, lx.end, MASK);
        continue;
      }
    }
    if (kind === Tok.word) {
      if (lx.isWord('IDENTIFIED')) password = 1;
      else if (password === 1 && (lx.isWord('BY') || lx.isWord('AS') || lx.isWord('REPLACE'))) password = 2;
      continue;
    }
    if (kind === Tok.punct) {
      if (lx.isPunct(59 /* ; */)) password = 0;
      continue;
    }
    if (kind === Tok.string) {
      if (engine === 'mysql' && text.charCodeAt(lx.end) === 64 /* @ */) {
        account = 1; // 'user'@'host': an account name, kept
        continue;
      }
      replace(lx.start, lx.end, MASK);
      continue;
    }
    if (kind === Tok.number) replace(lx.start, lx.end, MASK);
    // quoted identifiers and placeholders are kept
  }
  return copied === 0 ? text : out + text.slice(copied);
}

/**
 * A copy of a bind-value list with every value masked: each non-null element of an array becomes `?` (null stays
 * null: it tells nothing); an object's values likewise; anything else (Oracle's SQL_BINDS string) becomes `?`.
 */
export function maskBinds(list: unknown): unknown {
  if (list === null || list === undefined) return list;
  if (Array.isArray(list)) return list.map((v) => (v === null ? null : MASK));
  if (typeof list === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(list)) out[k] = v === null ? null : MASK;
    return out;
  }
  return MASK;
}
