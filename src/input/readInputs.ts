/**
 * Reads records from files, directories and stdin, streaming, in every form a user is likely to have:
 * - JSON Lines of Kinesis records: `{"Data": base64, "SequenceNumber", "PartitionKey", "ApproximateArrivalTimestamp",
 *   "ShardId"?, "StreamName"?}` one per line (what `dasguard` captures, and what most dump scripts write);
 * - the JSON that `aws kinesis get-records` prints (`{"Records": [...], "NextShardIterator": ...}`), one or more;
 * - a Lambda Kinesis event (`{"Records": [{"kinesis": {"data": ...}, "eventSourceARN": ...}]}`);
 * - plaintext DAS JSON: an envelope, a bare `DatabaseActivityMonitoringRecord`, or a list of them;
 * - any of these gzip-compressed, a directory of such files, or `-` for stdin.
 * JSON Lines input is read line by line; other input one top-level value (or array element) at a time, so a
 * large dump replays in bounded memory; a line or value over MAX_INPUT_VALUE_CHARS is skipped without being held,
 * one nested deeper than MAX_JSON_DEPTH is refused whole, and Kinesis data over MAX_RECORD_BYTES is refused before
 * it is decoded (src/limits.ts). What cannot be read becomes a `bad` item with its position: the caller quarantines
 * it and goes on. This file finds the files, decompresses, splits lines and values and tells the formats apart; each
 * format's record becomes a SourceRecord in src/sources/ (the mappers shared with the consumer and the Lambda).
 */
import { createReadStream } from 'node:fs';
import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createGunzip } from 'node:zlib';
import { Readable } from 'node:stream';
import type { RecordPosition } from '../types.js';
import { PoisonReason, UsageError } from '../errors.js';
import { JsonValueScanner, type ScannedValue } from './jsonScanner.js';
import { LineSplitter, type Line } from './LineSplitter.js';
import { resourceIdFromStreamName } from '../sources/streamName.js';
import { fromKinesisJson } from '../sources/kinesisJson.js';
import { lambdaRecordItem } from '../sources/lambdaEvent.js';
import { fromPlaintextDas, isPlaintextDas } from '../sources/plaintextDas.js';
import { RAW_HEAD, badItem as bad, type ResourceIdHints, type SourceItem } from '../sources/types.js';
import { describeJsonError } from '../util/jsonError.js';
import { fsErrorCode, fsErrorText } from '../util/fsErrors.js';
import { ENVELOPE_LEVELS, MAX_INPUT_VALUE_CHARS, MAX_JSON_DEPTH, nestsDeeperThan } from '../limits.js';

/** A record, or an input that could not become one (quarantined by the driver). */
export type InputItem = SourceItem;

export interface ReadOptions {
  /** Overrides any resource id found in the input. */
  resourceId?: string;
  /** Used instead of process.stdin for `-` (tests). */
  stdin?: NodeJS.ReadableStream;
}

const INPUT_FILE = /\.(jsonl|ndjson|json|txt)(\.gz)?$/i;

/** Expands the paths (directories recursively, sorted) and fails early, listing every path that is missing. */
export async function expandInputPaths(paths: string[]): Promise<string[]> {
  const files: string[] = [];
  const missing: string[] = [];
  for (const p of paths) {
    if (p === '-') {
      files.push(p);
      continue;
    }
    let st;
    try {
      st = await stat(p);
    } catch {
      missing.push(p);
      continue;
    }
    if (st.isDirectory()) {
      const found = await listDir(p);
      if (found.length === 0) missing.push(`${p} (a directory with no .jsonl/.ndjson/.json[.gz] files)`);
      files.push(...found);
    } else files.push(p);
  }
  if (missing.length > 0) throw new UsageError(`input not found: ${missing.join(', ')}`);
  return files;
}

async function listDir(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const out: string[] = [];
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const full = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await listDir(full)));
    else if (e.isFile() && INPUT_FILE.test(e.name)) out.push(full);
  }
  return out;
}

/**
 * The bytes the files (expandInputPaths') hold once decompressed, or undefined when that is not known before reading
 * (stdin, a pipe): what `--workers auto` judges an input by (src/commands/common.ts openPool).
 */
export async function inputBytes(files: readonly string[]): Promise<number | undefined> {
  let total = 0;
  for (const file of files) {
    const size = file === '-' ? undefined : await decompressedSize(file);
    if (size === undefined) return undefined;
    total += size;
  }
  return total;
}

