/**
 * Splits a stream of text into top-level JSON values without parsing them, so that a multi-line document
 * (pretty-printed `aws kinesis get-records` output, a JSON array of DAS records, several documents one after
 * another) is read one value at a time. A top-level array is split into its elements, so a large array of
 * records never has to be held at once. Memory is bounded by the largest single value, and no value over
 * MAX_INPUT_VALUE_CHARS is held: it is scanned to its end without being kept, and reported as `tooLarge`.
 */
import { MAX_INPUT_VALUE_CHARS } from '../limits.js';

/** How much of a bad value's text is kept for the report (a junk line, a value too large). */
const HEAD_CHARS = 10_000;

export interface ScannedValue {
  /** The value's JSON text, or the offending text when `error` is set. */
  text: string;
  /** 1-based line where the value starts. */
  line: number;
  /** Index inside a top-level array, when the value is an array element. */
  index?: number;
  /** Set when the text is not JSON (the rest of that line was skipped) or the value is too large. */
  error?: string;
  /** The value is over MAX_INPUT_VALUE_CHARS: `text` holds its first characters only. */
  tooLarge?: boolean;
}

const enum Mode {
  /** Between top-level values. */
  Top,
  /** Inside the top-level array, between elements. */
  ArrayTop,
  /** Inside a value. */
  Value,
  /** Skipping the rest of a line after junk. */
  Junk,
}

export class JsonValueScanner {
  private mode: Mode = Mode.Top;
  private buf = '';
  private depth = 0;
  private inString = false;
  private escaped = false;
  private line = 1;
  private startLine = 1;
  private inArray = false;
  private arrayIndex = 0;
  private scalar = false;
  /** The current value is over MAX_INPUT_VALUE_CHARS: no longer buffered, `head` holds its start. */
  private tooLarge = false;
  private head = '';

