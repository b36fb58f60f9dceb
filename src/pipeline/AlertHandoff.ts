/**
 * Where alerts go once a record is processed. `handOff` resolves only when the alerts are durably accepted
 * (written to stdout, or persisted in the delivery outbox): a consumer advances its checkpoint past a record
 * only after the record's alerts were handed off. Adapters: ConsoleHandoff (below); the delivery outbox.
 */
import type { Writable } from 'node:stream';
import type { Alert } from './alert.js';
import { formatAlert, writeLine, type OutputFormat } from './output.js';

export interface AlertHandoff {
  handOff(alerts: readonly Alert[]): Promise<void>;
  /** Flushes and releases resources; no handOff after close. */
  close(): Promise<void>;
}

/** Prints alerts to a stream (stdout) as text or JSON Lines, honouring backpressure. */
export class ConsoleHandoff implements AlertHandoff {
  constructor(
    private readonly out: Writable,
    private readonly format: OutputFormat,
    private readonly color = false,
  ) {}

  async handOff(alerts: readonly Alert[]): Promise<void> {
    for (const a of alerts) await writeLine(this.out, formatAlert(a, this.format, this.color));
  }

  async close(): Promise<void> {
    // stdout is not ours to end
  }
}