/**
 * A regular file's size, or for a gzip file (by its magic bytes, as readOne tells) the size its trailer gives the
 * content (ISIZE: the last member's, modulo 2^32) when larger: an estimate to size the work by, never relied on.
 * Undefined for what is not a regular file (a pipe, `<(...)`: probing it would take its bytes) and for a file that
 * cannot be stat'ed or opened (gone since it was found, not readable): reading it then stops with `cannot read FILE:
 * why` (readOne, exit 2), not an internal error here.
 */
async function decompressedSize(file: string): Promise<number | undefined> {
  const st = await stat(file).catch(() => undefined);
  if (st === undefined || !st.isFile()) return undefined;
  if (st.size < 18) return st.size; // smaller than a gzip header and trailer
  const fh = await open(file, 'r').catch(() => undefined);
  if (fh === undefined) return undefined;
  try {
    const head = Buffer.alloc(4);
    await fh.read(head, 0, 2, 0);
    if (head[0] !== 0x1f || head[1] !== 0x8b) return st.size;
    await fh.read(head, 0, 4, st.size - 4);
    return Math.max(st.size, head.readUInt32LE(0));
  } finally {
    await fh.close();
  }
}

/** Yields every record of every input, in order. */
export async function* readInputs(paths: string[], opts: ReadOptions = {}): AsyncGenerator<InputItem> {
  yield* readFiles(await expandInputPaths(paths), opts);
}

/** Yields every record of files already expanded (expandInputPaths), in order. */
export async function* readFiles(files: readonly string[], opts: ReadOptions = {}): AsyncGenerator<InputItem> {
  for (const file of files) yield* readOne(file, opts);
}

async function* readOne(file: string, opts: ReadOptions): AsyncGenerator<InputItem> {
  const source = file === '-' ? 'stdin' : file;
  const raw: NodeJS.ReadableStream = file === '-' ? (opts.stdin ?? process.stdin) : createReadStream(file);
  const fileResourceId = file === '-' ? undefined : resourceIdFromStreamName(file);
  const ctx: ItemContext = { source, hints: { override: opts.resourceId, fallback: fileResourceId } };
  const damage: { error?: unknown } = {};
  const text = readable(await decompressIfGzip(raw).catch((err: unknown) => Promise.reject(unreadableInput(source, err))), source, damage);

  let mode: 'unknown' | 'lines' | 'document' = 'unknown';
  let scanner: JsonValueScanner | undefined;
  const lines = new LineSplitter(MAX_INPUT_VALUE_CHARS, RAW_HEAD);
  let lineNo = 0;
  /** The first non-empty line while the next one decides the mode (firstLineMode: 'ask-next'). */
  let held: { text: string; lineNo: number } | undefined;

  for await (const chunk of text) {
    if (mode === 'document') {
      yield* itemsFromScanned(scanner!.push(chunk), ctx);
      continue;
    }
    lines.push(chunk);
    let line: Line | undefined;
    while ((line = lines.next()) !== undefined) {
      lineNo++;
      if (mode === 'unknown' && (typeof line !== 'string' || line.trim() !== '')) {
        // JSON Lines, unless the first non-empty line is not JSON and opens a multi-line document (firstLineMode).
        const decided = typeof line !== 'string' ? 'lines' : held ? nextLineMode(line) : firstLineMode(line);
        if (decided === 'ask-next') {
          held = { text: line as string, lineNo };
          continue;
        }
        if (decided === 'document') {
          mode = 'document';
          scanner = new JsonValueScanner();
          // Feed the scanner everything from the start of the input, blank lines included (its line numbers).
          yield* itemsFromScanned(scanner.push(documentHead(held, line as string, lineNo) + lines.rest()), ctx);
          held = undefined;
          break;
        }
        mode = 'lines';
        if (held) yield* itemsFromText(held.text, { source: ctx.source, line: held.lineNo }, ctx);
        held = undefined;
      }
      if (typeof line !== 'string') {
        yield lineTooLong(lineNo, line.tooLong, ctx);
        continue;
      }
      yield* itemsFromText(line, { source: ctx.source, line: lineNo }, ctx);
    }
  }
  yield* finish();
  if (damage.error !== undefined) {
    // The records before the damage were read; nothing after it can be.
    yield bad({ source, line: lineNo + 1 }, PoisonReason.notGzip, `the gzip input is damaged or cut short after line ${lineNo} (${(damage.error as Error).message}): nothing after it could be read`);
  }

  function* finish(): Generator<InputItem> {
    if (mode === 'document') {
      yield* itemsFromScanned(scanner!.end(), ctx);
      return;
    }
    const last = lines.end();
    if (last !== undefined) lineNo++;
    if (mode === 'unknown' && typeof last === 'string' && last.trim() !== '') {
      // The last line is the first or the second non-empty one. Without a line after it, 'ask-next' is JSON Lines.
      if ((held ? nextLineMode(last) : firstLineMode(last)) === 'document') {
        const sc = new JsonValueScanner();
        yield* itemsFromScanned([...sc.push(documentHead(held, last, lineNo).slice(0, -1)), ...sc.end()], ctx);
        return;
      }
    }
    // JSON Lines: the held first line (if any), then the last line.
    if (held) yield* itemsFromText(held.text, { source: ctx.source, line: held.lineNo }, ctx);
    if (last === undefined) return;
    if (typeof last !== 'string') yield lineTooLong(lineNo, last.tooLong, ctx);
    else yield* itemsFromText(last, { source: ctx.source, line: lineNo }, ctx);
  }
}

