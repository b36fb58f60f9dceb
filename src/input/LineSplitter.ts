/**
 * Splits a stream of text into lines without ever holding more than `max` characters of one line. A longer line is
 * not kept: once its end is reached it comes out as `{ tooLong }` (its first `headChars` characters, for the
 * quarantine entry), and the next line is read as usual. Each character is searched for a newline once, however the
 * chunks fall, so one long line costs linear time too.
 */
export type Line = string | { tooLong: string };

export class LineSplitter {
  private chunk = '';
  private from = 0;
  /** The current line so far, in pieces, and its length. */
  private parts: string[] = [];
  private length = 0;
  /** Set while the current line is over `max`: its first characters. */
  private head: string | undefined;

  constructor(
    private readonly max: number,
    private readonly headChars: number,
  ) {}

  /** Feeds a chunk; call next() until it returns undefined before the next push. */
  push(chunk: string): void {
    this.chunk = chunk;
    this.from = 0;
  }

  /** The next complete line (without its `\n`), or undefined when the chunk is used up. */
  next(): Line | undefined {
    const nl = this.chunk.indexOf('\n', this.from);
    if (nl < 0) {
      this.keep(this.from === 0 ? this.chunk : this.chunk.slice(this.from));
      this.chunk = '';
      this.from = 0;
      return undefined;
    }
    this.keep(this.chunk.slice(this.from, nl));
    this.from = nl + 1;
    return this.take();
  }

  /** At the end of the input: the last line when it has no `\n`, or undefined. */
  end(): Line | undefined {
    if (this.head === undefined && this.length === 0) return undefined;
    return this.take();
  }

  /** What was fed and not returned yet (after a line: the rest of the chunk), to hand the input on to another reader. */
  rest(): string {
    const r = this.parts.join('') + this.chunk.slice(this.from);
    this.parts = [];
    this.length = 0;
    this.chunk = '';
    this.from = 0;
    return r;
  }

  private keep(piece: string): void {
    if (this.head !== undefined || piece.length === 0) return;
    if (this.length + piece.length > this.max) {
      // Only the first characters: joining the whole line would copy up to `max` characters once more.
      let head = '';
      for (const p of [...this.parts, piece]) {
        if (head.length >= this.headChars) break;
        head += p.slice(0, this.headChars - head.length);
      }
      this.head = head;
      this.parts = [];
      this.length = 0;
      return;
    }
    this.parts.push(piece);
    this.length += piece.length;
  }

  private take(): Line {
    if (this.head !== undefined) {
      const tooLong = this.head;
      this.head = undefined;
      return { tooLong };
    }
    const line = this.parts.length === 1 ? this.parts[0]! : this.parts.join('');
    this.parts = [];
    this.length = 0;
    return line;
  }
}
