/** Alerts appended to a JSON Lines file (mode 0600), fsync'ed per batch; lines as inert as console JSON (jsonLine). */
import { open, type FileHandle } from 'node:fs/promises';
import type { FileSinkConfig } from '../config.js';
import type { DeliveredAlert, SendResult, Sink } from '../types.js';
import { jsonLine } from '../../util/escape.js';

export class FileSink implements Sink {
  readonly type = 'file';
  readonly maxBatch = 100;
  private handle: Promise<FileHandle> | undefined;

  constructor(
    readonly name: string,
    private readonly config: FileSinkConfig,
  ) {}

  async send(alerts: readonly DeliveredAlert[]): Promise<SendResult[]> {
    try {
      this.handle ??= open(this.config.path, 'a', 0o600);
      const fh = await this.handle;
      await fh.appendFile(alerts.map((a) => jsonLine(a) + '\n').join(''));
      await fh.sync();
      return alerts.map(() => ({ ok: true }));
    } catch (err) {
      this.handle = undefined;
      const e = err as NodeJS.ErrnoException;
      // A full disk may clear; a missing directory or no permission will not.
      const retryable = e.code === 'ENOSPC' || e.code === 'EAGAIN' || e.code === 'EBUSY' || e.code === 'EMFILE';
      return alerts.map(() => ({ ok: false, retryable, error: `file sink '${this.name}': ${e.message}` }));
    }
  }

  async close(): Promise<void> {
    const h = this.handle;
    this.handle = undefined;
    if (h) await (await h).close();
  }
}