/**
 * What the first non-empty line says about an input: JSON Lines, or one or more multi-line JSON documents (the
 * scanner's mode). A line that is JSON by itself is JSON Lines. Otherwise, as a JsonValueScanner reads the line:
 * - junk or a broken string in it, or one complete value that is not JSON: a bad line of JSON Lines ('lines'), which
 *   is quarantined alone and once, and the lines after it are read as usual;
 * - several values, or a top-level array still open after complete elements: a document ('document');
 * - a value still open: a document when the line ends by opening an object or array (`{`, `[`, `"Records": [`, as
 *   pretty-printed JSON starts); otherwise it is either a JSON line cut short or a document that goes on
 *   (`{"Records": [{...},`), and the next non-empty line decides ('ask-next', nextLineMode).
 */
function firstLineMode(line: string): 'lines' | 'document' | 'ask-next' {
  if (parsesAsJson(line)) return 'lines';
  const probe = new JsonValueScanner();
  const values = probe.push(line + '\n');
  if (values.some((v) => v.error !== undefined)) return 'lines';
  if (probe.state === 'top') return values.length > 1 ? 'document' : 'lines';
  if (probe.state === 'array') return 'document';
  return /[[{]\s*$/.test(line) ? 'document' : 'ask-next';
}

/** After a first line that left a value open mid-way: JSON Lines when this line is JSON by itself, else a document. */
function nextLineMode(line: string): 'lines' | 'document' {
  return parsesAsJson(line) ? 'lines' : 'document';
}

/** The start of a document for the scanner: the held first line (if any) and `line`, at their line numbers. */
function documentHead(held: { text: string; lineNo: number } | undefined, line: string, lineNo: number): string {
  if (held === undefined) return '\n'.repeat(lineNo - 1) + line + '\n';
  return '\n'.repeat(held.lineNo - 1) + held.text + '\n'.repeat(lineNo - held.lineNo) + line + '\n';
}

/**
 * The text of an input, chunk by chunk. A gzip input that is damaged or cut short ends the text where it breaks (and
 * `damage` says why: the caller reports it after what could be read); a file that cannot be read is a UsageError
 * naming it (exit 2), never an internal error.
 */
async function* readable(stream: Readable, source: string, damage: { error?: unknown }): AsyncGenerator<string> {
  stream.setEncoding('utf8');
  try {
    for await (const chunk of stream as AsyncIterable<string>) yield chunk;
  } catch (err) {
    const code = fsErrorCode(err);
    if (code !== undefined && code.startsWith('Z_')) {
      damage.error = err;
      return;
    }
    throw unreadableInput(source, err);
  }
}

function unreadableInput(source: string, err: unknown): unknown {
  return fsErrorCode(err) === undefined ? err : new UsageError(`cannot read ${source}: ${fsErrorText(err)}`, { cause: err });
}

function lineTooLong(lineNo: number, head: string, ctx: ItemContext): InputItem {
  return bad(
    { source: ctx.source, line: lineNo },
    PoisonReason.valueTooLarge,
    `line ${lineNo} is longer than ${MAX_INPUT_VALUE_CHARS.toLocaleString('en-US')} characters (the limit): skipped`,
    head,
  );
}

function parsesAsJson(line: string): boolean {
  try {
    JSON.parse(line);
    return true;
  } catch {
    return false;
  }
}

interface ItemContext {
  source: string;
  /** The user's resource id, and the one in the file's name. */
  hints: ResourceIdHints;
}

/** One JSON text (a line, or a value the scanner split out) -> its items. Too deep: quarantined whole. */
function* itemsFromText(text: string, position: RecordPosition, ctx: ItemContext): Generator<InputItem> {
  if (text.trim() === '') return;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    yield bad(position, PoisonReason.notJson, `not JSON: ${describeJsonError(err)}`, text);
    return;
  }
  // Whole values only past what an envelope can hold: an event within the limit is judged by normalize, as in an
  // encrypted record (alone, its siblings kept).
  if (nestsDeeperThan(value, MAX_JSON_DEPTH + ENVELOPE_LEVELS)) {
    yield bad(position, PoisonReason.tooDeep, `JSON nested more than ${MAX_JSON_DEPTH + ENVELOPE_LEVELS} levels deep (the limit for an input value)`, text);
    return;
  }
  yield* itemsFromValue(value, position, ctx);
}

function* itemsFromScanned(values: ScannedValue[], ctx: ItemContext): Generator<InputItem> {
  for (const v of values) {
    const position: RecordPosition = { source: ctx.source, line: v.line };
    if (v.index !== undefined) position.index = v.index;
    if (v.error !== undefined) yield bad(position, v.tooLarge ? PoisonReason.valueTooLarge : PoisonReason.notJson, v.error, v.text);
    else yield* itemsFromText(v.text, position, ctx);
  }
}

function* itemsFromValue(value: unknown, position: RecordPosition, ctx: ItemContext): Generator<InputItem> {
  if (Array.isArray(value)) {
    // A JSON array on one line (JSON Lines mode): its elements are records.
    for (let i = 0; i < value.length; i++) yield* itemsFromValue(value[i], { ...position, index: i }, ctx);
    return;
  }
  if (value === null || typeof value !== 'object') {
    yield bad(position, PoisonReason.badEnvelope, `expected a JSON object, found ${value === null ? 'null' : typeof value}`);
    return;
  }
  const obj = value as Record<string, unknown>;
  if (Array.isArray(obj.Records)) {
    // `aws kinesis get-records` output, or a Lambda Kinesis event.
    const records = obj.Records as unknown[];
    for (let i = 0; i < records.length; i++) {
      const pos: RecordPosition = { ...position, index: i };
      const r = records[i];
      if (r !== null && typeof r === 'object' && 'kinesis' in r) yield lambdaRecordItem(r, ctx.hints, pos);
      else yield fromKinesisJson(r, pos, ctx.hints);
    }
    return;
  }
  if ('Data' in obj) {
    yield fromKinesisJson(obj, position, ctx.hints);
    return;
  }
  if ('kinesis' in obj) {
    yield lambdaRecordItem(obj, ctx.hints, position);
    return;
  }
  if (isPlaintextDas(obj)) {
    yield fromPlaintextDas(obj, position, ctx.hints);
    return;
  }
  yield bad(
    position,
    PoisonReason.badEnvelope,
    'not a DAS or Kinesis record: expected a Kinesis record ({"Data": ...}), get-records output ({"Records": [...]}), ' +
      'or a DAS record ({"type": "DatabaseActivityMonitoringRecords" | "DatabaseActivityMonitoringRecord", ...})',
  );
}

/** Peeks the first bytes; gzip input (magic 1f 8b) is decompressed on the fly. */
async function decompressIfGzip(stream: NodeJS.ReadableStream): Promise<Readable> {
  const it = (stream as AsyncIterable<Buffer | string>)[Symbol.asyncIterator]();
  const first = await it.next();
  if (first.done) return Readable.from([]);
  const head = typeof first.value === 'string' ? Buffer.from(first.value) : first.value;
  async function* rest(): AsyncGenerator<Buffer> {
    yield head;
    for (;;) {
      const n = await it.next();
      if (n.done) return;
      yield typeof n.value === 'string' ? Buffer.from(n.value) : n.value;
    }
  }
  const body = Readable.from(rest(), { objectMode: false });
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return body.pipe(createGunzip());
  return body;
}