  /** Feeds a chunk; returns the values completed by it. */
  push(chunk: string): ScannedValue[] {
    const out: ScannedValue[] = [];
    let start = -1; // start of the current value inside `chunk`, -1 when it began in an earlier chunk
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk.charCodeAt(i);
      switch (this.mode) {
        case Mode.Top:
        case Mode.ArrayTop: {
          if (c === 10) {
            this.line++;
            continue;
          }
          if (c === 32 || c === 9 || c === 13) continue;
          if (this.mode === Mode.ArrayTop) {
            if (c === 44 /* , */) continue;
            if (c === 93 /* ] */) {
              this.mode = Mode.Top;
              this.inArray = false;
              continue;
            }
          } else if (c === 91 /* [ */ && !this.inArray) {
            this.inArray = true;
            this.arrayIndex = 0;
            this.mode = Mode.ArrayTop;
            continue;
          }
          if (c === 123 /* { */ || c === 91 /* [ */ || c === 34 /* " */ || isScalarStart(c)) {
            this.mode = Mode.Value;
            this.startLine = this.line;
            this.depth = c === 123 || c === 91 ? 1 : 0;
            this.inString = c === 34;
            this.escaped = false;
            this.scalar = isScalarStart(c);
            this.tooLarge = false;
            this.buf = '';
            start = i;
            continue;
          }
          this.mode = Mode.Junk;
          this.startLine = this.line;
          this.buf = '';
          start = i;
          continue;
        }
        case Mode.Junk: {
          if (c === 10) {
            const text = this.buf + chunk.slice(start < 0 ? 0 : start, i);
            out.push({ text: text.slice(0, HEAD_CHARS).trim(), line: this.startLine, error: 'not JSON' });
            this.buf = '';
            start = -1;
            this.line++;
            this.mode = this.inArray ? Mode.ArrayTop : Mode.Top;
          }
          continue;
        }
        case Mode.Value: {
          if (this.scalar) {
            // numbers, true, false, null end at a delimiter
            if (c === 44 || c === 93 || c === 125 || c === 10 || c === 32 || c === 9 || c === 13) {
              out.push(this.finish(chunk, start, i));
              start = -1;
              i--; // re-read the delimiter in Top/ArrayTop mode
            }
            continue;
          }
          if (c === 10) {
            this.line++;
            if (this.inString) {
              // JSON strings cannot hold a raw newline: this value is broken. Report it and resume on the next line.
              const text = this.tooLarge ? this.head : this.buf + chunk.slice(start < 0 ? 0 : start, i);
              out.push({ text: text.slice(0, 200), line: this.startLine, error: 'not JSON: a string runs past the end of its line' });
              this.buf = '';
              start = -1;
              this.mode = this.inArray ? Mode.ArrayTop : Mode.Top;
              continue;
            }
          }
          if (this.inString) {
            if (this.escaped) this.escaped = false;
            else if (c === 92 /* \ */) this.escaped = true;
            else if (c === 34) {
              this.inString = false;
              if (this.depth === 0) {
                out.push(this.finish(chunk, start, i + 1));
                start = -1;
              }
            }
            continue;
          }
          if (c === 34) this.inString = true;
          else if (c === 123 || c === 91) this.depth++;
          else if (c === 125 || c === 93) {
            this.depth--;
            if (this.depth === 0) {
              out.push(this.finish(chunk, start, i + 1));
              start = -1;
            }
          }
          continue;
        }
      }
    }
    if (this.mode === Mode.Value) this.hold(chunk, start < 0 ? 0 : start, chunk.length);
    else if (this.mode === Mode.Junk && this.buf.length < HEAD_CHARS) this.buf += chunk.slice(start < 0 ? 0 : start, (start < 0 ? 0 : start) + HEAD_CHARS);
    return out;
  }

  /**
   * Where the text fed so far ends: between top-level values, between the elements of a top-level array, or inside
   * a value (or a junk line).
   */
  get state(): 'top' | 'array' | 'value' {
    return this.mode === Mode.Top ? 'top' : this.mode === Mode.ArrayTop ? 'array' : 'value';
  }

  /** Call at the end of input: returns a trailing value (or an error for a truncated one). */
  end(): ScannedValue[] {
    if (this.mode === Mode.Value) {
      this.mode = Mode.Top;
      if (this.tooLarge) return [this.tooLargeValue()];
      if (this.scalar) return [this.value(this.buf)];
      return [{ text: this.buf.slice(0, 200), line: this.startLine, error: 'truncated JSON: the input ended inside a value' }];
    }
    if (this.mode === Mode.Junk) {
      this.mode = Mode.Top;
      return [{ text: this.buf.trim(), line: this.startLine, error: 'not JSON' }];
    }
    if (this.inArray) {
      this.inArray = false;
      return [{ text: '', line: this.line, error: 'truncated JSON: the input ended inside a top-level array' }];
    }
    return [];
  }

  private finish(chunk: string, start: number, endExclusive: number): ScannedValue {
    const from = start < 0 ? 0 : start;
    this.mode = this.inArray ? Mode.ArrayTop : Mode.Top;
    this.hold(chunk, from, endExclusive);
    if (this.tooLarge) return this.tooLargeValue();
    const text = this.buf;
    this.buf = '';
    return this.value(text);
  }

  /** Keeps chunk[from, to) as part of the current value, unless that makes it too large: then keeps only its head. */
  private hold(chunk: string, from: number, to: number): void {
    if (this.tooLarge) return;
    // The start of the value's first piece, for the report should it grow too large (slicing the whole buffer
    // later would copy it once more).
    if (this.buf.length === 0) this.head = chunk.slice(from, Math.min(to, from + HEAD_CHARS));
    if (this.buf.length + (to - from) <= MAX_INPUT_VALUE_CHARS) {
      this.buf += chunk.slice(from, to);
      return;
    }
    this.tooLarge = true;
    this.buf = '';
  }

  private tooLargeValue(): ScannedValue {
    const v = this.value(this.head);
    this.head = '';
    this.tooLarge = false;
    v.error = `value longer than ${MAX_INPUT_VALUE_CHARS.toLocaleString('en-US')} characters (the limit): skipped`;
    v.tooLarge = true;
    return v;
  }

  private value(text: string): ScannedValue {
    const v: ScannedValue = { text, line: this.startLine };
    if (this.inArray) v.index = this.arrayIndex++;
    return v;
  }
}

function isScalarStart(c: number): boolean {
  // - 0-9 t f n
  return c === 45 || (c >= 48 && c <= 57) || c === 116 || c === 102 || c === 110;
}
